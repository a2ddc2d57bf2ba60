"""The train_judge node: a segmenter trained on real images, saved as a self-describing bundle."""

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.families.paired.judge import judge_from_bundle, train_judge
from gan_pipelines.metrics.segmentation import class_confusion_matrix, segmentation_scores

from .judge_data import JUDGE_PARAMS, make_folder, stacked, trained_judge

PARAMS = JUDGE_PARAMS


@pytest.fixture(scope="module")
def trained():
    return trained_judge()


def test_bundle_describes_itself(trained):
    _, bundle, history = trained
    assert bundle["meta"]["family"] == "segmentation_judge"
    assert bundle["meta"]["resolution"] == [32, 32]
    assert bundle["meta"]["num_classes"] == 3 and bundle["meta"]["ignore_index"] is None
    assert bundle["model_config"]["segmenter"]["num_classes"] == 3
    assert set(bundle["state_dicts"]) == {"segmenter"}
    assert isinstance(history, pd.DataFrame) and len(history) == 10
    assert {"val_miou", "val_pixel_acc", "val_mean_class_acc", "train_ce"} <= set(history.columns)
    # the best epoch is the one with the highest val mIoU
    assert bundle["val_metrics"]["miou"] == pytest.approx(history["val_miou"].max())


def test_judge_learns_the_classes(trained):
    folder, bundle, _ = trained
    judge = judge_from_bundle(bundle, device="cpu")
    images, labels = stacked(folder, "test", "picture"), stacked(folder, "test", "label_map")
    scores = segmentation_scores(class_confusion_matrix(judge.predict(images), labels, 3))
    majority = float((labels == 0).mean())
    assert scores["pixel_acc"] > max(0.85, majority + 0.1)
    assert scores["miou"] > 0.6
    # grey images lose the class colours: the judge must find much less
    grey = np.repeat(images.mean(axis=3, keepdims=True).astype(np.uint8), 3, axis=3)
    grey_scores = segmentation_scores(class_confusion_matrix(judge.predict(grey), labels, 3))
    assert grey_scores["miou"] < scores["miou"] - 0.2


def test_label_values_out_of_range_are_refused_before_training():
    folder = make_folder({"train": 2, "val": 1})
    bad = folder["train/label_map/001.png"]().copy()
    bad[:2, :3] = 7
    folder["train/label_map/001.png"] = lambda: bad
    with pytest.raises(ValueError, match=r"train label_map maps holds values outside .*7 \(6 pixels\)"):
        train_judge(folder, PARAMS)


def test_params_are_checked():
    folder = make_folder({"train": 2, "val": 1})
    with pytest.raises(ValueError, match="train_judge.epochs: unknown parameter"):
        train_judge(folder, {**PARAMS, "epochs": 3})
    with pytest.raises(ValueError, match="ignore_index 1 is one of the classes"):
        train_judge(folder, {**PARAMS, "ignore_index": 1})
    with pytest.raises(ValueError, match="uint8 RGB images"):
        train_judge(folder, {**PARAMS, "image_kind": "label_map"}, section="pix2pix.train_judge")
    with pytest.raises(ValueError, match="not multiples of 8"):
        train_judge(make_folder({"train": 2, "val": 1}, size=36), PARAMS)


def test_dont_care_pixels_train_and_are_recorded():
    folder = make_folder({"train": 4, "val": 2}, seed=3)
    for key in [k for k in folder if "/label_map/" in k]:
        labels = folder[key]().copy()
        labels[:4] = 255
        folder[key] = (lambda a: (lambda: a))(labels)
    params = {**JUDGE_PARAMS, "ignore_index": 255, "training": {**JUDGE_PARAMS["training"], "epochs": 1}}
    bundle, history = train_judge(folder, params)
    assert bundle["meta"]["ignore_index"] == 255 and np.isfinite(history["val_miou"]).all()
    judge = judge_from_bundle(bundle, device="cpu")
    assert judge.ignore_index == 255 and judge.predict(stacked(folder, "val", "picture")).max() < 3
    everything_ignored = dict(folder)
    for key in [k for k in folder if k.startswith("val/label_map/")]:
        everything_ignored[key] = (lambda a: (lambda: a))(np.full((32, 32), 255, np.uint8))
    with pytest.raises(ValueError, match="every pixel of the val label_map maps is the ignore value 255"):
        train_judge(everything_ignored, params)


JITTER = {"hue": 0.5, "saturation": 0.5, "brightness": 0.3, "grey_p": 0.2}


def test_colour_jitter_changes_colours_never_labels():
    from gan_pipelines.families.paired.config import JudgeAugmentationParams
    from gan_pipelines.families.paired.judge import _augmentation

    augment = _augmentation(JudgeAugmentationParams.model_validate({"hflip_p": 0.0, "colour_jitter": JITTER}))
    image = np.zeros((8, 8, 3), np.uint8)
    image[:, :4] = (200, 40, 40)  # a red object on a grey ground
    image[:, 4:] = (90, 90, 90)
    labels = np.zeros((8, 8), np.int64)
    labels[:, :4] = 2
    hues = set()
    for seed in range(20):
        out = augment({"image": image, "target": labels}, seed)
        np.testing.assert_array_equal(out["target"], labels)
        assert out["image"].dtype == np.uint8 and out["image"].shape == image.shape
        red, green, blue = (int(v) for v in out["image"][0, 0])
        hues.add(int(np.argmax([red, green, blue])) if max(red, green, blue) - min(red, green, blue) > 20 else -1)
    # the object's paint is no longer a class cue: its dominant channel varies, and some are grey
    assert len(hues) >= 3, hues
    same_seed = [augment({"image": image, "target": labels}, 7)["image"] for _ in range(2)]
    np.testing.assert_array_equal(*same_seed)
    # flips still move image and labels together
    flip = _augmentation(JudgeAugmentationParams.model_validate({"hflip_p": 1.0, "colour_jitter": None}))
    out = flip({"image": image, "target": labels}, 0)
    np.testing.assert_array_equal(out["image"], image[:, ::-1])
    np.testing.assert_array_equal(out["target"], labels[:, ::-1])
    assert _augmentation(JudgeAugmentationParams.model_validate({"hflip_p": 0.0})) is None


@pytest.mark.parametrize(("jitter", "message"), [
    ({"hue": 0.7}, r"colour_jitter.hue must be a number in \[0, 0.5\]"),
    ({"saturation": -1}, r"colour_jitter.saturation must be a number in \[0, 1.0\]"),
    ({"grey_p": True}, r"colour_jitter.grey_p"),
    ({"tint": 0.1}, "colour_jitter.tint: unknown parameter"),
    ("strong", "colour_jitter: Input should be a valid dictionary"),
])
def test_colour_jitter_params_are_checked(jitter, message):
    folder = make_folder({"train": 2, "val": 1})
    with pytest.raises(ValueError, match=message):
        train_judge(folder, {**PARAMS, "augmentation": {"hflip_p": 0.5, "colour_jitter": jitter}}, section="pix2pix.train_judge")
