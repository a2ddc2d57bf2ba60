"""<family>.preprocess: resize every image by its kind's type (label maps nearest, never
interpolated) to a resolution the generator takes, and split train / val / test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.paired.layout import KIND_TYPES
from gan_pipelines.stages.preprocess import preprocess_image_folder


def preprocess_paired_data(
    raw: Mapping[str, Callable[[], np.ndarray]], params: dict[str, Any], train_params: dict[str, Any], *, family: str
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``. The resolution must be a multiple of what the
    ``<family>.train`` generator needs (2**num_downs for a U-Net), else a ValueError says so."""
    from gan_pipelines.families.paired.networks import size_multiple

    multiple = size_multiple(dict(train_params.get("model") or {}))
    return preprocess_image_folder(raw, KIND_TYPES, params, section=f"{family}.preprocess", multiple=multiple)
