"""<family>.predict: translate a folder of your own pictures, either direction, any size; outputs
never replace existing files.

    gan-pipelines predict cyclegan my_day_photos/ --output my_dusk_photos/
    gan-pipelines predict cyclegan my_dusk_photos/ --output back/ --params cyclegan.predict.direction=b2a
    gan-pipelines predict munit my_pictures/ --output styles/ --params munit.predict.random_style=true,munit.predict.num_samples=4
    gan-pipelines predict munit my_pictures/ --output guided/ --params munit.predict.style_image=one_target.png
"""

from __future__ import annotations

from typing import Any

from gan_pipelines.families.unpaired.config import PredictParams, stage_model


def predict_unpaired_folder(generator_checkpoint: Any, params: PredictParams, *, family: str) -> dict[str, Any]:
    """Write ``output_dir/<name>.png`` for every picture of ``input_dir`` translated in
    ``direction``; return a summary (count, direction, checkpoint version and training time,
    seconds per picture, backend).

    ``backend: torch`` reads ``generator_checkpoint`` (a
    :class:`~gan_pipelines.datasets.torch_checkpoint.LazyCheckpoint`, or a loaded bundle; pin a
    version with ``--load-versions``); ``backend: onnx`` runs the files of ``<family>.export``
    (``onnx_path``) in onnxruntime and does not read the checkpoint. Raises ValueError naming
    the parameter or the bad input files, FileExistsError for outputs that already exist."""
    from gan_pipelines.families.unpaired.export import OnnxUnpairedPredictor
    from gan_pipelines.families.unpaired.predict import UnpairedPredictor, predict_folder

    section = f"{family}.predict"
    params = stage_model(family, "predict").parse(params, section)
    version = None
    if params.backend == "onnx":
        try:
            predictor = OnnxUnpairedPredictor(params.onnx_path, device=params.device, family=family)
            predictor.session(params.direction)  # a missing or foreign file is refused before any picture is read
        except (ValueError, FileNotFoundError) as exc:
            raise type(exc)(f"{section} (backend onnx, onnx_path {params.onnx_path!r}): {exc}") from None
        device = ",".join(predictor.providers)
    else:
        bundle = generator_checkpoint.load() if hasattr(generator_checkpoint, "load") else generator_checkpoint
        version = checkpoint_version(generator_checkpoint)
        predictor = UnpairedPredictor(bundle, family, device=params.device, compile=params.compile)
        device = predictor.device
    styles, style_note = _style_choice(predictor, params, section)
    try:
        summary = predict_folder(predictor, params.input_dir, params.output_dir, params.direction, styles=styles)
    except ValueError as exc:
        raise ValueError(f"{section}: {exc}") from None
    summary.update({"backend": params.backend, "device": device, "checkpoint_version": version})
    if style_note:
        summary["style"] = style_note
    if params.backend == "onnx":
        summary["onnx_file"] = str(predictor.path(params.direction))
    else:
        summary["compiled"] = predictor.compiled
    return summary


def _style_choice(predictor, params, section: str):
    """``(styles, note)`` for :func:`predict_folder`: MUNIT's style codes per picture (random
    draws, or one style picture's code) or ``(None, None)`` for the prior's mean / a model
    without styles."""
    import numpy as np

    from gan_pipelines.families.unpaired.inference import random_style_codes

    random_style = getattr(params, "random_style", False)
    style_image = getattr(params, "style_image", None)
    if not (random_style or style_image):
        return None, ("the prior's mean style code (zeros)" if getattr(params, "num_samples", None) else None)
    if hasattr(predictor, "metadata"):  # the ONNX predictor: the export records the style length
        predictor.session(params.direction)
        style_dim = int(predictor.metadata[params.direction].get("style_dim") or 0)
    else:
        style_dim = int(predictor.style_dim or 0)
    if not style_dim:
        raise ValueError(f"{section}: the model takes no style code (random_style / style_image are MUNIT's)")
    if random_style:
        seed, count = params.seed, params.num_samples
        return ((lambda index: random_style_codes(count, style_dim, [seed, index])),
                f"{count} random style code(s) per picture from N(0, I), numpy default_rng([{seed}, picture index])")
    from gan_pipelines.images import ImageError, read_image, to_rgb

    try:
        picture = to_rgb(read_image(style_image, name=str(style_image)), name=str(style_image))
    except (ImageError, OSError) as exc:
        raise ValueError(f"{section}.style_image {style_image!r}: {exc}") from None
    code = predictor.style_of(picture, params.direction)
    return (lambda index: np.asarray([code])), f"the style code of {style_image} (example-guided)"


def checkpoint_version(checkpoint: Any) -> str | None:
    """The version (timestamp folder) a lazy catalog checkpoint loads, or None when it is not
    versioned or not a catalog dataset (a bundle passed directly)."""
    from gan_pipelines.versions import find_version

    dataset = getattr(checkpoint, "_dataset", None)
    if dataset is None or getattr(dataset, "_version", None) is None:
        return None
    try:
        return dataset.resolve_load_version()
    except Exception:  # noqa: BLE001 - the version is only reported; the load itself raised nothing
        return find_version(str(getattr(dataset, "_filepath", ""))) or None

