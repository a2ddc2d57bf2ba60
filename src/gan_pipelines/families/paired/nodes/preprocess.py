"""<family>.preprocess: resize every image by its kind's type (label maps nearest, never
interpolated) to a resolution the generator takes, and split train / val / test."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.paired.config import PreprocessParams, TrainParams
from gan_pipelines.families.paired.layout import INSTANCE_KIND, KIND_TYPES, LABEL_KIND
from gan_pipelines.params import as_plain
from gan_pipelines.stages.preprocess import preprocess_image_folder


def preprocess_paired_data(
    raw: Mapping[str, Callable[[], np.ndarray]], params: PreprocessParams, train_params: TrainParams, *, family: str
) -> tuple[dict[str, Callable[[], np.ndarray]], dict[str, Any]]:
    """Return ``(model_input, summary)``. The resolution must be a multiple of what the
    ``<family>.train`` generator needs (2**num_downs for a U-Net), else a ValueError says so.
    A label-map model with ``<family>.train.instance_edges`` needs an instance map for every
    sample: without them a ValueError names that key and ``<family>.ingest.instances`` here,
    before the judge trains, not at train."""
    from gan_pipelines.families.paired.networks import size_multiple

    params = PreprocessParams.parse(params, f"{family}.preprocess").as_dict()
    train_params = as_plain(train_params)  # only read here (validated by Kedro in a run)
    _check_instances(raw, train_params, family)
    multiple = size_multiple(dict(train_params.get("model") or {}))
    return preprocess_image_folder(raw, KIND_TYPES, params, section=f"{family}.preprocess", multiple=multiple)


def _check_instances(raw: Mapping[str, Any], train_params: dict[str, Any], family: str) -> None:
    from gan_pipelines.image_folders import split_key

    if not train_params.get("instance_edges") or KIND_TYPES.get(train_params.get("input_kind", LABEL_KIND)) != "labels":
        return
    instance_kind = train_params.get("instance_kind") or INSTANCE_KIND
    input_kind = train_params.get("input_kind", LABEL_KIND)
    keys = [split_key(key) for key in raw]
    with_instance = {(split, name) for split, kind, name in keys if kind == instance_kind}
    lacking = sorted({(split, name) for split, kind, name in keys if kind == input_kind} - with_instance)
    if lacking:
        shown = ", ".join(f"{split}/{name}" for split, name in lacking[:5]) + (", ..." if len(lacking) > 5 else "")
        raise ValueError(
            f"{family}.train.instance_edges is true but {len(lacking)} sample(s) of the ingested data have no "
            f"{instance_kind} (e.g. {shown}): set {family}.ingest.instances: true with <split>/instance/<name>.png "
            f"maps in your folder, or {family}.train.instance_edges: false (no instance boundaries)")
