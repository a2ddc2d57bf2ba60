"""The paired families' networks, training task and checkpoint bundles.

The generator and the conditional PatchGAN come from the shared library
(:func:`gan_pipelines.models.build_generator` / ``build_discriminator``); this module adds
what the paired families know: how an input kind becomes the network input (a label map
one-hot, optionally with instance boundaries; a sketch as an image), the loss recipe (pix2pix:
GAN + 100 L1; Sketch2Color: + VGG16 feature L2 + total variation, real label 0.9, D every 2nd
batch), and checkpoints that carry their family so another family's checkpoint is refused.

At test time the generator runs in eval mode: BatchNorm uses its running statistics and dropout
is off, so a prediction is the same on every run (pix2pix kept train mode at test time; outputs
then vary per run).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.training.gan import PairedGANTask

GAN_MODES = ("vanilla", "lsgan")
LOSS_TERMS = ("adversarial", "l1", "perceptual", "tv")
MODEL_INPUT = "model_input"  # the batch key the task builds from the raw input kinds


class InputEncoder(nn.Module):
    """Raw input kind -> network input.

    ``labels``: int64 class map ``(N, 1, H, W)`` -> one-hot ``(N, label_nc, H, W)`` in {0, 1}
    (values outside ``0..label_nc-1``, e.g. an ignore value, give all zeros), plus with
    ``instance_edges`` one channel that is 1 where the instance id differs from a 4-neighbour
    (pix2pixHD's boundary map). ``rgb``: the image as it is (floats in [-1, 1]).
    """

    def __init__(self, input_type: str, label_nc: int = 0, instance_edges: bool = False) -> None:
        super().__init__()
        if input_type not in ("labels", "rgb"):
            raise ValueError(f"input type must be labels or rgb, got {input_type!r}")
        if input_type == "labels" and label_nc < 1:
            raise ValueError("label_nc must be a positive integer for a label-map input")
        self.input_type = input_type
        self.label_nc = int(label_nc)
        self.instance_edges = bool(instance_edges) and input_type == "labels"

    @property
    def channels(self) -> int:
        if self.input_type == "rgb":
            return 3
        return self.label_nc + int(self.instance_edges)

    def forward(self, raw: Tensor, instances: Tensor | None = None) -> Tensor:
        if self.input_type == "rgb":
            return raw.float()
        classes = torch.arange(self.label_nc, device=raw.device, dtype=raw.dtype).view(1, -1, 1, 1)
        encoded = (raw == classes).float()
        if self.instance_edges:
            if instances is None:
                raise ValueError("this model needs an instance map (instance_edges is on)")
            encoded = torch.cat([encoded, instance_boundaries(instances)], dim=1)
        return encoded


def instance_boundaries(instances: Tensor) -> Tensor:
    """``(N, 1, H, W)`` float, 1 where the instance id differs from a 4-neighbour."""
    edge = torch.zeros_like(instances, dtype=torch.bool)
    horizontal = instances[..., :, 1:] != instances[..., :, :-1]
    vertical = instances[..., 1:, :] != instances[..., :-1, :]
    edge[..., :, 1:] |= horizontal
    edge[..., :, :-1] |= horizontal
    edge[..., 1:, :] |= vertical
    edge[..., :-1, :] |= vertical
    return edge.float()


class PairedGenerator(nn.Module):
    """Encoder + generator: raw input (label map int64 / sketch in [-1, 1]) -> image in [-1, 1].
    What prediction and ONNX export run."""

    def __init__(self, encoder: InputEncoder, generator: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.generator = generator

    def forward(self, raw: Tensor, instances: Tensor | None = None) -> Tensor:
        return self.generator(self.encoder(raw, instances))


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


def input_config(params: Mapping[str, Any], kind_types: Mapping[str, str], section: str) -> dict[str, Any]:
    """``{kind, type, label_nc, instance_edges, instance_kind}`` of the train parameters."""
    kind = params.get("input_kind")
    if kind not in kind_types:
        raise ValueError(f"{section}.input_kind must be one of {', '.join(sorted(kind_types))}; got {kind!r}")
    input_type = kind_types[kind]
    if input_type == "mask":
        raise ValueError(f"{section}.input_kind {kind!r} is a mask kind; paired inputs are label maps or images")
    label_nc = params.get("label_nc") if input_type == "labels" else 0
    if input_type == "labels" and (isinstance(label_nc, bool) or not isinstance(label_nc, int) or not 1 <= label_nc <= 255):
        raise ValueError(f"{section}.label_nc must be an integer in 1..255 for a label-map input; got {label_nc!r}")
    edges = params.get("instance_edges", False)
    if not isinstance(edges, bool):
        raise ValueError(f"{section}.instance_edges must be true or false; got {edges!r}")
    instance_kind = params.get("instance_kind") if edges else None
    if edges and kind_types.get(instance_kind) != "labels":
        raise ValueError(f"{section}.instance_kind must name a label kind when instance_edges is on; got {instance_kind!r}")
    return {"kind": kind, "type": input_type, "label_nc": int(label_nc or 0), "instance_edges": edges,
            "instance_kind": instance_kind}


def network_configs(params: Mapping[str, Any], input_cfg: Mapping[str, Any], section: str) -> tuple[dict, dict]:
    """Generator and discriminator configs with the channel counts filled in from the input
    (a user-set channel count that disagrees is an error, not silently replaced)."""
    encoder = encoder_from_config(input_cfg)
    generator = dict(params.get("model") or {})
    discriminator = {"type": "patchgan", **dict(params.get("discriminator") or {})}
    for config, key, value, where in (
        (generator, "in_channels", encoder.channels, "model"),
        (generator, "out_channels", 3, "model"),
        (discriminator, "in_channels", encoder.channels + 3, "discriminator"),
    ):
        if key in config and config[key] != value:
            raise ValueError(f"{section}.{where}.{key} is {config[key]} but the input needs {value}; leave it out")
        config[key] = value
    return generator, discriminator


def encoder_from_config(input_cfg: Mapping[str, Any]) -> InputEncoder:
    return InputEncoder(input_cfg["type"], int(input_cfg.get("label_nc") or 0), bool(input_cfg.get("instance_edges")))


def size_multiple(generator_config: Mapping[str, Any]) -> int:
    """What the generator needs height and width to be divisible by."""
    from gan_pipelines.models.generators import ResnetGenerator, generator_defaults

    kind = generator_config.get("type", "unet")
    if kind == "unet":
        return 2 ** int(generator_config.get("num_downs", generator_defaults("unet")["num_downs"]))
    return 2 ** ResnetGenerator.n_downsampling


def check_resolution(resolution: int, generator_config: Mapping[str, Any], discriminator_config: Mapping[str, Any],
                     section: str) -> None:
    """Refuse a resolution the networks cannot take, saying what would work."""
    multiple = size_multiple(generator_config)
    if resolution % multiple:
        raise ValueError(
            f"resolution {resolution} px: the {generator_config.get('type', 'unet')} generator needs a multiple of "
            f"{multiple}; use e.g. {max(multiple, resolution // multiple * multiple)} or change {section}.model"
        )
    if discriminator_config.get("type", "patchgan") == "patchgan":
        n_layers = int(discriminator_config.get("n_layers", 3))
        side = resolution // 2**n_layers - 2  # NLayerPatchDiscriminator.output_size
        if side < 2:
            raise ValueError(
                f"resolution {resolution} px: a PatchGAN with n_layers={n_layers} leaves a {max(side, 0)}x{max(side, 0)} "
                f"map; use fewer layers ({section}.discriminator.n_layers) or a larger resolution (needs > 1x1)"
            )


# ---------------------------------------------------------------------------------------------
# losses and task
# ---------------------------------------------------------------------------------------------


def l1_loss(fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    return F.l1_loss(fake, target)


def tv_loss(fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    from gan_pipelines.models.gan_losses import total_variation_loss

    return total_variation_loss(fake)


class FeatureL2:
    """VGG16 relu3_3 feature L2 (mean over features) between the output and the target."""

    def __init__(self, perceptual: nn.Module) -> None:
        self.perceptual = perceptual

    def __call__(self, fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        self.perceptual.to(fake.device)
        return self.perceptual(fake, target)


class PairedTranslationTask(PairedGANTask):
    """:class:`PairedGANTask` whose input is encoded from the raw input kind first (one-hot label
    maps, instance boundaries): the batch gets ``model_input`` and the rest is the shared task."""

    def __init__(self, encoder: InputEncoder, input_kind: str, instance_kind: str | None, *args, **kwargs) -> None:
        super().__init__(*args, input_key=MODEL_INPUT, **kwargs)
        self.encoder = encoder
        self.raw_input_kind = input_kind
        self.instance_kind = instance_kind

    def _encoded(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        instances = batch[self.instance_kind] if self.instance_kind else None
        return {**batch, MODEL_INPUT: self.encoder(batch[self.raw_input_kind], instances)}

    def train_step(self, batch, step):
        return super().train_step(self._encoded(batch), step)

    def validation_step(self, batch, step):
        """The shared task's ``loss``, ``l1``, ``psnr``, plus ``l1_coarse``: L1 (0..1 scale) of
        4x4-average-pooled pictures. It scores colours and layout but not texture detail, which no
        input determines (a GAN's sharper, invented texture raises plain L1 while the picture gets
        better), so it is the default for choosing the best epoch."""
        encoded = self._encoded(batch)
        metrics = super().validation_step(encoded, step)
        with torch.no_grad(), step.autocast():
            fake = self.generator(encoded[MODEL_INPUT])
        fake01 = (fake.float().clamp(-1, 1) + 1) / 2
        target01 = (encoded[self.target_key].float() + 1) / 2
        metrics["l1_coarse"] = (F.avg_pool2d(fake01, 4) - F.avg_pool2d(target01, 4)).abs().mean().item()
        return metrics

    def sample_images(self, batch):
        return super().sample_images(self._encoded(batch))


# ---------------------------------------------------------------------------------------------
# bundles
# ---------------------------------------------------------------------------------------------


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
    """The trained encoder + generator (eval mode, CPU) and the bundle's input config."""
    from gan_pipelines.models.generators import build_generator

    check_family(bundle, family)
    config = bundle.get("model_config") or {}
    input_cfg = dict(config.get("input") or {})
    net = PairedGenerator(encoder_from_config(input_cfg), build_generator(dict(config["generator"])))
    net.generator.load_state_dict(bundle["state_dicts"]["generator"])
    return net.eval(), input_cfg
