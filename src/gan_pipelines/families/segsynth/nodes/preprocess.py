"""segsynth.preprocess: every picture and map resized to the experiment's resolution (label and
instance maps nearest, never interpolated), and a fixed val split held out of train (logged
during every arm's training, never used to choose anything)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.params import PreprocessParams


def preprocess_segsynth_data(raw: Mapping[str, Callable[[], np.ndarray]], params: PreprocessParams, *, family: str,
                             ) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """``(model_input, summary)`` (:func:`gan_pipelines.stages.preprocess.preprocess_image_folder`);
    the resolution's multiple is checked against the generator and segmenter by
    :func:`gan_pipelines.families.segsynth.config.check_stages` before the run."""
    from gan_pipelines.families.segsynth.layout import KIND_TYPES
    from gan_pipelines.stages.preprocess import preprocess_image_folder

    section = f"{family}.preprocess"
    params = PreprocessParams.parse(params, section).as_dict()
    return preprocess_image_folder(raw, KIND_TYPES, params, section=section, multiple=1)
