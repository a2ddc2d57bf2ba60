"""Rebuild the paired families' trained generator from the checkpoint bundles the train node
saves.

A bundle holds ``state_dicts`` and the ``model_config`` each network was built from, so a
checkpoint is self-describing: no parameter file is needed to use it. Checkpoints carry their
family (``meta.family``), so another family's checkpoint is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gan_pipelines.families.paired.networks import PairedGenerator, build_paired_generator, encoder_from_config
from gan_pipelines.library_versions import warn_if_versions_differ
from gan_pipelines.stages.training_setup import check_bundle_family as check_family  # noqa: F401 (re-exported)


def generator_from_bundle(bundle: Mapping[str, Any], family: str) -> tuple[PairedGenerator, dict[str, Any]]:
    """The trained encoder + generator (eval mode, CPU) and the bundle's input config; the
    generator is rebuilt from the model config the checkpoint stores (any ``model.type``), so no
    test-time flag has to repeat a training one. A SPADE+VAE generator then needs a z per input
    (:attr:`PairedGenerator.z_dim`, :func:`style_codes`)."""
    check_family(bundle, family)
    config = bundle.get("model_config") or {}
    input_cfg = dict(config.get("input") or {})
    net = PairedGenerator(encoder_from_config(input_cfg), build_paired_generator(dict(config["generator"])))
    net.generator.load_state_dict(bundle["state_dicts"]["generator"])
    trained_at = (bundle.get("meta") or {}).get("trained_at", "at an unknown time")
    warn_if_versions_differ(bundle.get("meta"), f"the {family} generator checkpoint (trained {trained_at})")
    return net.eval(), input_cfg
