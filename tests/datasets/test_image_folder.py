"""Tests for ``gan_pipelines.datasets.VersionedImageFolderDataset``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError, Version, VersionNotFoundError

from gan_pipelines.datasets import VersionedImageFolderDataset
from gan_pipelines.datasets import image_folder as image_folder_module
from gan_pipelines.images import encode_png

V1 = "2024-01-01T00.00.00.000Z"
V2 = "2024-01-02T00.00.00.000Z"
TYPE = "gan_pipelines.datasets.VersionedImageFolderDataset"


def _rgb(seed: int, shape=(6, 5)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def _mask(seed: int, shape=(6, 5)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.random(shape) > 0.5, 255, 0).astype(np.uint8)


def _sample(seed: int = 0) -> dict[str, np.ndarray]:
    return {
        "train/noshadow/a.png": _rgb(seed),
        "train/mask/a.png": _mask(seed),
        "test/noshadow/b.png": _rgb(seed + 1, (4, 7)),
    }


def _materialise(loaded: dict) -> dict[str, np.ndarray]:
    return {key: loader() for key, loader in loaded.items()}


def _assert_same(actual: dict, expected: dict) -> None:
    assert list(actual) == sorted(expected)
    for key, array in expected.items():
        assert actual[key].dtype == np.uint8
        assert actual[key].shape == array.shape, key
        np.testing.assert_array_equal(actual[key], array)


# --------------------------------------------------------------------------- round trip


def test_round_trip_arrays_and_callables_unversioned(tmp_path: Path) -> None:
    data = _sample()
    to_save = {
        "train/noshadow/a.png": data["train/noshadow/a.png"],
        "train/mask/a.png": lambda: data["train/mask/a.png"],
        "test/noshadow/b.png": lambda: data["test/noshadow/b.png"],
    }
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "folder"))
    assert not dataset.exists()
    dataset.save(to_save)
    assert dataset.exists()
    assert (tmp_path / "folder" / "train" / "mask" / "a.png").is_file()

    loaded = dataset.load()
    assert all(callable(v) for v in loaded.values())
    images = _materialise(loaded)
    _assert_same(images, data)
    assert images["train/mask/a.png"].ndim == 2  # masks stay 2-D
    assert images["train/noshadow/a.png"].shape[2] == 3  # RGB stays 3-channel


def test_unversioned_save_overwrites_whole_folder(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "folder"))
    dataset.save(_sample(0))
    dataset.save({"only/one.png": _rgb(9)})
    images = _materialise(dataset.load())
    _assert_same(images, {"only/one.png": _rgb(9)})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]  # no temp leftovers


def test_load_is_sorted_and_ignores_non_images(tmp_path: Path) -> None:
    folder = tmp_path / "raw"
    (folder / "b").mkdir(parents=True)
    (folder / "a").mkdir()
    (folder / "b" / "z.png").write_bytes(encode_png(_rgb(1)))
    (folder / "a" / "y.JPG").write_bytes(encode_png(_rgb(2)))  # PIL sniffs content, not suffix
    (folder / "a" / "x.jpeg").write_bytes(encode_png(_mask(3)))
    (folder / "a" / "notes.txt").write_text("not an image")
    (folder / "README.md").write_text("readme")
    (folder / ".hidden.png").write_bytes(b"junk")

    loaded = VersionedImageFolderDataset(path=str(folder)).load()
    assert list(loaded) == ["a/x.jpeg", "a/y.JPG", "b/z.png"]
    np.testing.assert_array_equal(loaded["b/z.png"](), _rgb(1))
    assert loaded["a/x.jpeg"]().ndim == 2


# --------------------------------------------------------------------------- versions


def test_versions_layout_latest_and_pinned(tmp_path: Path) -> None:
    path = tmp_path / "shadow_raw"
    first, second = _sample(0), {"train/noshadow/c.png": _rgb(5)}
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(first)
    VersionedImageFolderDataset(path=str(path), version=Version(None, V2)).save(second)

    # <path>/<version>/<basename>/<key>; nothing else (no temp folders) left behind.
    assert sorted(p.name for p in path.iterdir()) == [V1, V2]
    for version in (V1, V2):
        assert [p.name for p in (path / version).iterdir()] == ["shadow_raw"]
    assert (path / V1 / "shadow_raw" / "train" / "mask" / "a.png").is_file()

    latest = VersionedImageFolderDataset(path=str(path), version=Version(None, None))
    assert latest.resolve_load_version() == V2
    _assert_same(_materialise(latest.load()), second)
    assert latest.list_versions(full_path=False) == [V2, V1]

    pinned = VersionedImageFolderDataset(path=str(path), version=Version(V1, None))
    _assert_same(_materialise(pinned.load()), first)


def test_versioned_save_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "folder"
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(_sample())
    again = VersionedImageFolderDataset(path=str(path), version=Version(None, V1))
    with pytest.raises(DatasetError, match="must not exist"):
        again.save({"x.png": _rgb(3)})
    _assert_same(
        _materialise(VersionedImageFolderDataset(path=str(path), version=Version(V1, None)).load()),
        _sample(),
    )


def test_autogenerated_versions(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, None))
    dataset.save(_sample())
    assert dataset.exists()
    (version,) = dataset.list_versions(full_path=False)
    assert (tmp_path / "f" / version / "f" / "train" / "noshadow" / "a.png").is_file()


def test_catalog_config_versioned_and_load_versions(tmp_path: Path) -> None:
    path = (tmp_path / "data" / "02_intermediate" / "shadow_raw").as_posix()
    config = {
        "shadow_raw": {
            "type": TYPE,
            "path": path,
            "versioned": True,
            "fs_args": {"auto_mkdir": True},
            "metadata": {"kedro-viz": {"layer": "intermediate"}},
        }
    }
    DataCatalog.from_config(config, save_version=V1).save("shadow_raw", _sample(0))
    DataCatalog.from_config(config, save_version=V2).save("shadow_raw", _sample(7))

    catalog = DataCatalog.from_config(config)
    assert catalog.exists("shadow_raw")
    _assert_same(_materialise(catalog.load("shadow_raw")), _sample(7))
    dataset = catalog["shadow_raw"]
    assert isinstance(dataset, VersionedImageFolderDataset)
    assert dataset.metadata == {"kedro-viz": {"layer": "intermediate"}}
    assert "shadow_raw" in repr(dataset)

    pinned = DataCatalog.from_config(config, load_versions={"shadow_raw": V1})
    _assert_same(_materialise(pinned.load("shadow_raw")), _sample(0))


def test_catalog_config_unversioned(tmp_path: Path) -> None:
    config = {"imgs": {"type": TYPE, "path": (tmp_path / "imgs").as_posix()}}
    catalog = DataCatalog.from_config(config)
    catalog.save("imgs", _sample())
    _assert_same(_materialise(DataCatalog.from_config(config).load("imgs")), _sample())


# --------------------------------------------------------------------------- laziness


def test_load_does_not_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, V1))
    dataset.save(_sample())
    calls: list[str] = []
    real_read = image_folder_module.read_image

    def counting_read(source, *, name=None):
        calls.append(name)
        return real_read(source, name=name)

    monkeypatch.setattr(image_folder_module, "read_image", counting_read)
    loaded = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, None)).load()
    assert calls == []
    loaded["train/mask/a.png"]()
    assert len(calls) == 1 and calls[0].endswith(f"{V1}/f/train/mask/a.png")


def test_corrupt_file_fails_only_when_called(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"))
    dataset.save(_sample())
    loaded = dataset.load()
    target = tmp_path / "f" / "train" / "noshadow" / "a.png"
    target.write_bytes(b"not a png")
    np.testing.assert_array_equal(loaded["train/mask/a.png"](), _sample()["train/mask/a.png"])
    with pytest.raises(ValueError, match=r"train/noshadow/a\.png: not a readable image"):
        loaded["train/noshadow/a.png"]()


def test_save_streams_callables_one_at_a_time(tmp_path: Path) -> None:
    order: list[str] = []

    def make(key: str, seed: int):
        def produce() -> np.ndarray:
            order.append(key)
            return _rgb(seed)

        return produce

    keys = [f"k/{i:03d}.png" for i in range(5)]
    VersionedImageFolderDataset(path=str(tmp_path / "f")).save(
        {key: make(key, i) for i, key in enumerate(keys)}
    )
    assert order == keys


# --------------------------------------------------------------------------- atomicity


def _failing_data(fail_at: int = 2) -> dict:
    def boom() -> np.ndarray:
        raise RuntimeError("renderer crashed")

    data: dict = {f"train/noshadow/{i}.png": _rgb(i) for i in range(4)}
    data[f"train/noshadow/{fail_at}.png"] = boom
    return data


def test_failed_versioned_save_leaves_no_loadable_version(tmp_path: Path) -> None:
    path = tmp_path / "f"
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(_sample())

    failing = VersionedImageFolderDataset(path=str(path), version=Version(None, V2))
    with pytest.raises(DatasetError, match="renderer crashed"):
        failing.save(_failing_data())

    latest = VersionedImageFolderDataset(path=str(path), version=Version(None, None))
    assert latest.resolve_load_version() == V1
    _assert_same(_materialise(latest.load()), _sample())
    assert not (path / V2 / "f").exists()
    assert not (path / V2).exists()  # temp folder (and empty version folder) cleaned up


def test_failed_first_save_leaves_nothing(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, V1))
    with pytest.raises(DatasetError, match="renderer crashed"):
        dataset.save(_failing_data(fail_at=3))
    assert not dataset.exists()
    with pytest.raises(VersionNotFoundError, match="No saved version"):
        VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, None)).load()


def test_crash_leftover_partial_folder_is_never_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hard crash (no cleanup) leaves the hidden partial folder, which is never resolved."""
    path = tmp_path / "f"
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(_sample())
    monkeypatch.setattr(VersionedImageFolderDataset, "_remove_quietly", lambda self, p: None)
    monkeypatch.setattr(VersionedImageFolderDataset, "_remove_if_empty", lambda self, p: None)
    with pytest.raises(DatasetError):
        VersionedImageFolderDataset(path=str(path), version=Version(None, V2)).save(
            _failing_data()
        )
    leftovers = list((path / V2).iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".f.partial-")
    assert any(leftovers[0].rglob("*.png"))  # it really is half-written

    latest = VersionedImageFolderDataset(path=str(path), version=Version(None, None))
    assert latest.resolve_load_version() == V1
    assert latest.list_versions(full_path=False) == [V1]
    _assert_same(_materialise(latest.load()), _sample())


def test_failed_unversioned_save_keeps_previous_folder(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"))
    dataset.save(_sample())
    with pytest.raises(DatasetError, match="renderer crashed"):
        dataset.save(_failing_data())
    _assert_same(_materialise(dataset.load()), _sample())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


def test_stray_file_with_folder_name_is_not_a_version(tmp_path: Path) -> None:
    path = tmp_path / "f"
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(_sample())
    (path / V2).mkdir()
    (path / V2 / "f").write_text("a file, not a folder")
    latest = VersionedImageFolderDataset(path=str(path), version=Version(None, None))
    assert latest.resolve_load_version() == V1


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("/abs/a.png", "absolute"),
        ("C:/a.png", "absolute"),
        ("../a.png", r"'\.\.'"),
        ("train/../../a.png", r"'\.\.'"),
        ("train//a.png", "empty"),
        ("./a.png", "empty or '.'"),
        ("train\\a.png", "backslash"),
        ("train/a.jpg", "must end with '.png'"),
        (".hidden/a.png", "hidden"),
        ("", "empty"),
        (3, "must be strings"),
    ],
)
def test_invalid_keys_are_rejected(tmp_path: Path, key, reason: str) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, V1))
    with pytest.raises(DatasetError, match=reason):
        dataset.save({"ok/a.png": _rgb(0), key: _rgb(1)})
    assert not (tmp_path / "f").exists()  # validated before anything is written


def test_empty_dict_is_refused(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"), version=Version(None, V1))
    with pytest.raises(DatasetError, match="empty image folder"):
        dataset.save({})
    assert not (tmp_path / "f").exists()


def test_bad_values_are_rejected(tmp_path: Path) -> None:
    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"))
    with pytest.raises(DatasetError, match="'a.png' .* numpy array"):
        dataset.save({"a.png": "not an array"})
    with pytest.raises(DatasetError, match="'a.png' for .* cannot be saved as PNG .*float32"):
        dataset.save({"a.png": np.zeros((2, 2), dtype=np.float32)})
    assert not (tmp_path / "f").exists()


def test_missing_folder_unversioned(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(DatasetError, match=f"{missing}.*does not exist"):
        VersionedImageFolderDataset(path=str(missing)).load()


def test_missing_folder_versioned(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(VersionNotFoundError, match=f"No saved version of image folder '{missing}'"):
        VersionedImageFolderDataset(path=str(missing), version=Version(None, None)).load()


def test_missing_pinned_version(tmp_path: Path) -> None:
    path = tmp_path / "f"
    VersionedImageFolderDataset(path=str(path), version=Version(None, V1)).save(_sample())
    dataset = VersionedImageFolderDataset(path=str(path), version=Version(V2, None))
    assert not dataset.exists()
    with pytest.raises(DatasetError, match=f"{path / V2 / 'f'}' \\(version {V2}\\) does not exist"):
        dataset.load()


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match="contains no image files"):
        VersionedImageFolderDataset(path=str(tmp_path / "f")).load()


def test_relative_path_and_describe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dataset = VersionedImageFolderDataset(
        path="data/02_intermediate/shadow_raw", version=Version(None, V1)
    )
    assert dataset._describe()["path"] == "data/02_intermediate/shadow_raw"
    dataset.save(_sample())
    assert os.path.isdir(f"data/02_intermediate/shadow_raw/{V1}/shadow_raw/train")
    _assert_same(
        _materialise(
            VersionedImageFolderDataset(
                path="data/02_intermediate/shadow_raw", version=Version(None, None)
            ).load()
        ),
        _sample(),
    )


def test_progress_bar_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list = []
    real_tqdm = image_folder_module.tqdm

    def spy(*args, **kwargs):
        seen.append(kwargs["disable"])
        return real_tqdm(*args, **kwargs)

    monkeypatch.setattr(image_folder_module, "tqdm", spy)
    tiny = np.zeros((1, 1), dtype=np.uint8)
    VersionedImageFolderDataset(path=str(tmp_path / "small")).save({"a.png": tiny})
    VersionedImageFolderDataset(path=str(tmp_path / "big")).save(
        {f"{i:04d}.png": tiny for i in range(image_folder_module.PROGRESS_BAR_THRESHOLD + 1)}
    )
    assert seen == [True, None]


def test_non_local_fsspec_filesystem() -> None:
    """Versioning, atomic rename and lazy loading also work on a non-local fsspec filesystem."""
    import uuid

    import fsspec

    bucket = f"/imgtest-{uuid.uuid4().hex}"
    root = f"memory://{bucket}/folder"
    try:
        VersionedImageFolderDataset(path=root, version=Version(None, V1)).save(_sample(0))
        VersionedImageFolderDataset(path=root, version=Version(None, V2)).save(_sample(1))
        latest = VersionedImageFolderDataset(path=root, version=Version(None, None))
        assert latest.list_versions(full_path=False) == [V2, V1]
        _assert_same(_materialise(latest.load()), _sample(1))
        pinned = VersionedImageFolderDataset(path=root, version=Version(V1, None))
        _assert_same(_materialise(pinned.load()), _sample(0))
    finally:
        fsspec.filesystem("memory").rm(bucket, recursive=True)


def test_loaders_are_picklable(tmp_path: Path) -> None:
    """ParallelRunner sends loaded values between processes."""
    import pickle

    dataset = VersionedImageFolderDataset(path=str(tmp_path / "f"))
    dataset.save(_sample())
    loaded = pickle.loads(pickle.dumps(dataset.load()))
    _assert_same(_materialise(loaded), _sample())


def test_snapshot_images_are_decoded_as_shown(tmp_path: Path) -> None:
    """What preprocess reads goes through the one decoder: EXIF orientation, 16-bit scaling."""
    from image_files import jpeg_with_orientation, png_16bit_grey, scene

    folder = tmp_path / "raw" / V1 / "raw" / "train"
    shown = scene(24, 32)
    (folder / "photo").mkdir(parents=True)
    (folder / "photo" / "a.jpg").write_bytes(jpeg_with_orientation(shown, 3))
    grey = (np.arange(24 * 32).reshape(24, 32) % 256).astype(np.uint8)
    (folder / "photo" / "b.png").write_bytes(png_16bit_grey(grey.astype(np.uint16) * 257))
    loaded = VersionedImageFolderDataset(path=str(tmp_path / "raw"), version=Version(None, None)).load()
    assert np.abs(loaded["train/photo/a.jpg"]().astype(int) - shown).mean() < 3
    np.testing.assert_array_equal(loaded["train/photo/b.png"](), grey)
