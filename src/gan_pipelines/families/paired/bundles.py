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


def check_family(bundle: Mapping[str, Any], family: str, what: str = "generator") -> None:
    """Refuse a checkpoint another family (or another network) wrote."""
    if not isinstance(bundle, Mapping) or "state_dicts" not in bundle:
        raise ValueError(f"The {what} checkpoint is not a checkpoint bundle of this project")
    meta = bundle.get("meta") or {}
    found = meta.get("family")
    if found != family:
        where = f"the {found!r} family" if found else "no family (another family's pipeline wrote it)"
        raise ValueError(f"The {what} checkpoint belongs to {where}, not {family!r}; pass a {family} checkpoint")
    if meta.get("network") not in (None, what):
        raise ValueError(f"The checkpoint holds a {meta.get('network')!r} network, not a {what}")


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
