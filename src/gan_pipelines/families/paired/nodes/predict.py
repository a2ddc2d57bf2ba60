"""<family>.predict: pictures for a folder of your own label maps or sketches, any size;
outputs never replace existing files. pix2pixHD with instance boundaries: ``instance_dir``.
SPADE+VAE: ``num_samples`` seeded styles per map (``<name>_s<k>.png``, seed ``seed``) or the
style of one ``style_image``."""

from __future__ import annotations

from typing import Any

from gan_pipelines.params import check_known_keys, require


def predict_paired_folder(generator_checkpoint: Any, params: dict[str, Any], *, family: str) -> dict[str, Any]:
    """Write ``output_dir/<name>.png`` for every image of ``input_dir``; return a summary.
    ``backend: torch`` reads the (lazy) checkpoint, pinned with ``--load-versions``;
    ``backend: onnx`` runs ``onnx_path`` (from ``<family>.export``) in onnxruntime instead."""
    from gan_pipelines.families.paired.export import OnnxPairedPredictor
    from gan_pipelines.families.paired.predict import PairedPredictor, predict_folder

    section = f"{family}.predict"
    check_known_keys(params, {"input_dir", "output_dir", "device", "backend", "onnx_path", "instance_dir",
                              "num_samples", "style_image", "seed"}, section)
    backend = params.get("backend") or "torch"
    if backend == "onnx":
        predictor = OnnxPairedPredictor(require(params, "onnx_path", section), device=params.get("device") or "auto")
        if predictor.family != family:
            raise ValueError(f"{section}.onnx_path holds a {predictor.family!r} generator, not {family!r}")
    elif backend == "torch":
        bundle = generator_checkpoint.load() if hasattr(generator_checkpoint, "load") else generator_checkpoint
        predictor = PairedPredictor(bundle, family, device=params.get("device") or "auto")
    else:
        raise ValueError(f"{section}.backend must be torch or onnx; got {backend!r}")
    seed = params.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{section}.seed must be a non-negative integer; got {seed!r}")
    try:
        summary = predict_folder(
            predictor, require(params, "input_dir", section), require(params, "output_dir", section),
            instance_dir=params.get("instance_dir"), num_samples=params.get("num_samples", 1),
            style_image=params.get("style_image"), seed=seed,
        )
    except ValueError as exc:
        raise ValueError(f"{section}: {exc}") from None
    return {**summary, "backend": backend}
