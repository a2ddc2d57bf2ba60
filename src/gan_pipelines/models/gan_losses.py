"""Adversarial losses shared by the image-to-image GAN families.

- :class:`GANLoss`: vanilla (non-saturating), LSGAN and hinge objectives on discriminator logits,
  for single, multi-scale and feature-list discriminator outputs (the conventions of the
  pix2pix/CycleGAN, pix2pixHD and SPADE references).
- :func:`feature_matching_loss`: pix2pixHD's discriminator feature-matching loss.
- :func:`total_variation_loss`: anisotropic L1 total variation of an image batch.

Everything computes in float32 whatever the input dtype, so the numbers are the same inside a
``torch.autocast`` region (bf16/fp16 activations) as outside it, and the result is a float32
scalar tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GAN_MODES", "SCALE_REDUCTIONS", "GANLoss", "feature_matching_loss", "total_variation_loss"]

GAN_MODES = ("vanilla", "lsgan", "hinge")
SCALE_REDUCTIONS = ("mean", "sum")  # how a multi-scale discriminator's per-scale losses combine

# A discriminator output: logits, one tensor per scale, or one feature list per scale whose last
# entry is the logits (MultiScaleDiscriminator, return_features=True).
DiscriminatorOutput = Union[Tensor, Sequence[Tensor], Sequence[Sequence[Tensor]]]


def _scale_logits(prediction: DiscriminatorOutput) -> list[Tensor]:
    """The logits of each scale of a discriminator output (see :data:`DiscriminatorOutput`)."""
    if isinstance(prediction, Tensor):
        return [prediction]
    if not isinstance(prediction, (list, tuple)) or not prediction:
        raise ValueError(
            "prediction must be a Tensor, a non-empty list of Tensors or a non-empty list of "
            f"feature lists, got {type(prediction).__name__} {prediction!r:.80}"
        )
    logits = []
    for index, entry in enumerate(prediction):
        if isinstance(entry, (list, tuple)) and entry:
            entry = entry[-1]
        if not isinstance(entry, Tensor):
            raise ValueError(
                f"prediction[{index}] must be a Tensor (one scale's logits) or a non-empty list whose "
                f"last entry is the logits, got {type(entry).__name__}"
            )
        logits.append(entry)
    return logits


class GANLoss(nn.Module):
    """Adversarial loss on discriminator logits (no sigmoid in the discriminator).

    ``forward(prediction, target_is_real, for_discriminator=True)`` returns a float32 scalar:

    - ``"vanilla"``: binary cross-entropy with logits against the target label (Goodfellow et
      al., 2014). For the generator (``for_discriminator=False``) this is the non-saturating
      loss ``-log sigmoid(D(G(z)))``, mean ``softplus(-x)``.
    - ``"lsgan"``: mean squared distance to the target label (Mao et al., 2017), as pix2pix /
      CycleGAN / pix2pixHD.
    - ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018; SPADE): discriminator
      ``mean(relu(1 - x))`` on real, ``mean(relu(1 + x))`` on fake; generator ``-mean(x)``.
      Hinge has no labels: ``real_label`` / ``fake_label`` must keep their defaults.

    Targets: the discriminator's real target is ``real_label`` and its fake target
    ``fake_label``. ``real_label < 1`` is one-sided label smoothing (Salimans et al., 2016): it
    changes only the discriminator's real term; the generator (``for_discriminator=False``)
    always aims at 1. Note that the generator term must be asked for with
    ``for_discriminator=False``; ``forward(D(G(z)), True)`` with the default is the
    discriminator's real term, smoothed label included.

    ``prediction`` is a logits Tensor of any shape, a list of Tensors (one per scale), or a list
    of feature lists whose last entry is the logits (:class:`MultiScaleDiscriminator` or
    ``return_features=True``; the features are ignored). Each scale's loss is the mean over its
    elements; ``scale_reduction`` combines the scales:

    - ``"mean"`` (default): the mean over scales, as SPADE (NVlabs/SPADE ``GANLoss.__call__``
      divides the sum by ``len(input)``);
    - ``"sum"``: the sum over scales, as pix2pixHD (NVIDIA/pix2pixHD ``GANLoss.__call__`` adds
      each scale's loss), i.e. ``num_D`` times the mean. This keeps the adversarial term's weight
      relative to feature matching and VGG19 (both already averaged over scales) the paper's.

    A single Tensor is one scale, where both reductions agree.

    Raises ValueError for an unknown mode or ``scale_reduction``, invalid labels
    (``fake_label < real_label <= 1``; vanilla also needs ``fake_label >= 0``), a malformed
    ``prediction``, or ``for_discriminator=False`` with ``target_is_real=False`` (the generator
    aims at real).
    """

    def __init__(
        self, mode: str = "lsgan", real_label: float = 1.0, fake_label: float = 0.0, scale_reduction: str = "mean"
    ) -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"mode must be one of {list(GAN_MODES)}, got {mode!r}")
        if scale_reduction not in SCALE_REDUCTIONS:
            raise ValueError(f"scale_reduction must be one of {list(SCALE_REDUCTIONS)}, got {scale_reduction!r}")
        real_label, fake_label = float(real_label), float(fake_label)
        if mode == "hinge" and (real_label != 1.0 or fake_label != 0.0):
            raise ValueError(
                f"the hinge loss has no target labels: real_label and fake_label must be 1.0 and 0.0, "
                f"got {real_label} and {fake_label}"
            )
        if not fake_label < real_label <= 1.0:
            raise ValueError(f"labels must satisfy fake_label < real_label <= 1, got {fake_label} and {real_label}")
        if mode == "vanilla" and fake_label < 0.0:
            raise ValueError(f"vanilla (cross-entropy) labels must lie in [0, 1], got fake_label={fake_label}")
        self.mode = mode
        self.real_label = real_label
        self.fake_label = fake_label
        self.scale_reduction = scale_reduction

    def extra_repr(self) -> str:
        return (f"mode={self.mode!r}, real_label={self.real_label}, fake_label={self.fake_label}, "
                f"scale_reduction={self.scale_reduction!r}")

    def _target(self, target_is_real: bool, for_discriminator: bool) -> float:
        if not for_discriminator:
            return 1.0
        return self.real_label if target_is_real else self.fake_label

    def _scale_loss(self, logits: Tensor, target_is_real: bool, for_discriminator: bool) -> Tensor:
        x = logits.float()
        if self.mode == "hinge":
            if not for_discriminator:
                return -x.mean()
            return F.relu(1.0 - x).mean() if target_is_real else F.relu(1.0 + x).mean()
        target = torch.full_like(x, self._target(target_is_real, for_discriminator))
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(x, target)
        return F.mse_loss(x, target)

    def forward(
        self, prediction: DiscriminatorOutput, target_is_real: bool, for_discriminator: bool = True
    ) -> Tensor:
        if not for_discriminator and not target_is_real:
            raise ValueError(
                "the generator's adversarial loss aims at real: use target_is_real=True with for_discriminator=False"
            )
        scales = _scale_logits(prediction)
        with torch.autocast(device_type=scales[0].device.type, enabled=False):
            losses = torch.stack([self._scale_loss(logits, target_is_real, for_discriminator) for logits in scales])
            return losses.sum() if self.scale_reduction == "sum" else losses.mean()


def _scale_features(features: DiscriminatorOutput, name: str) -> list[list[Tensor]]:
    """Feature lists per scale: one list of Tensors is one scale, a list of lists is several."""
    if isinstance(features, (list, tuple)) and features and all(isinstance(f, Tensor) for f in features):
        return [list(features)]
    if (
        isinstance(features, (list, tuple))
        and features
        and all(isinstance(s, (list, tuple)) and all(isinstance(f, Tensor) for f in s) for s in features)
    ):
        return [list(s) for s in features]
    raise ValueError(
        f"{name} must be one discriminator's feature list (Tensors, last = logits) or a list of them "
        f"(one per scale), got {type(features).__name__}"
    )


def feature_matching_loss(real_features: DiscriminatorOutput, fake_features: DiscriminatorOutput) -> Tensor:
    """pix2pixHD discriminator feature-matching loss (Wang et al., CVPR 2018, eq. 4).

    Inputs: the discriminator outputs for the real and the generated image, each either one
    feature list ``[f_1, ..., f_T, logits]`` or a list of them, one per scale
    (:class:`MultiScaleDiscriminator` with ``return_features=True``). The last entry of every
    list (the logits) is ignored.

    ``sum_k (1 / num_D) * sum_i (4 / T_k) * mean|f_i(fake) - f_i(real)|`` with ``T_k`` the number
    of intermediate features of scale ``k``. For an :class:`NLayerPatchDiscriminator`,
    ``T = n_layers + 1``, so the layer weight is pix2pixHD's ``4 / (n_layers + 1)`` and the scale
    weight its ``1 / num_D``. Multiply by ``lambda_feat`` (10 in pix2pixHD and SPADE) yourself.

    The real features are detached (the loss trains the generator only). Float32 math. Raises
    ValueError when the two structures differ (scales, features per scale, shapes) or a scale has
    no intermediate features (build the discriminator with ``return_features=True``).
    """
    real_scales = _scale_features(real_features, "real_features")
    fake_scales = _scale_features(fake_features, "fake_features")
    if len(real_scales) != len(fake_scales):
        raise ValueError(f"real_features has {len(real_scales)} scales, fake_features {len(fake_scales)}")
    num_d = len(real_scales)
    device_type = fake_scales[0][0].device.type
    total: Tensor | None = None
    with torch.autocast(device_type=device_type, enabled=False):
        for index, (real, fake) in enumerate(zip(real_scales, fake_scales)):
            if len(real) != len(fake):
                raise ValueError(f"scale {index}: real has {len(real)} feature maps, fake {len(fake)}")
            if len(real) < 2:
                raise ValueError(
                    f"scale {index} has no intermediate features (only logits): build the discriminator "
                    "with return_features=True"
                )
            weight = (1.0 / num_d) * (4.0 / (len(real) - 1))
            for layer, (real_map, fake_map) in enumerate(zip(real[:-1], fake[:-1])):
                if real_map.shape != fake_map.shape:
                    raise ValueError(
                        f"scale {index} feature {layer}: real {tuple(real_map.shape)} and fake "
                        f"{tuple(fake_map.shape)} differ in shape"
                    )
                term = weight * F.l1_loss(fake_map.float(), real_map.detach().float())
                total = term if total is None else total + term
    assert total is not None
    return total


def total_variation_loss(image: Tensor) -> Tensor:
    """Anisotropic L1 total variation of a batch of images (N, C, H, W), any value range.

    ``mean|x[..., i+1, j] - x[..., i, j]| + mean|x[..., i, j+1] - x[..., i, j]|``: each direction's
    absolute differences are averaged over all its neighbour pairs (N*C*(H-1)*W vertical,
    N*C*H*(W-1) horizontal) and the two means are added. This equals kornia's
    ``total_variation(image, reduction="mean")`` averaged over its (N, C) output. A constant
    image gives 0. Float32 math.
    Raises ValueError unless the input is 4-D with H, W >= 2.
    """
    if image.ndim != 4 or image.shape[-2] < 2 or image.shape[-1] < 2:
        raise ValueError(f"total_variation_loss expects (N, C, H, W) with H, W >= 2, got {tuple(image.shape)}")
    x = image.float()
    vertical = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean()
    horizontal = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean()
    return vertical + horizontal
