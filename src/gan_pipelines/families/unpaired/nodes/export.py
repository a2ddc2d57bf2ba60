"""<family>.export: both generators as ONNX, ``<stem>_a2b.onnx`` and ``<stem>_b2a.onnx`` beside
``output_path`` (``<stem>.onnx``), each checked against torch before it is written."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gan_pipelines.families.unpaired.config import UnpairedExportParams


def export_unpaired_onnx(generator_checkpoint: Mapping[str, Any], params: UnpairedExportParams, *,
                         family: str) -> dict[str, Any]:
    """Export the catalog's latest (or pinned) generator checkpoint; existing files are replaced
    only with ``overwrite: true``. Returns the summary of
    :func:`~gan_pipelines.families.unpaired.export.export_generators` (files, bytes, largest
    ONNX/torch difference per direction)."""
    from gan_pipelines.families.unpaired.export import export_generators

    params = UnpairedExportParams.parse(params, f"{family}.export")
    bundle = generator_checkpoint.load() if hasattr(generator_checkpoint, "load") else generator_checkpoint
    return export_generators(bundle, family, params.output_path, overwrite=params.overwrite,
                             parity_tolerance=params.parity_tolerance)
