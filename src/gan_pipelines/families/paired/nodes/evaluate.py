"""<family>.evaluate: the model, the baselines and the real pictures on the same test split,
scored by the family's evaluation protocol (``families.paired.evaluation``: per-pixel, the
segmentation score of the project's own judge, distribution distances).

Methods: ``model``, ``class_mean_painter``, ``nearest_neighbour`` (baselines fitted on the
train split), ``real`` (the ceiling) and, in sketch2color, ``plain_pix2pix`` (the same
generator trained without the extra losses) and ``model_on_<other style>`` (the model given the
test set's other sketch style, e.g. XDoG sketches to a line-art model).

A SPADE+VAE generator draws its style codes z ~ N(0, I) from ``style_seed``: one seeded z per
test image for ``model``; ``diversity_samples`` further seeded codes per test map for the
``diversity`` metrics (the mean pairwise distance of the outputs in the judge's feature space,
``real.diversity`` its scale; also measured for deterministic generators, which score 0), and
the real test pictures' own codes for ``style_reconstruction_psnr`` / ``_ssim`` (see
:mod:`gan_pipelines.families.paired.evaluation`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.layout import LABEL_KIND, REAL_TEST_SPLIT, SKETCH_KINDS, TARGET_KIND
from gan_pipelines.image_folders import folder_version, image_key, sample_names
from gan_pipelines.library_versions import library_versions
from gan_pipelines.families.paired.config import EvaluateParams

logger = logging.getLogger(__name__)



def evaluate_paired_model(
    model_input: Mapping[str, Callable[[], np.ndarray]],
    generator_checkpoint: Mapping[str, Any],
    judge_checkpoint: Mapping[str, Any],
    params: EvaluateParams,
    plain_generator_checkpoint: Mapping[str, Any] | None = None,
    *,
    family: str,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, np.ndarray]]:
    """Return ``(per_image, metrics, test_predictions)``."""
    from gan_pipelines.families.paired.baselines import class_mean_painter, nearest_neighbour_retrieval
    from gan_pipelines.families.paired.evaluation import check_trained_on, evaluate_methods
    from gan_pipelines.families.paired.bundles import generator_from_bundle
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.nodes.report import training_losses
    from gan_pipelines.families.paired.nodes.train import load_split

    section = f"{family}.evaluate"
    params = EvaluateParams.parse(params, section).as_dict()
    style_seed = params.get("style_seed", 0)
    if isinstance(style_seed, bool) or not isinstance(style_seed, int) or style_seed < 0:
        raise ValueError(f"{section}.style_seed must be a non-negative integer; got {style_seed!r}")
    allow_stale = params.get("allow_stale", False)
    if not isinstance(allow_stale, bool):
        raise ValueError(f"{section}.allow_stale must be true or false; got {allow_stale!r}")
    same_data = {
        "generator": check_trained_on(model_input, generator_checkpoint, f"{family} generator",
                                      allow_stale=allow_stale, section=section),
        "judge": check_trained_on(model_input, judge_checkpoint, "segmentation judge",
                                  allow_stale=allow_stale, section=section),
    }
    if plain_generator_checkpoint is not None:
        same_data["plain_generator"] = check_trained_on(
            model_input, plain_generator_checkpoint, "plain pix2pix generator", allow_stale=allow_stale, section=section)
    diversity_samples = params.get("diversity_samples", 0)
    if isinstance(diversity_samples, bool) or not isinstance(diversity_samples, int) or diversity_samples == 1 \
            or diversity_samples < 0:
        raise ValueError(f"{section}.diversity_samples must be 0 (off) or an integer >= 2; got {diversity_samples!r}")
    batch_size = int(params.get("batch_size", 16))
    device = resolve_device(params.get("device", "auto"), f"{section}.device")
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
        # a style-sampling generator: one seeded z per test image
        z = _codes(bundle_net, len(names), style_seed)
        return generate(bundle_net, cfg["type"], test[cfg["kind"]], instances, batch_size=batch_size, device=device,
                        z=z)

    labels = test[label_kind].astype(np.int64)
    outputs = {"model": run(net, input_cfg)}
    if plain_generator_checkpoint is not None:
        plain_net, plain_cfg = generator_from_bundle(plain_generator_checkpoint, family)
        outputs["plain_pix2pix"] = run(plain_net, plain_cfg)
    for style in other_styles:
        outputs[f"model_on_{style}"] = generate(net, "rgb", test[style], batch_size=batch_size, device=device,
                                                z=_codes(net, len(names), style_seed))
    train_labels = train[label_kind].astype(np.int64)
    judge_meta = judge_checkpoint.get("meta") or {}
    num_classes = int(input_cfg.get("label_nc") or judge_meta.get("num_classes") or 0)
    if num_classes < 1:
        raise ValueError(f"{section}: neither the generator nor the judge checkpoint records the number of classes")
    ignore_index = judge_meta.get("ignore_index")
    outputs["class_mean_painter"] = class_mean_painter(train[target_kind], train_labels, num_classes, ignore_index)(labels)
    outputs["nearest_neighbour"] = nearest_neighbour_retrieval(train[target_kind], train_labels, ignore_index)(labels)
    sketches = test[input_cfg["kind"]] if input_cfg["type"] == "rgb" else None
    samples = {}
    if diversity_samples:
        samples["model"] = lambda: output_samples(net, input_cfg, test, diversity_samples, style_seed, batch_size,
                                                  device)
    metrics, per_image, protocol_meta = evaluate_methods(
        outputs, test[target_kind], labels, judge_checkpoint, dict(params.get("metrics") or {}),
        sketches=sketches, samples=samples, section=f"{section}.metrics",
    )
    per_image = per_image.assign(name=[names[i] for i in per_image["image"]])
    style_meta: dict[str, Any] = {}
    if diversity_samples:
        style_meta["diversity"] = {**protocol_meta["diversity"],
                                   **sampling_meta(net.z_dim is not None, diversity_samples, style_seed, len(names))}
    if net.z_dim is not None:
        from gan_pipelines.families.paired.evaluation import reconstruction_scores
        from gan_pipelines.families.paired.inference import encode_styles

        codes = encode_styles(net, test[target_kind], batch_size=batch_size, device=device)
        instances = test[input_cfg["instance_kind"]] if input_cfg.get("instance_kind") else None
        reconstructed = generate(net, input_cfg["type"], test[input_cfg["kind"]], instances, batch_size=batch_size,
                                 device=device, z=codes)
        scores, per = reconstruction_scores(reconstructed, test[target_kind])
        metrics["model"].update({f"style_reconstruction_{name}": value for name, value in scores.items()})
        model_rows = per_image["method"] == "model"
        for name in per:
            per_image.loc[model_rows, f"style_reconstruction_{name}"] = per[name].to_numpy()
        style_meta["style_reconstruction"] = (
            "each real test picture encoded (z = the style encoder's mean) and decoded with its own label map")

    predictions: dict[str, np.ndarray] = {}
    for method in ("model", "plain_pix2pix"):
        for name, image in zip(names, outputs.get(method, [])):
            predictions[image_key("test", method, name)] = image
    real_names, real = load_split(model_input, REAL_TEST_SPLIT, [input_cfg["kind"], target_kind], required=False)
    if real_names and input_cfg["type"] == "rgb":
        pictures = generate(net, "rgb", real[input_cfg["kind"]], batch_size=batch_size, device=device,
                            z=_codes(net, len(real_names), style_seed))
        for name, image in zip(real_names, pictures):
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
        "vgg19_perceptual": generator_checkpoint.get("meta", {}).get("vgg19_perceptual"),
        "generator_type": generator_checkpoint["model_config"]["generator"].get("type", "unet"),
        "style_codes": (f"z ~ N(0, I), {net.z_dim}-d, numpy default_rng seed {style_seed}, one per test image"
                        if net.z_dim is not None else None),
        **style_meta,
        "loss_weights": generator_checkpoint.get("meta", {}).get("loss_weights"),
        "losses": training_losses(generator_checkpoint.get("meta")),
        "trained_on_this_data": same_data,
        "versions": library_versions(),
    })
    if plain_generator_checkpoint is not None:
        meta["plain_generator_trained_at"] = plain_generator_checkpoint.get("meta", {}).get("trained_at")
        meta["plain_loss_weights"] = plain_generator_checkpoint.get("meta", {}).get("loss_weights")
    metrics = {**metrics, "meta": meta}
    logger.info("%s: %s", section, {m: v for m, v in metrics.items() if m != "meta"})
    return per_image, metrics, predictions


def _codes(net, count: int, seed: int) -> np.ndarray | None:
    """One seeded style code per input for a style-sampling generator, else None."""
    from gan_pipelines.families.paired.networks import style_codes

    return None if net.z_dim is None else style_codes(count, net.z_dim, seed)


def output_samples(net, input_cfg, test, count: int, seed: int, batch_size: int, device: str) -> np.ndarray:
    """uint8 ``(N, count, H, W, 3)``: ``count`` outputs for each of the ``N`` test inputs. A
    style-sampling generator gets ``count`` codes z ~ N(0, I) from ``numpy default_rng([seed, map
    index])``; a deterministic one is run ``count`` times (measured, not assumed to repeat)."""
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.networks import style_codes

    raw = test[input_cfg["kind"]]
    instances = test[input_cfg["instance_kind"]] if input_cfg.get("instance_kind") else None
    per_map = []
    for index in range(len(raw)):
        z = None if net.z_dim is None else style_codes(count, net.z_dim, [seed, index])
        repeated = np.repeat(raw[index:index + 1], count, axis=0)
        inst = None if instances is None else np.repeat(instances[index:index + 1], count, axis=0)
        per_map.append(generate(net, input_cfg["type"], repeated, inst, batch_size=batch_size, device=device, z=z))
    return np.stack(per_map)


def sampling_meta(samples_styles: bool, count: int, seed: int, num_maps: int) -> dict[str, Any]:
    """How :func:`output_samples` (or a comparison's own sampler) drew the outputs of the diversity figures."""
    return {"samples_per_map": count, "num_maps": num_maps,
            "style_codes": (f"numpy default_rng([{seed}, map index])" if samples_styles
                            else "none: a deterministic generator, run once per sample")}


def _first_test_name(model_input: Mapping[str, Any]) -> str:
    names = sample_names(model_input, "test", TARGET_KIND)
    return names[0] if names else ""


def resolve_device(choice: str, setting: str = "device") -> str:
    """The torch device (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``) for a ``device``
    parameter, by the training engine's rule
    (:func:`gan_pipelines.training.device.select_device`: ``auto`` is CUDA > MPS > CPU). Raises
    ValueError, naming ``setting``, for an unknown choice or a device this machine lacks."""
    from gan_pipelines.training.device import select_device

    return str(select_device(choice, setting=setting))
