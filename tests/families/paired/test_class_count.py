"""One key for the class count: <family>.ingest.label_nc. train and train_judge derive theirs
from it and refuse their old keys; training label maps outside the class range are refused
before any training step, naming the value."""

import numpy as np
import pytest

from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data, ingested_class_count
from gan_pipelines.families.paired.nodes.train import train_generator, with_ingest_class_count
from gan_pipelines.families.paired.nodes.train_judge import train_paired_judge

TRAIN = {"input_kind": "label_map", "batch_size": 2, "augmentation": None,
         "model": {"type": "unet", "num_downs": 3, "ngf": 4}, "discriminator": {"type": "patchgan", "ndf": 4, "n_layers": 1},
         "training": {"epochs": 1, "device": "cpu", "precision": "fp32", "progress": False, "cpu_threads": 1,
                      "scheduler": "none", "monitor": None, "sample_every": 1000}}
USER_INGEST = {"source": "folders", "path": "x", "label_nc": 5, "ignore_value": 255}


def _model_input(max_class):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, max_class + 1, (4, 32, 32)).astype(np.uint8)
    pictures = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    return {f"{split}/{kind}/s{k}.png": (lambda a=array[k]: a) for split in ("train", "val") for k in range(2)
            for kind, array in (("label_map", labels), ("picture", pictures))}


def test_the_class_count_comes_from_the_ingest():
    params, ignore = with_ingest_class_count(TRAIN, USER_INGEST, "pix2pix")
    assert params["label_nc"] == 5 and ignore == 255
    assert ingested_class_count({"source": "synthetic", "label_nc": None}, "pix2pix") == (6, None)
    assert ingested_class_count({"source": "synthetic", "label_nc": 6}, "pix2pix") == (6, None)


def test_the_old_keys_are_refused_naming_the_one_key():
    with pytest.raises(ValueError, match=r"pix2pix\.train\.label_nc is not a parameter any more.*pix2pix\.ingest\.label_nc"):
        with_ingest_class_count({**TRAIN, "label_nc": 5}, USER_INGEST, "pix2pix")
    with pytest.raises(ValueError, match=r"spade\.train_judge\.num_classes is not a parameter any more.*spade\.ingest\.label_nc"):
        train_paired_judge({}, {"num_classes": 6}, {"source": "synthetic"}, family="spade")
    with pytest.raises(ValueError, match=r"spade\.train_judge\.ignore_index .*spade\.ingest\.ignore_value"):
        train_paired_judge({}, {"ignore_index": 255}, {"source": "synthetic"}, family="spade")
    with pytest.raises(ValueError, match=r"pix2pix\.ingest\.label_nc is null but pix2pix\.train trains on label maps"):
        with_ingest_class_count(TRAIN, {**USER_INGEST, "label_nc": None}, "pix2pix")


def test_synthetic_data_refuses_another_class_count_at_ingest():
    with pytest.raises(ValueError, match=r"pix2pix\.ingest\.label_nc is 5 but the synthetic label maps have 6 classes"):
        ingest_paired_data({"source": "synthetic", "label_nc": 5, "synthetic": {"num_train": 1, "num_test": 1}},
                           family="pix2pix")


def test_label_maps_beyond_the_class_count_are_refused_before_training(monkeypatch):
    """Before: class 5 with label_nc 5 became an all-zero one-hot and trained without a word."""
    import gan_pipelines.families.paired.nodes.train as module

    monkeypatch.setattr(module, "run_training", lambda *a, **k: pytest.fail("training started"))
    with pytest.raises(ValueError, match=r"pix2pix\.ingest\.label_nc is 5, but .*5") as error:
        train_generator(_model_input(max_class=5), TRAIN, USER_INGEST, family="pix2pix")
    assert "the train label_map maps" in str(error.value)


def test_the_ignore_value_is_allowed_in_training_label_maps(monkeypatch):
    import gan_pipelines.families.paired.nodes.train as module

    class Started(Exception):
        pass

    def started(*args, **kwargs):
        raise Started

    monkeypatch.setattr(module, "run_training", started)
    model_input = _model_input(max_class=4)
    labels = model_input["train/label_map/s0.png"]().copy()
    labels[:4] = 255
    model_input["train/label_map/s0.png"] = lambda: labels
    with pytest.raises(Started):
        train_generator(model_input, TRAIN, USER_INGEST, family="pix2pix")
