"""shadow.predict: shadows for a folder of the user's own images (noshadow-style image + object
mask, any size, PNG or JPEG). Outputs are written at the input's full resolution.

``backend: torch`` runs the catalog's checkpoints in PyTorch; ``backend: onnx`` runs the model
exported by ``shadow.export`` (``onnx_path``) with onnxruntime."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from gan_pipelines.families.shadow.config import PredictConfig

logger = logging.getLogger(__name__)

SECTION = "shadow.predict"


def predictor_settings(params: PredictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """``shadow.predict`` (checked by :class:`~gan_pipelines.families.shadow.config.PredictParams`)
    as settings with defaults filled in. Raises ValueError naming the parameter, and
    FileNotFoundError for an ``onnx_path`` that does not exist with ``backend: onnx``."""
    settings = PredictConfig.parse(params).model_dump()
    if settings["backend"] == "onnx":
        if not Path(settings["onnx_path"]).is_file():
            raise FileNotFoundError(
                f"{SECTION}.onnx_path {settings['onnx_path']!r} does not exist (needed by {SECTION}.backend=onnx); "
                "create it with `kedro run --pipelines shadow.export`"
            )
    else:
        settings["onnx_path"] = None
    return settings


def _warn_if_stale(onnx_metadata: Mapping[str, Any], checkpoints: Mapping[str, Any], onnx_path: str) -> None:
    """Warn when the ONNX file was exported from other checkpoints than the catalog's latest; says
    nothing when there are no checkpoints at all (an ONNX-only deployment)."""
    for name, lazy_checkpoint in checkpoints.items():
        if not lazy_checkpoint.exists():
            logger.info("No %s checkpoint in this project; using %s as it is", name, onnx_path)
            continue
        exported = onnx_metadata.get(f"{name}_trained_at", "unknown")
        latest = lazy_checkpoint.load().get("meta", {}).get("trained_at", "unknown")
        if exported != latest:
            logger.warning(
                "%s was exported from the %s trained at %s, but the catalog's shadow.%s_checkpoint was trained at %s; "
                "re-export with `kedro run --pipelines shadow.export --params shadow.export.overwrite=true` to use it",
                onnx_path, name, exported, name, latest,
            )


def predict_shadow_folder(attention_checkpoint: Any, generator_checkpoint: Any, params: PredictConfig) -> dict[str, Any]:
    """Write ``output_dir/{shadow,robject,rshadow,overlay}/<name>.png`` for every pair in ``input_dir``
    (``overlay`` only with ``overlays: true``); return a summary of what was written, with each
    image's light-consistency check (see :func:`~gan_pipelines.families.shadow.predict.predict_folder`).
    Pin checkpoints with ``--load-versions``.

    The checkpoints come as :class:`~gan_pipelines.datasets.LazyCheckpoint`: the torch backend reads
    them, the onnx backend only compares their training time with the exported file's (and needs
    none at all)."""
    from gan_pipelines.families.shadow.predict import OnnxShadowPredictor, ShadowPredictor, predict_folder

    settings = predictor_settings(params)
    shape = {key: settings[key] for key in ("full_resolution", "steepness", "strength")}
    summary_extra: dict[str, Any] = {}
    if settings["backend"] == "onnx":
        try:
            predictor = OnnxShadowPredictor(settings["onnx_path"], device=settings["device"], **shape)
        except ValueError as exc:  # a device onnxruntime cannot use, or a file it cannot read
            raise ValueError(f"{SECTION} (backend onnx, onnx_path {settings['onnx_path']!r}): {exc}") from exc
        checkpoints = {"attention": attention_checkpoint, "generator": generator_checkpoint}
        _warn_if_stale(predictor.metadata, checkpoints, settings["onnx_path"])
        trained_at = predictor.metadata.get("generator_trained_at", "unknown")
    else:
        generator = generator_checkpoint.load()
        predictor = ShadowPredictor(attention_checkpoint.load(), generator, device=settings["device"], **shape,
                                    compile=settings["compile"])
        trained_at = generator.get("meta", {}).get("trained_at", "unknown")
        summary_extra = {"compiled": predictor.compiled}
    summary = predict_folder(predictor, settings["input_dir"], settings["output_dir"],
                             mask_threshold=settings["mask_threshold"], overlays=settings["overlays"])
    summary["backend"] = settings["backend"]
    summary.update(shape)
    if settings["onnx_path"]:
        summary["onnx_path"] = settings["onnx_path"]
    summary["generator_trained_at"] = trained_at
    summary.update(summary_extra)
    return summary
