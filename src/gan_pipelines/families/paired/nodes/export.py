"""<family>.export: the trained generator (with its input encoding) as one ONNX file."""

from __future__ import annotations

from typing import Any, Mapping

from gan_pipelines.params import ExportParams


def export_paired_onnx(generator_checkpoint: Mapping[str, Any], params: ExportParams, *, family: str) -> dict[str, Any]:
    """Write ``output_path`` from the catalog's latest (or pinned) generator checkpoint; an
    existing file is replaced only with ``overwrite: true``."""
    from gan_pipelines.families.paired.export import export_generator

    section = f"{family}.export"
    params = ExportParams.parse(params, section)
    output_path, overwrite = params.output_path, params.overwrite
    return export_generator(generator_checkpoint, family, output_path, overwrite=overwrite)
