import numpy as np
import pytest

from gan_pipelines.image_folders import image_key
from gan_pipelines.families.shadow.nodes.preprocess import preprocess_shadow_data
from gan_pipelines.stages.preprocess import choose_val_names


def _raw_folder(names_by_split, size=(48, 40)):
    rng = np.random.default_rng(0)
    images = {}
    for split, names in names_by_split.items():
        for name in names:
            rgb = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            mask = np.zeros(size, np.uint8)
            mask[10:30, 5:25] = 255
            images[image_key(split, "noshadow", name)] = lambda a=rgb: a
            images[image_key(split, "shadow", name)] = lambda a=rgb: a // 2
            for kind in ("mask", "robject", "rshadow"):
                images[image_key(split, kind, name)] = lambda m=mask: m
    return images


def test_preprocess_resizes_and_splits_without_touching_test():
    raw = _raw_folder({"train": [f"s{i}" for i in range(10)], "test": ["t0", "t1"]})
    params = {"resolution": 32, "val_fraction": 0.2, "seed": 3}
    out, summary = preprocess_shadow_data(raw, params)

    assert summary["num_samples"] == {"train": 8, "val": 2, "test": 2}
    splits = {key.split("/")[0] for key in out}
    assert splits == {"train", "val", "test"}
    # Test samples stay in test; val comes only from train.
    assert {k.split("/")[2] for k in out if k.startswith("test/")} == {"t0.png", "t1.png"}
    val_names = {k.split("/")[2] for k in out if k.startswith("val/")}
    assert val_names and not val_names & {"t0.png", "t1.png"}

    rgb = out[image_key("test", "noshadow", "t0")]()
    mask = out[image_key("test", "mask", "t0")]()
    assert rgb.shape == (32, 32, 3) and rgb.dtype == np.uint8
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 255}


def test_val_split_is_seeded_and_order_independent():
    names = [f"s{i}" for i in range(50)]
    first = choose_val_names(names, 0.1, seed=7)
    assert first == choose_val_names(list(reversed(names)), 0.1, seed=7)
    assert len(first) == 5
    assert first != choose_val_names(names, 0.1, seed=8)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"resolution": 100, "val_fraction": 0.1}, "preprocess.resolution"),
        ({"resolution": 64, "val_fraction": 1.5}, "preprocess.val_fraction"),
        ({"resolution": 64, "val_fraction": 0.1, "resolutoin": 3}, "preprocess.resolutoin"),
        ({"val_fraction": 0.1}, "preprocess.resolution"),
    ],
)
def test_bad_parameters_are_named(params, message):
    raw = _raw_folder({"train": ["a", "b"]})
    with pytest.raises(ValueError, match=message):
        preprocess_shadow_data(raw, params)
