"""<family>.predict: pictures for a folder of your own label maps or sketches, any size;
outputs never replace existing files. pix2pixHD with instance boundaries: ``instance_dir``.
SPADE+VAE: ``num_samples`` seeded styles per map (``<name>_s<k>.png``, seed ``seed``) or the
style of one ``style_image``."""

from __future__ import annotations

from typing import Any

from gan_pipelines.families.paired.config import PredictParams


def predict_paired_folder(generator_checkpoint: Any, params: PredictParams, *, family: str) -> dict[str, Any]:
    """Write ``output_dir/<name>.png`` for every image of ``input_dir``; return a summary.
    ``backend: torch`` reads the (lazy) checkpoint, pinned with ``--load-versions``;
    ``backend: onnx`` runs ``onnx_path`` (from ``<family>.export``) in onnxruntime instead."""
    from gan_pipelines.families.paired.export import OnnxPairedPredictor
    from gan_pipelines.families.paired.predict import PairedPredictor, predict_folder

    section = f"{family}.predict"
    params = PredictParams.parse(params, section).model_dump()
    backend = params["backend"]
    if backend == "onnx":
        predictor = OnnxPairedPredictor(params["onnx_path"], device=params["device"])
        if predictor.family != family:
            raise ValueError(f"{section}.onnx_path holds a {predictor.family!r} generator, not {family!r}")
    elif backend == "torch":
        bundle = generator_checkpoint.load() if hasattr(generator_checkpoint, "load") else generator_checkpoint
        predictor = PairedPredictor(bundle, family, device=params["device"], precision=params["precision"],
                                    compile=params["compile"])
    seed = params["seed"]
    try:
        summary = predict_folder(
            predictor, params["input_dir"], params["output_dir"], instance_dir=params["instance_dir"],
            num_samples=params["num_samples"], style_image=params["style_image"], seed=seed,
        )
    except ValueError as exc:
        raise ValueError(f"{section}: {exc}") from None
    if backend == "torch":
        summary.update(precision=predictor.precision.name, compiled=predictor.compiled)
    return {**summary, "backend": backend}
