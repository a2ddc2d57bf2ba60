"""Issue 24, items 3, 5, 7, 8 and 13: what a user's own paired data meets at ingest and at
predict (label ranges, instance maps as a set, palettes and don't-care values kept in the
checkpoint, zips, a missing test split, 16-bit instance ids, JPEG colour-coded label maps)."""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_pipelines.families.paired.config import input_config, network_configs
from gan_pipelines.families.paired.layout import KIND_TYPES
from gan_pipelines.families.paired.networks import instance_boundaries
from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data
from gan_pipelines.families.paired.predict import PairedPredictor, predict_folder
from gan_pipelines.models.generators import build_generator

CONF = Path(__file__).resolve().parents[3] / "conf" / "base"
# Facade-style palette (class index = position); strongly contrasting colours like CMP facades'.
PALETTE = [(0, 0, 170), (0, 0, 255), (0, 85, 255), (255, 0, 0), (255, 255, 0), (0, 255, 255), (170, 255, 85),
           (255, 85, 0)]


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)


def _classes(size=64, seed=0, label_nc=8, block=8):
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, label_nc, (size // block, size // block)), np.ones((block, block), int)).astype(np.uint8)


def _bundle(label_nc=6, labels_meta=None):
    params = {"input_kind": "label_map", "label_nc": label_nc, "model": {"type": "unet", "num_downs": 4, "ngf": 8},
              "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 2}}
    cfg = input_config(params, KIND_TYPES, "p")
    generator, _ = network_configs(params, cfg, "p")
    torch.manual_seed(0)
    net = build_generator(generator)
    meta = {"family": "pix2pix", "network": "generator", "resolution": 32, "trained_at": "2026-01-01T00:00:00Z"}
    if labels_meta is not None:
        meta["labels"] = labels_meta
    return {"state_dicts": {"generator": net.state_dict()},
            "model_config": {"generator": generator, "input": cfg, "target_kind": "picture"}, "meta": meta}


# ---------------------------------------------------------------------------------------------
# 3. PairedPredictor.predict checks dtype and range


def test_predict_refuses_out_of_range_and_fractional_labels_naming_them():
    predictor = PairedPredictor(_bundle(label_nc=6), "pix2pix", device="cpu")
    good = np.zeros((32, 32), np.int64)
    good[16:] = 5
    assert predictor.predict(good).shape == (32, 32, 3)
    for bad_value in (9, 200, -1):
        labels = good.copy()
        labels[:2, :3] = bad_value
        with pytest.raises(ValueError, match=rf"out of range 0\.\.5: {bad_value} \(6 px\)"):
            predictor.predict(labels)
    with pytest.raises(ValueError, match=r"float64.*2\.7"):
        predictor.predict(np.full((32, 32), 2.7))
    labels[:2, :3] = 9
    with pytest.raises(ValueError, match=r"^street.png: label value\(s\) out of range 0\.\.5: 9 \(6 px\)"):
        predictor.predict(labels, name="street.png")
    # a float map of whole numbers is the class indices it holds
    np.testing.assert_array_equal(predictor.predict(good.astype(np.float32)), predictor.predict(good))


# ---------------------------------------------------------------------------------------------
# 5. Instance maps as a set; pix2pixhd's ingest and train defaults agree


def _folders_with_instances(root, names=("a", "b", "c"), with_instance=("a", "b"), splits=("train", "test")):
    for split in splits:
        for name in names:
            _save(root / split / "A" / f"{name}.png", _classes(32, label_nc=6))
            _save(root / split / "B" / f"{name}.png", np.full((32, 32, 3), 90, np.uint8))
            if name in with_instance:
                _save(root / split / "instance" / f"{name}.png", _classes(32, seed=1, label_nc=30))


def test_ingest_refuses_samples_without_an_instance_map_naming_them(tmp_path):
    _folders_with_instances(tmp_path)
    params = {"source": "folders", "path": str(tmp_path), "label_nc": 6, "instances": True}
    with pytest.raises(ValueError) as error:
        ingest_paired_data(params, family="pix2pixhd")
    message = str(error.value)
    assert "train/c" in message and "test/c" in message and "no instance map" in message
    assert "train/a" not in message


def test_pix2pixhd_defaults_refuse_user_data_without_instances_at_ingest_naming_both_keys(tmp_path):
    _folders_with_instances(tmp_path, with_instance=())
    from kedro.config import OmegaConfigLoader

    # conf/base as Kedro loads it (pix2pixhd.ingest is the shared _label_to_photo.ingest_with_instances)
    conf = OmegaConfigLoader(str(CONF.parent), base_env="base", default_run_env="base")["parameters"]["pix2pixhd"]
    params, train = dict(conf["ingest"]), conf["train"]
    assert train["instance_edges"] is True
    params.update(source="folders", path=str(tmp_path))
    with pytest.raises(ValueError) as error:
        ingest_paired_data(params, family="pix2pixhd")
    message = str(error.value)
    assert "pix2pixhd.ingest.instances" in message and "pix2pixhd.train.instance_edges" in message
    assert "instance/" in message


def test_preprocess_refuses_instance_edges_without_instance_maps_naming_both_keys(tmp_path):
    from gan_pipelines.families.paired.nodes.preprocess import preprocess_paired_data

    _folders_with_instances(tmp_path, with_instance=())
    raw, _, _ = ingest_paired_data({"source": "folders", "path": str(tmp_path), "label_nc": 6, "instances": False},
                                   family="pix2pixhd")
    loaders = {key: (lambda a=array: a) for key, array in raw.items()}
    train = {"input_kind": "label_map", "label_nc": 6, "instance_edges": True, "instance_kind": "instance_map",
             "model": {"type": "pix2pixhd", "ngf": 8, "n_downsampling": 2, "n_blocks": 1}}
    with pytest.raises(ValueError) as error:
        preprocess_paired_data(loaders, {"resolution": 32, "val_fraction": 0.5, "seed": 0}, train, family="pix2pixhd")
    message = str(error.value)
    assert "pix2pixhd.ingest.instances" in message and "pix2pixhd.train.instance_edges" in message


# ---------------------------------------------------------------------------------------------
# 7. Predict reads what ingest accepted: palette and ignore value from the checkpoint


def test_label_meta_keeps_palette_ignore_value_and_tolerance(tmp_path):
    from gan_pipelines.families.paired.user_data import label_meta

    (tmp_path / "palette.json").write_text(json.dumps([list(c) for c in PALETTE[:6]]))
    meta = label_meta({"source": "aligned", "label_nc": 6, "ignore_value": 255,
                       "palette_path": str(tmp_path / "palette.json"), "palette_tolerance": 40}, "pix2pix.ingest")
    assert meta == {"label_nc": 6, "ignore_value": 255, "palette": [list(c) for c in PALETTE[:6]],
                    "palette_tolerance": 40}
    assert label_meta({"source": "synthetic", "label_nc": 6}, "pix2pix.ingest") == {
        "label_nc": 6, "ignore_value": None, "palette": None, "palette_tolerance": 0}


def test_predict_folder_reads_colour_coded_and_dont_care_maps_with_the_checkpoint_settings(tmp_path):
    palette = [list(c) for c in PALETTE[:6]]
    classes = _classes(32, label_nc=6)
    with_ignore = classes.copy()
    with_ignore[:4, :4] = 255
    # index maps with don't-care pixels (ignore_value 255)
    predictor = PairedPredictor(_bundle(6, {"label_nc": 6, "ignore_value": 255, "palette": None,
                                            "palette_tolerance": 0}), "pix2pix", device="cpu")
    _save(tmp_path / "index" / "x.png", with_ignore)
    predict_folder(predictor, tmp_path / "index", tmp_path / "out_index")
    written = np.asarray(Image.open(tmp_path / "out_index" / "x.png"))
    np.testing.assert_array_equal(written, predictor.predict(with_ignore))
    # colour-coded maps (PNG exact, JPEG within the tolerance: read the way ingest reads them)
    predictor = PairedPredictor(_bundle(6, {"label_nc": 6, "ignore_value": None, "palette": palette,
                                            "palette_tolerance": 40}), "pix2pix", device="cpu")
    _save(tmp_path / "colour" / "p.png", np.asarray(PALETTE, np.uint8)[classes])
    _save(tmp_path / "colour" / "j.jpg", np.asarray(PALETTE, np.uint8)[classes], quality=95)
    summary = predict_folder(predictor, tmp_path / "colour", tmp_path / "out_colour")
    assert summary["num_images"] == 2
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out_colour" / "p.png")), predictor.predict(classes))


def test_the_trained_checkpoint_keeps_how_ingest_read_label_maps_and_predict_uses_it(tmp_path, one_thread):
    from gan_pipelines.families.paired.nodes.train import train_generator

    (tmp_path / "palette.json").write_text(json.dumps([list(c) for c in PALETTE[:3]]))
    ingest = {"source": "aligned", "label_nc": 3, "palette_path": str(tmp_path / "palette.json"),
              "palette_tolerance": 40, "ignore_value": 255}
    labels = np.stack([_classes(32, seed=k, label_nc=3) for k in range(4)])
    model_input = {f"{split}/{kind}/s{k}.png": (lambda a=array[k]: a) for split in ("train", "val") for k in range(2)
                   for kind, array in (("label_map", labels), ("picture", np.asarray(PALETTE, np.uint8)[labels]))}
    params = {"input_kind": "label_map", "batch_size": 2, "augmentation": None,  # label_nc: the ingest's
              "model": {"type": "unet", "num_downs": 3, "ngf": 4}, "discriminator": {"type": "patchgan", "ndf": 4,
                                                                                     "n_layers": 1},
              "training": {"epochs": 1, "device": "cpu", "precision": "fp32", "progress": False, "cpu_threads": 1,
                           "scheduler": "none", "monitor": None, "sample_every": 1000}}
    bundle, _ = train_generator(model_input, params, ingest, family="pix2pix")
    assert bundle["meta"]["labels"] == {"label_nc": 3, "ignore_value": 255, "palette_tolerance": 40,
                                        "palette": [list(c) for c in PALETTE[:3]]}
    predictor = PairedPredictor(bundle, "pix2pix", device="cpu")
    _save(tmp_path / "mine" / "m.jpg", np.asarray(PALETTE, np.uint8)[labels[0]], quality=95)
    assert predict_folder(predictor, tmp_path / "mine", tmp_path / "out")["num_images"] == 1
    with_ignore = labels[0].copy()
    with_ignore[:3] = 255
    assert predictor.predict(with_ignore).shape == (32, 32, 3)


# ---------------------------------------------------------------------------------------------
# 8. Zips, a missing test split, Cityscapes-style instance ids


def _aligned(root, splits=("train", "test"), names=("a", "b")):
    for split in splits:
        for k, name in enumerate(names):
            pair = np.concatenate([np.repeat(_classes(32, seed=k, label_nc=6)[:, :, None], 3, axis=2),
                                   np.full((32, 32, 3), 40 * k, np.uint8)], axis=1)
            _save(root / split / f"{name}.png", pair)


def test_a_zip_is_ingested_like_the_folder_it_holds(tmp_path):
    _aligned(tmp_path / "facades")
    archive = tmp_path / "facades.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted((tmp_path / "facades").rglob("*.png")):
            zf.write(file, "facades/" + file.relative_to(tmp_path / "facades").as_posix())  # one wrapper folder
        zf.writestr("__MACOSX/facades/._a.png", b"litter")
    params = {"source": "aligned", "label_nc": 6}
    from_folder, _, _ = ingest_paired_data({**params, "path": str(tmp_path / "facades")}, family="pix2pix")
    from_zip, skipped, summary = ingest_paired_data({**params, "path": str(archive)}, family="pix2pix")
    assert sorted(from_zip) == sorted(from_folder) and skipped.empty
    assert summary["num_samples"] == {"train": 2, "test": 2}
    for key in from_folder:
        np.testing.assert_array_equal(from_zip[key], from_folder[key])
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"bad.zip.*not a folder or a valid \.zip"):
        ingest_paired_data({**params, "path": str(tmp_path / "bad.zip")}, family="pix2pix")


def test_a_folder_without_a_test_split_is_refused_at_ingest_naming_it(tmp_path):
    _aligned(tmp_path / "mine", splits=("train",))
    with pytest.raises(ValueError, match=r"mine.*no test/ split"):
        ingest_paired_data({"source": "aligned", "path": str(tmp_path / "mine"), "label_nc": 6}, family="pix2pix")


def test_sixteen_bit_instance_ids_are_relabelled_keeping_boundaries_exact(tmp_path):
    ids = (_classes(32, seed=3, label_nc=12, block=4).astype(np.int64) * 1000 + 26001).astype(np.uint16)  # Cityscapes style
    ids[:8, :8] = 7
    _folders_with_instances(tmp_path, names=("a",), with_instance=())
    for split in ("train", "test"):
        (tmp_path / split / "instance").mkdir()
        Image.fromarray(ids).save(tmp_path / split / "instance" / "a.png")  # a 16-bit grey PNG
    assert int(ids.max()) > 255
    images, _, _ = ingest_paired_data({"source": "folders", "path": str(tmp_path), "label_nc": 6, "instances": True},
                                      family="pix2pixhd")
    relabelled = images["train/instance_map/a.png"]
    assert relabelled.dtype == np.uint8 and int(relabelled.max()) == len(np.unique(ids)) - 1
    edges = lambda a: instance_boundaries(torch.from_numpy(a.astype(np.int64))[None, None]).numpy()  # noqa: E731
    np.testing.assert_array_equal(edges(relabelled), edges(ids))


# ---------------------------------------------------------------------------------------------
# 13. JPEG colour-coded label maps (CMP facades' own format)


def _facade_folder(root, count=3, quality=95):
    for split in ("train", "test"):
        for k in range(count):
            classes = _classes(64, seed=10 * k + (split == "test"))
            photo = np.asarray(PALETTE, np.uint8)[classes] // 2 + 30
            labels = np.asarray(PALETTE, np.uint8)[classes]
            _save(root / split / f"{k}.jpg", np.concatenate([photo, labels], axis=1), quality=quality)


def test_jpeg_colour_labels_go_to_the_nearest_palette_colour_and_far_pixels_are_reported(tmp_path, caplog):
    _facade_folder(tmp_path / "facades")
    (tmp_path / "palette.json").write_text(json.dumps([list(c) for c in PALETTE]))
    params = {"source": "aligned", "direction": "BtoA", "path": str(tmp_path / "facades"), "label_nc": 8,
              "palette_path": str(tmp_path / "palette.json"), "palette_tolerance": 40}
    with caplog.at_level("INFO"):
        images, skipped, summary = ingest_paired_data(params, family="pix2pix")
    assert skipped.empty and summary["num_samples"] == {"train": 3, "test": 3}
    truth = _classes(64, seed=0)
    recovered = (images["train/label_map/0.png"] == truth).mean()
    assert recovered > 0.9
    far = summary["palette_far_pixels"]
    assert far["tolerance"] == 40 and 0.05 < far["share"] < 0.5 and 0.05 < far["max_share"] < 0.5
    assert far["max_file"].endswith(".jpg")
    assert "farther than 40 from every palette colour" in caplog.text


def test_a_picture_whose_colours_do_not_match_the_palette_is_refused_with_counts(tmp_path):
    _facade_folder(tmp_path / "facades", count=1)
    wrong = [[128 + 10 * k, 128, 128] for k in range(8)]  # greys: nothing like the label colours
    (tmp_path / "palette.json").write_text(json.dumps(wrong))
    params = {"source": "aligned", "direction": "BtoA", "path": str(tmp_path / "facades"), "label_nc": 8,
              "palette_path": str(tmp_path / "palette.json"), "palette_tolerance": 40}
    with pytest.raises(ValueError) as error:
        ingest_paired_data(params, family="pix2pix")
    message = str(error.value)
    assert "train/0" in message and "0.jpg" in message
    assert "of 4096 pixels" in message and "wrong palette" in message
