"""shadow.export: the trained model (attention -> threshold -> generator) as one ONNX file, for
onnxruntime (``shadow.predict.backend: onnx``, :class:`gan_pipelines.families.shadow.predict.OnnxShadowPredictor`)."""

from __future__ import annotations

from typing import Any, Mapping

from gan_pipelines.params import check_known_keys, require

SECTION = "shadow.export"


def export_shadow_onnx(
    attention_checkpoint: Mapping[str, Any], generator_checkpoint: Mapping[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """Write ``output_path`` (.onnx) from the catalog's latest (or ``--load-versions``-pinned)
    checkpoints; an existing file is replaced only with ``overwrite: true``. Returns a summary."""
    from gan_pipelines.families.shadow.export import export_shadow_model

    check_known_keys(params, {"output_path", "overwrite"}, SECTION)
    output_path = require(params, "output_path", SECTION)
    overwrite = params.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise ValueError(f"{SECTION}.overwrite must be true or false, got {overwrite!r}")
    return export_shadow_model(attention_checkpoint, generator_checkpoint, output_path, overwrite=overwrite)
