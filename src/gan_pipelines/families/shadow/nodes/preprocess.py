"""shadow.preprocess: resize every Shadow-AR sample to the training resolution and split
train / val / test (the shared stage, with the shadow family's image kinds)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.shadow.config import PreprocessConfig
from gan_pipelines.families.shadow.layout import KIND_TYPES
from gan_pipelines.families.shadow.networks import RESOLUTION_MULTIPLE
from gan_pipelines.stages.preprocess import preprocess_image_folder

SECTION = "shadow.preprocess"


def preprocess_shadow_data(
    raw_images: Mapping[str, Callable[[], np.ndarray]], params: PreprocessConfig
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``: lazily resized images keyed ``{train,val,test}/kind/name.png``.

    RGB kinds (noshadow, shadow) are area-averaged, masks resized nearest and re-binarised; the
    resolution must be a multiple of 32 (the U-Net encoders downsample five times)."""
    params = PreprocessConfig.parse(params).as_dict()
    return preprocess_image_folder(raw_images, KIND_TYPES, params, section=SECTION, multiple=RESOLUTION_MULTIPLE)
