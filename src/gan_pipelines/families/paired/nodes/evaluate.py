"""<family>.evaluate: the model, the baselines and the real pictures on the same test split,
scored by the family's evaluation protocol (``families.paired.evaluation``: per-pixel, the
segmentation score of the project's own judge, distribution distances).

Methods: ``model``, ``class_mean_painter``, ``nearest_neighbour`` (baselines fitted on the
train split), ``real`` (the ceiling) and, in sketch2color, ``plain_pix2pix`` (the same
generator trained without the extra losses) and ``model_on_<other style>`` (the model given the
test set's other sketch style, e.g. XDoG sketches to a line-art model).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import LABEL_KIND, REAL_TEST_SPLIT, SKETCH_KINDS, TARGET_KIND
from gan_pipelines.image_folders import folder_version, image_key, sample_names
from gan_pipelines.params import check_known_keys

logger = logging.getLogger(__name__)

KEYS = {"batch_size", "device", "label_kind", "metrics"}


def evaluate_paired_model(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    generator_checkpoint: Mapping[str, Any],
    judge_checkpoint: Mapping[str, Any],
    params: dict[str, Any],
    plain_generator_checkpoint: Mapping[str, Any] | None = None,
    *,
    family: str,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, np.ndarray]]:
    """Return ``(per_image, metrics, test_predictions)``."""
    from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
    from gan_pipelines.families.paired.evaluation import evaluate_methods
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.networks import generator_from_bundle
    from gan_pipelines.families.paired.nodes.train import load_split

    section = f"{family}.evaluate"
    check_known_keys(params, KEYS, section)
    batch_size = int(params.get("batch_size", 16))
    device = _device(params.get("device", "auto"))
    label_kind = params.get("label_kind", LABEL_KIND)
    net, input_cfg = generator_from_bundle(generator_checkpoint, family)
    target_kind = generator_checkpoint["model_config"].get("target_kind", "picture")
    kinds = [input_cfg["kind"], target_kind, label_kind]
    if input_cfg.get("instance_kind"):
        kinds.append(input_cfg["instance_kind"])
    # Sketch models are also run on the other sketch style of the test set (train on one, test
    # on the other): method "model_on_<kind>".
    other_styles = [k for k in SKETCH_KINDS if k != input_cfg["kind"]] if input_cfg["kind"] in SKETCH_KINDS else []
    other_styles = [k for k in other_styles if image_key("test", k, _first_test_name(model_input)) in model_input]
    kinds = list(dict.fromkeys(kinds + other_styles))
    names, test = load_split(model_input, "test", kinds)
    _, train = load_split(model_input, "train", [target_kind, label_kind])
    resolution = int(test[target_kind].shape[1])
    trained_at = int(generator_checkpoint.get("meta", {}).get("resolution", resolution))
    if trained_at != resolution:
        raise ValueError(f"{section}: the generator was trained at {trained_at} px but the test images are "
                         f"{resolution} px; re-run {family}.train on this model input")

    def run(bundle_net, cfg) -> np.ndarray:
        instances = test[cfg["instance_kind"]] if cfg.get("instance_kind") else None
        return generate(bundle_net, cfg["type"], test[cfg["kind"]], instances, batch_size=batch_size, device=device)

    labels = test[label_kind].astype(np.int64)
    outputs = {"model": run(net, input_cfg)}
    if plain_generator_checkpoint is not None:
        plain_net, plain_cfg = generator_from_bundle(plain_generator_checkpoint, family)
        outputs["plain_pix2pix"] = run(plain_net, plain_cfg)
    for style in other_styles:
        outputs[f"model_on_{style}"] = generate(net, "rgb", test[style], batch_size=batch_size, device=device)
    train_labels = train[label_kind].astype(np.int64)
    judge_meta = judge_checkpoint.get("meta") or {}
    num_classes = int(input_cfg.get("label_nc") or judge_meta.get("num_classes") or 0)
    if num_classes < 1:
        raise ValueError(f"{section}: neither the generator nor the judge checkpoint records the number of classes")
    ignore_index = judge_meta.get("ignore_index")
    outputs["class_mean_painter"] = class_mean_painter(train[target_kind], train_labels, num_classes, ignore_index)(labels)
    outputs["nearest_neighbour"] = nearest_neighbour_retrieval(train[target_kind], train_labels, ignore_index)(labels)
    sketches = test[input_cfg["kind"]] if input_cfg["type"] == "rgb" else None
    metrics, per_image, protocol_meta = evaluate_methods(
        outputs, test[target_kind], labels, judge_checkpoint, dict(params.get("metrics") or {}),
        sketches=sketches, section=f"{section}.metrics",
    )
    per_image = per_image.assign(name=[names[i] for i in per_image["image"]])

    predictions: dict[str, np.ndarray] = {}
    for method in ("model", "plain_pix2pix"):
        for name, image in zip(names, outputs.get(method, [])):
            predictions[image_key("test", method, name)] = image
    real_names, real = load_split(model_input, REAL_TEST_SPLIT, [input_cfg["kind"], target_kind], required=False)
    if real_names and input_cfg["type"] == "rgb":
        for name, image in zip(real_names, generate(net, "rgb", real[input_cfg["kind"]], batch_size=batch_size, device=device)):
            predictions[image_key(REAL_TEST_SPLIT, "model", name)] = image

    meta = dict(protocol_meta)
    meta.update({
        "family": family,
        "resolution": resolution,
        "num_test_images": len(names),
        "num_train_images": int(len(train_labels)),
        "num_val_images": len(sample_names(model_input, "val", target_kind)),
        "num_real_photo_tests": len(real_names),
        "model_input_version": folder_version(model_input) or "unversioned",
        "generator_trained_at": generator_checkpoint.get("meta", {}).get("trained_at"),
        "judge_trained_at": judge_checkpoint.get("meta", {}).get("trained_at"),
        "input_kind": input_cfg["kind"],
        "perceptual": generator_checkpoint.get("meta", {}).get("perceptual"),
        "loss_weights": generator_checkpoint.get("meta", {}).get("loss_weights"),
    })
    if plain_generator_checkpoint is not None:
        meta["plain_generator_trained_at"] = plain_generator_checkpoint.get("meta", {}).get("trained_at")
        meta["plain_loss_weights"] = plain_generator_checkpoint.get("meta", {}).get("loss_weights")
    metrics = {**metrics, "meta": meta}
    logger.info("%s: %s", section, {m: v for m, v in metrics.items() if m != "meta"})
    return per_image, metrics, predictions


def _first_test_name(model_input: Mapping[str, Any]) -> str:
    names = sample_names(model_input, "test", TARGET_KIND)
    return names[0] if names else ""


def _device(choice: str) -> str:
    import torch

    if choice != "auto":
        return choice
    return "cuda" if torch.cuda.is_available() else "cpu"
