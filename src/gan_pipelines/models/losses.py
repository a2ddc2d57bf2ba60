"""Losses shared by the GAN families: soft Dice, VGG16 perceptual and the pix2pixHD/SPADE VGG19
perceptual loss (the adversarial ones are in :mod:`gan_pipelines.models.gan_losses`).

All reduce in float32 whatever the input dtype. Their feature extractors run in float32 too, so
they give the same numbers inside a ``torch.autocast`` region (bf16/fp16 activations) as outside
it, except :class:`PerceptualLoss` with ``precision="auto"``, whose VGG convolutions follow the
caller's autocast (bf16 on a bf16 training step) while its distance stays float32.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PERCEPTUAL_REDUCTIONS = ("channel_sum", "mean")
PERCEPTUAL_PRECISIONS = ("fp32", "auto")
# relu1_1, relu2_1, relu3_1, relu4_1, relu5_1 in torchvision's vgg19().features, and pix2pixHD's
# weights for them (its VGGLoss, also SPADE's).
VGG19_LAYER_INDICES = (1, 6, 11, 20, 29)
VGG19_LAYER_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def dice_loss(probs: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """Soft Dice loss on probabilities (apply ``sigmoid`` to logits first), averaged over channels.

    For each channel c, with sums over the batch and all pixels:
    ``1 - (2 * sum(p * t) + eps) / (sum(p) + sum(t) + eps)``; the result is the mean over channels.
    ``eps`` smooths the ratio and makes a channel that is empty in both prediction and target
    cost 0. ``probs`` and ``target`` have shape (N, C, ...) with target in {0, 1}. Float32 math.
    """
    if probs.shape != target.shape:
        raise ValueError(f"dice_loss: probs {tuple(probs.shape)} and target {tuple(target.shape)} differ in shape")
    if probs.ndim < 2:
        raise ValueError(f"dice_loss expects (N, C, ...) tensors, got shape {tuple(probs.shape)}")
    probs = probs.float()
    target = target.float()
    dims = [0, *range(2, probs.ndim)]
    intersection = (probs * target).sum(dim=dims)
    total = probs.sum(dim=dims) + target.sum(dim=dims)
    return (1.0 - (2.0 * intersection + eps) / (total + eps)).mean()


class PerceptualLoss(nn.Module):
    """Distance between VGG16 relu3_3 feature maps of two images in [-1, 1].

    Images are mapped to [0, 1] by ``(x + 1) / 2`` and normalised with the ImageNet mean/std,
    which is what VGG16 was trained on (the reference code applied ``sigmoid`` instead: wrong).
    The generator output is not clamped first, so slightly out-of-range values keep their
    gradient.

    ``reduction``:
    - ``"channel_sum"`` (default): squared feature difference averaged over pixels, summed over the
      256 channels, averaged over the batch. This is piq's ``ContentLoss`` (which the reference
      used) to the digit, so the reference loss weights (10, 1, 0.01) keep their balance.
    - ``"mean"``: plain MSE over all feature values (= channel_sum / 256).

    ``precision``:
    - ``"fp32"`` (default): the extractor runs in float32 with autocast disabled, so the loss is
      the same inside ``torch.autocast`` as outside it.
    - ``"auto"``: the extractor's convolutions follow the caller's autocast (bf16 when the
      training step runs in bf16, float32 when it does not); the squared differences and their
      means are taken in float32 (the features are cast up first). On a bf16 CPU step at 256 px
      this makes the VGG passes, most of the shadow generator's step, about twice as fast; the
      loss and its gradient differ from ``"fp32"`` by bf16 rounding (a test bounds it).

    The feature extractor is frozen and always in eval mode (``train()`` does not change it).
    The result is a float32 scalar. The target gets no gradient.

    piq's ``ContentLoss`` itself is not used: its default constructor downloads VGG weights, it
    casts the extractor to the input's dtype on every call, runs under the caller's autocast, and
    runs every layer of the extractor it is given. A test checks that the numbers agree with it.
    """

    def __init__(self, features: nn.Sequential, reduction: str = "channel_sum", precision: str = "fp32") -> None:
        super().__init__()
        if reduction not in PERCEPTUAL_REDUCTIONS:
            raise ValueError(f"reduction must be one of {PERCEPTUAL_REDUCTIONS}, got {reduction!r}")
        if precision not in PERCEPTUAL_PRECISIONS:
            raise ValueError(f"precision must be one of {PERCEPTUAL_PRECISIONS}, got {precision!r}")
        self.features = features
        self.reduction = reduction
        self.precision = precision
        self.features.requires_grad_(False)
        self.features.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        """Keep the frozen extractor in eval mode whatever the caller asks."""
        super().train(mode)
        self.features.eval()
        return self

    def _features(self, image: torch.Tensor) -> torch.Tensor:
        x = (image.float() + 1.0) * 0.5
        return self.features((x - self.mean) / self.std)

    def _extractor_precision(self, device: torch.device):
        """The context the extractor runs in: autocast off (fp32) or the caller's own."""
        if self.precision == "auto":
            return nullcontext()
        return torch.autocast(device_type=device.type, enabled=False)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(prediction, target)
        with self._extractor_precision(prediction.device):
            predicted_features = self._features(prediction)
            with torch.no_grad():
                target_features = self._features(target)
            return self._distance(predicted_features, target_features)

    def pair(self, first: torch.Tensor, second: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``forward(first, target) + forward(second, target)`` with one extractor pass over
        both predictions and the target's features computed once."""
        _check_pair(first, target)
        _check_pair(second, target)
        with self._extractor_precision(first.device):
            features = self._features(torch.cat([first, second], dim=0))
            with torch.no_grad():
                target_features = self._features(target)
            first_features, second_features = features.chunk(2, dim=0)
            return self._distance(first_features, target_features) + self._distance(second_features, target_features)

    def _distance(self, predicted_features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
        squared = (predicted_features.float() - target_features.float()).pow(2)
        if self.reduction == "mean":
            return squared.mean()
        return squared.mean(dim=(2, 3)).sum(dim=1).mean()


class VGG19PerceptualLoss(nn.Module):
    """pix2pixHD's VGG19 perceptual loss (Wang et al., CVPR 2018, section 3.2; reference
    ``VGGLoss`` in NVIDIA/pix2pixHD and NVlabs/SPADE ``models/networks``).

    ``sum_i w_i * mean|phi_i(prediction) - phi_i(target)|`` over the VGG19 activations relu1_1,
    relu2_1, relu3_1, relu4_1, relu5_1 with weights 1/32, 1/16, 1/8, 1/4, 1 (L1 averaged over
    all elements of each map, batch included). Multiply by lambda (10 in both papers) yourself.

    ``features``: torchvision's ``vgg19().features`` or its first 30 layers (conv1_1 .. relu5_1),
    e.g. from :func:`gan_pipelines.models.pretrained.load_vgg19_features`; layers after relu5_1
    are not run. Images in [-1, 1] ``(N, 3, H, W)`` are mapped to [0, 1] and normalised with the
    ImageNet mean/std, which VGG19 was trained on (as :class:`PerceptualLoss`); the references
    feed the [-1, 1] image unnormalised, so their loss values differ in scale from these.

    The extractor is frozen and always in eval mode; float32 math with autocast off; the target
    gets no gradient. Returns a float32 scalar, 0 for identical images. Raises ValueError for a
    ``features`` with fewer than 30 layers and for inputs that are not two (N, 3, H, W) images
    of the same shape.
    """

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        needed = VGG19_LAYER_INDICES[-1] + 1
        if not isinstance(features, nn.Sequential) or len(features) < needed:
            size = f" of {len(features)} layers" if isinstance(features, nn.Sequential) else ""
            raise ValueError(
                f"VGG19PerceptualLoss needs VGG19's features up to relu5_1 (an nn.Sequential of at least "
                f"{needed} layers), got {type(features).__name__}{size}"
            )
        self.features = features[:needed]
        self.features.requires_grad_(False)
        self.features.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> VGG19PerceptualLoss:
        """Keep the frozen extractor in eval mode whatever the caller asks."""
        super().train(mode)
        self.features.eval()
        return self

    def _activations(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = ((image.float() + 1.0) * 0.5 - self.mean) / self.std
        activations = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in VGG19_LAYER_INDICES:
                activations.append(x)
        return activations

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(prediction, target, type(self).__name__)
        with torch.autocast(device_type=prediction.device.type, enabled=False):
            predicted = self._activations(prediction)
            with torch.no_grad():
                reference = self._activations(target)
            terms = [w * F.l1_loss(p, r) for w, p, r in zip(VGG19_LAYER_WEIGHTS, predicted, reference)]
            return torch.stack(terms).sum()


def _check_pair(prediction: torch.Tensor, target: torch.Tensor, owner: str = "PerceptualLoss") -> None:
    if prediction.shape != target.shape or prediction.ndim != 4 or prediction.shape[1] != 3:
        raise ValueError(
            f"{owner} expects two (N, 3, H, W) images of the same shape, got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
