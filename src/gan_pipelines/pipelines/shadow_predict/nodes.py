"""shadow_predict: shadows for a folder of the user's own images (noshadow-style image + object
mask, any size, PNG or JPEG). Outputs are written at the input's full resolution."""

from __future__ import annotations

from typing import Any, Mapping

from gan_pipelines.params import check_known_keys, require


def predict_shadow_folder(
    attention_checkpoint: Mapping[str, Any], generator_checkpoint: Mapping[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Write ``output_dir/{shadow,robject,rshadow}/<name>.png`` for every pair in ``input_dir``;
    return a summary of what was written. Pin checkpoints with ``--load-versions``."""
    from gan_pipelines.predict import ShadowPredictor, predict_folder

    check_known_keys(params, {"input_dir", "output_dir", "device"}, "shadow_predict")
    input_dir = require(params, "input_dir", "shadow_predict")
    output_dir = require(params, "output_dir", "shadow_predict")
    predictor = ShadowPredictor(attention_checkpoint, generator_checkpoint, device=params.get("device", "auto"))
    summary = predict_folder(predictor, input_dir, output_dir)
    summary["generator_trained_at"] = generator_checkpoint.get("meta", {}).get("trained_at", "unknown")
    return summary
