"""<family>.predict: translate a folder of your own pictures, either direction, any size; outputs
never replace existing files.

    gan-pipelines predict cyclegan my_day_photos/ --output my_dusk_photos/
    gan-pipelines predict cyclegan my_dusk_photos/ --output back/ --params cyclegan.predict.direction=b2a
"""

from __future__ import annotations

from typing import Any

from gan_pipelines.families.unpaired.config import PredictParams


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
    params = PredictParams.parse(params, section)
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
        predictor = UnpairedPredictor(bundle, family, device=params.device)
        device = predictor.device
    try:
        summary = predict_folder(predictor, params.input_dir, params.output_dir, params.direction)
    except ValueError as exc:
        raise ValueError(f"{section}: {exc}") from None
    summary.update({"backend": params.backend, "device": device, "checkpoint_version": version})
    if params.backend == "onnx":
        summary["onnx_file"] = str(predictor.path(params.direction))
    return summary


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

