"""A small semantic segmenter and the *segmentation judge* built from it.

The judge is the project's FCN-score network: trained on real images of a data set to predict
their label maps, it is then applied to generated images; how well it recovers the input
label map from them (pixel accuracy, mean class accuracy, mIoU) says how recognisable the
generated classes are, and its pooled encoder features give a feature space for Frechet/KID
distances between generated and real images (:mod:`gan_pipelines.metrics.distribution`).

:class:`Segmenter` is an smp U-Net (random init, or local ImageNet encoder weights through
:func:`gan_pipelines.models.pretrained.load_imagenet_encoder`; never a download) on RGB images
in [-1, 1] ``(N, 3, H, W)``; it returns class logits ``(N, C, H, W)``. Sides must be multiples
of ``2 ** encoder_depth``.

:class:`SegmentationJudge` wraps a trained segmenter for offline evaluation: uint8 images in,
numpy out, batched, eval mode, fp32 (so that scores do not depend on the device's precision).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_pipelines.library_versions import warn_if_versions_differ
from gan_pipelines.models.pretrained import ENCODER_IF_UNAVAILABLE, load_imagenet_encoder
from gan_pipelines.params import check_known_keys

JUDGE_FAMILY = "segmentation_judge"  # meta.family of a judge checkpoint
SEGMENTER_DEFAULTS: dict[str, Any] = {
    "encoder": "resnet18",
    "encoder_depth": 5,
    "decoder_channels": [128, 64, 32, 16, 16],  # one per encoder stage
    "encoder_weights": None,  # null | "imagenet" (local files only)
    "weights_path": None,  # a local .pth / .safetensors encoder state dict, looked at first
    "if_unavailable": "random",  # "random" (WARNING, random encoder) | "error"
}


def segmenter_settings(config: Mapping[str, Any] | None) -> dict[str, Any]:
    """``config`` over :data:`SEGMENTER_DEFAULTS`, checked (unknown keys, encoder name, widths)."""
    from segmentation_models_pytorch.encoders import get_encoder_names

    config = dict(config or {})
    check_known_keys(config, SEGMENTER_DEFAULTS, "model")
    settings = {**SEGMENTER_DEFAULTS, **config}
    names = get_encoder_names()
    if settings["encoder"] not in names:
        close = difflib.get_close_matches(str(settings["encoder"]), names, n=3)
        raise ValueError(
            f"unknown segmenter encoder {settings['encoder']!r}"
            + (f"; did you mean {close}?" if close else "; see segmentation_models_pytorch.encoders.get_encoder_names()")
        )
    depth = settings["encoder_depth"]
    if isinstance(depth, bool) or not isinstance(depth, int) or not 3 <= depth <= 5:
        raise ValueError(f"model.encoder_depth must be an integer in 3..5, got {depth!r}")
    channels = settings["decoder_channels"]
    if (
        not isinstance(channels, (list, tuple)) or len(channels) != depth
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
    ):
        raise ValueError(f"model.decoder_channels must be {depth} positive integers (one per encoder stage), got {channels!r}")
    if settings["encoder_weights"] not in (None, "imagenet"):
        raise ValueError(f"model.encoder_weights must be null or 'imagenet', got {settings['encoder_weights']!r}")
    if settings["if_unavailable"] not in ENCODER_IF_UNAVAILABLE:
        raise ValueError(f"model.if_unavailable must be one of {ENCODER_IF_UNAVAILABLE}, got {settings['if_unavailable']!r}")
    settings["decoder_channels"] = [int(c) for c in channels]
    return settings


class Segmenter(nn.Module):
    """smp U-Net from RGB in [-1, 1] to ``num_classes`` logits; :meth:`features` gives the
    global-average-pooled deepest encoder features ``(N, D)`` (D = 512 for resnet18/34)."""

    def __init__(
        self,
        num_classes: int,
        encoder: str = "resnet18",
        encoder_depth: int = 5,
        decoder_channels: Sequence[int] = (128, 64, 32, 16, 16),
    ) -> None:
        import segmentation_models_pytorch as smp

        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {num_classes!r}")
        self.num_classes = num_classes
        self.encoder_name = encoder
        self.encoder_depth = encoder_depth
        self.in_channels = 3
        unet = smp.Unet(
            encoder_name=encoder,
            encoder_depth=encoder_depth,
            encoder_weights=None,
            decoder_channels=tuple(int(c) for c in decoder_channels),
            in_channels=self.in_channels,
            classes=num_classes,
        )
        self.encoder, self.decoder, self.segmentation_head = unet.encoder, unet.decoder, unet.segmentation_head
        self.feature_size = int(self.encoder.out_channels[-1])
        self.weights_status = "random init"

    @property
    def multiple(self) -> int:
        return 2**self.encoder_depth

    def _check(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
        height, width = images.shape[-2:]
        if height % self.multiple or width % self.multiple:
            raise ValueError(
                f"image size {height}x{width} is not a multiple of {self.multiple} "
                f"(the segmenter's encoder downsamples {self.encoder_depth} times)"
            )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        return self.segmentation_head(self.decoder(self.encoder(images)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        return self.encoder(images)[-1].mean(dim=(2, 3))

    def logits_and_features(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(forward(images), features(images))`` from one encoder pass."""
        self._check(images)
        encoded = self.encoder(images)
        return self.segmentation_head(self.decoder(encoded)), encoded[-1].mean(dim=(2, 3))


def build_segmenter(config: Mapping[str, Any] | None, num_classes: int) -> Segmenter:
    """A :class:`Segmenter` from a ``model`` config (keys and defaults: :data:`SEGMENTER_DEFAULTS`);
    ``weights_status`` says whether local ImageNet weights were loaded."""
    settings = segmenter_settings(config)
    net = Segmenter(num_classes, settings["encoder"], settings["encoder_depth"], settings["decoder_channels"])
    if settings["encoder_weights"] == "imagenet":
        net.weights_status = load_imagenet_encoder(
            net.encoder, settings["encoder"], net.in_channels, weights_path=settings["weights_path"],
            if_unavailable=settings["if_unavailable"], depth=settings["encoder_depth"],
        )
    else:
        net.weights_status = "random init (encoder_weights: null)"
    return net


class SegmentationJudge:
    """A trained segmenter for offline evaluation.

    ``predict(images)`` -> int64 ``(N, H, W)`` class maps, ``features(images)`` -> float64
    ``(N, D)``, ``predict_with_features`` both from one pass; ``images`` are uint8 ``(N, H, W, 3)`` of the size the judge was trained at.
    Runs in eval mode (BatchNorm running statistics), fp32, ``batch_size`` images at a time on
    ``device`` (``"auto"``: CUDA > MPS > CPU).
    """

    def __init__(
        self,
        net: Segmenter,
        *,
        resolution: tuple[int, int] | None = None,
        ignore_index: int | None = None,
        batch_size: int = 16,
        device: str | torch.device = "auto",
    ) -> None:
        from gan_pipelines.training.device import select_device

        self.device = device if isinstance(device, torch.device) else select_device(str(device))
        self.net = net.eval().requires_grad_(False).to(self.device)
        self.num_classes = net.num_classes
        self.resolution = tuple(resolution) if resolution is not None else None
        self.ignore_index = ignore_index
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = batch_size

    def _batches(self, images: np.ndarray):
        array = np.asarray(images)
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"the judge takes uint8 RGB images (N, H, W, 3), got {array.dtype} {array.shape}")
        if self.resolution is not None and tuple(array.shape[1:3]) != self.resolution:
            raise ValueError(
                f"the judge was trained on {self.resolution[0]}x{self.resolution[1]} images; got "
                f"{array.shape[1]}x{array.shape[2]} (evaluate at the training resolution)"
            )
        for start in range(0, len(array), self.batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(array[start : start + self.batch_size]))
            yield chunk.to(self.device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)

    @torch.inference_mode()
    def predict(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, *np.shape(images)[1:3]), np.int64)
        return np.concatenate([self.net(b).argmax(dim=1).cpu().numpy() for b in self._batches(images)]).astype(np.int64)

    @torch.inference_mode()
    def features(self, images: np.ndarray) -> np.ndarray:
        if len(images) == 0:
            return np.zeros((0, self.net.feature_size), np.float64)
        return np.concatenate([self.net.features(b).double().cpu().numpy() for b in self._batches(images)])

    @torch.inference_mode()
    def predict_with_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(predict(images), features(images))`` from one pass of the network."""
        if len(images) == 0:
            return self.predict(images), self.features(images)
        classes, features = [], []
        for batch in self._batches(images):
            logits, pooled = self.net.logits_and_features(batch)
            classes.append(logits.argmax(dim=1).cpu().numpy())
            features.append(pooled.double().cpu().numpy())
        return np.concatenate(classes).astype(np.int64), np.concatenate(features)


def segmentation_judge_from_bundle(
    bundle: Mapping[str, Any], *, batch_size: int = 16, device: str | torch.device = "auto"
) -> SegmentationJudge:
    """The :class:`SegmentationJudge` of a checkpoint bundle written by a judge training node;
    any other checkpoint (``meta.family`` not :data:`JUDGE_FAMILY`) is refused, naming it."""
    if not isinstance(bundle, Mapping):
        raise ValueError(f"expected a segmentation judge checkpoint (a dict), got {type(bundle).__name__}")
    meta = bundle.get("meta") or {}
    family = meta.get("family")
    if family != JUDGE_FAMILY:
        raise ValueError(
            f"this checkpoint is not a segmentation judge: its meta.family is {family!r}, expected "
            f"{JUDGE_FAMILY!r}; pass the checkpoint written by the train_judge stage"
        )
    config = dict((bundle.get("model_config") or {}).get("segmenter") or {})
    num_classes = config.pop("num_classes", None)
    if num_classes is None:
        raise ValueError("the segmentation judge checkpoint does not record model_config.segmenter.num_classes")
    config["encoder_weights"] = None  # the trained weights replace any pretrained ones
    warn_if_versions_differ(meta, f"the segmentation judge checkpoint (trained {meta.get('trained_at', 'at an unknown time')})")
    net = build_segmenter(config, int(num_classes))
    try:
        state_dict = bundle["state_dicts"]["segmenter"]
    except (KeyError, TypeError):
        raise ValueError("the segmentation judge checkpoint has no 'segmenter' state dict") from None
    net.load_state_dict(state_dict)
    resolution = meta.get("resolution")
    return SegmentationJudge(
        net,
        resolution=tuple(int(v) for v in resolution) if resolution is not None else None,
        ignore_index=meta.get("ignore_index"),
        batch_size=batch_size,
        device=device,
    )
