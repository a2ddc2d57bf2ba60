"""Rebuild trained networks from the checkpoint bundles the training nodes save.

A bundle holds ``state_dicts`` and the ``model_config`` each network was built from, so a
checkpoint is self-describing: no parameter file is needed to use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gan_pipelines.families.shadow.inference import ShadowInference
from gan_pipelines.families.shadow.networks import AttentionNet, ShadowGenerator, build_attention_net, build_shadow_generator
from gan_pipelines.library_versions import warn_if_versions_differ


def _state_dict(bundle: Mapping[str, Any], name: str, what: str) -> Mapping[str, Any]:
    try:
        return bundle["state_dicts"][name]
    except (KeyError, TypeError):
        raise ValueError(f"The {what} checkpoint has no '{name}' network; is it the right checkpoint?") from None


def _described(bundle: Mapping[str, Any], what: str) -> str:
    return f"the shadow {what} checkpoint (trained {(bundle.get('meta') or {}).get('trained_at', 'at an unknown time')})"


def attention_from_bundle(bundle: Mapping[str, Any]) -> AttentionNet:
    """The trained attention net, in eval mode, on the CPU."""
    config = dict(bundle.get("model_config", {}).get("attention") or {})
    config["encoder_weights"] = None  # the trained weights replace any pretrained ones
    net = build_attention_net(config)
    net.load_state_dict(_state_dict(bundle, "attention", "attention"))
    warn_if_versions_differ(bundle.get("meta"), _described(bundle, "attention"))
    return net.eval()


def generator_from_bundle(bundle: Mapping[str, Any]) -> ShadowGenerator:
    """The trained shadow generator, in eval mode, on the CPU."""
    config = dict(bundle.get("model_config", {}).get("generator") or {})
    config["encoder_weights"] = None
    net = build_shadow_generator(config)
    net.load_state_dict(_state_dict(bundle, "generator", "generator"))
    warn_if_versions_differ(bundle.get("meta"), _described(bundle, "generator"))
    return net.eval()


def bundle_resolution(generator_bundle: Mapping[str, Any]) -> int:
    """The side length (pixels) the generator was trained at, from ``meta.resolution``."""
    resolution = int(generator_bundle.get("meta", {}).get("resolution", 0) or 0)
    if resolution <= 0:
        raise ValueError("The generator checkpoint does not record its resolution (meta.resolution)")
    return resolution


def shadow_inference_from_bundles(
    attention_bundle: Mapping[str, Any], generator_bundle: Mapping[str, Any], threshold: float = 0.5
) -> tuple[ShadowInference, int]:
    """The attention -> threshold -> generator model of two checkpoints (eval mode, CPU) and the
    resolution it runs at. Refuses checkpoints trained at different resolutions."""
    resolution = bundle_resolution(generator_bundle)
    attention_resolution = attention_bundle.get("meta", {}).get("resolution")
    if attention_resolution not in (None, resolution):
        raise ValueError(
            f"The attention checkpoint was trained at {attention_resolution} px but the generator at {resolution} px; "
            "they do not belong together"
        )
    model = ShadowInference(attention_from_bundle(attention_bundle), generator_from_bundle(generator_bundle), threshold)
    return model.eval(), resolution
