"""<family>.export: the trained generator (with its input encoding) as one ONNX file."""

from __future__ import annotations

from typing import Any, Mapping

from gan_pipelines.params import check_known_keys, require


def export_paired_onnx(generator_checkpoint: Mapping[str, Any], params: dict[str, Any], *, family: str) -> dict[str, Any]:
    """Write ``output_path`` from the catalog's latest (or pinned) generator checkpoint; an
    existing file is replaced only with ``overwrite: true``."""
    from gan_pipelines.families.paired.export import export_generator

    section = f"{family}.export"
    check_known_keys(params, {"output_path", "overwrite"}, section)
    output_path = require(params, "output_path", section)
    overwrite = params.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise ValueError(f"{section}.overwrite must be true or false, got {overwrite!r}")
    return export_generator(generator_checkpoint, family, output_path, overwrite=overwrite)
