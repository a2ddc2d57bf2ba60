"""shadow.export: the trained model (attention -> threshold -> generator) as one ONNX file, for
onnxruntime (``shadow.predict.backend: onnx``, :class:`gan_pipelines.families.shadow.predict.OnnxShadowPredictor`)."""

from __future__ import annotations

from typing import Any, Mapping

from gan_pipelines.families.shadow.config import ExportConfig

SECTION = "shadow.export"


def export_shadow_onnx(
    attention_checkpoint: Mapping[str, Any], generator_checkpoint: Mapping[str, Any], params: ExportConfig
) -> dict[str, Any]:
    """Write ``output_path`` (.onnx) from the catalog's latest (or ``--load-versions``-pinned)
    checkpoints; an existing file is replaced only with ``overwrite: true``. Returns a summary."""
    from gan_pipelines.families.shadow.export import export_shadow_model

    params = ExportConfig.parse(params)
    return export_shadow_model(attention_checkpoint, generator_checkpoint, params.output_path, overwrite=params.overwrite)
