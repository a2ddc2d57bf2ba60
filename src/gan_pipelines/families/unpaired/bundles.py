"""Rebuild the unpaired families' trained generators from the checkpoint bundles the train node
saves.

A bundle (:func:`gan_pipelines.stages.training_setup.checkpoint_bundle`) holds ``state_dicts``
(``G_AB``, ``G_BA``; MUNIT's ``G_A``, ``G_B``) and the ``model_config`` they were built from (``{"model": "cyclegan",
"generator": {...}, "resolution": R, ...}``), so it is self-describing: no parameter file is
needed to use it. It carries its family (``meta.family``): another family's checkpoint is
refused by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from gan_pipelines.library_versions import warn_if_versions_differ
from gan_pipelines.stages.training_setup import check_bundle_family as check_family  # noqa: F401 (re-exported)


def generators_from_bundle(bundle: Mapping[str, Any], family: str) -> tuple[dict[str, nn.Module], dict[str, Any]]:
    """``({"a2b": A -> B, "b2a": B -> A}, model_config)``: the trained translators (for CycleGAN
    and U-GAT-IT the generators ``G_AB``, ``G_BA``; for MUNIT the source's content encoder joined
    to the target's decoder, see :func:`~gan_pipelines.families.unpaired.networks.direction_translators`)
    in eval mode on the CPU, rebuilt from the model config the checkpoint stores, and that config.

    Warns (log) when the checkpoint was trained under other library versions. Raises
    ValueError for another family's checkpoint, a model this code does not build, or missing
    weights."""
    from gan_pipelines.families.unpaired.networks import (
        GENERATOR_MODULES, direction_translators, generators_from_config,
    )

    check_family(bundle, family)
    config = dict(bundle.get("model_config") or {})
    if "generator" not in config:
        raise ValueError(f"The {family} generator checkpoint has no model_config.generator to rebuild it from")
    networks = generators_from_config(config)
    states = bundle["state_dicts"]
    names = GENERATOR_MODULES[config["model"]]
    missing = [name for name in names if name not in states]
    if missing:
        raise ValueError(f"The {family} generator checkpoint lacks the weights of {', '.join(missing)}")
    for name in names:
        networks[name].load_state_dict(states[name])
        networks[name].eval()
    generators = {direction: module.eval() for direction, module in
                  direction_translators(config["model"], networks).items()}
    trained_at = (bundle.get("meta") or {}).get("trained_at", "at an unknown time")
    warn_if_versions_differ(bundle.get("meta"), f"the {family} generator checkpoint (trained {trained_at})")
    return generators, config
