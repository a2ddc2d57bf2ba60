"""The segmenter every arm trains, on arrays: one training phase, and prediction.

A phase is :func:`gan_pipelines.training.fit` of :class:`~gan_pipelines.training.segmentation.SegmentationTask`
(cross-entropy + soft Dice) on uint8 pictures ``(N, H, W, 3)`` and class maps ``(N, H, W)``,
fp32, from random weights (seeded) or from an earlier phase's weights; the lr is constant for
half the phase, then decays linearly; the last epoch is kept (no selection on any data), after
BatchNorm statistics are re-estimated on the phase's own training pictures (before the last
validation only). The validation set (the preprocess ``val`` split) is only logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gan_pipelines.families.segsynth.config import AugmentationParams, SegmenterParams

KINDS = {"image": "rgb", "target": "labels"}
PRECISION = "fp32"


def augmenter(params: AugmentationParams):
    """Arm A_aug's albumentations pipeline (flip, scale and shift, colour), label maps nearest."""
    import albumentations as A
    import cv2

    from gan_pipelines.training.data import AlbumentationsAugmenter, albumentations_target_names

    steps = [
        A.HorizontalFlip(p=params.hflip_p),
        A.Affine(scale=(1 - params.scale, 1 + params.scale), translate_percent=(-params.shift, params.shift),
                 interpolation=cv2.INTER_LINEAR, mask_interpolation=cv2.INTER_NEAREST, border_mode=cv2.BORDER_REFLECT_101,
                 p=1.0),
        A.ColorJitter(brightness=params.colour, contrast=params.colour, saturation=params.colour, hue=params.hue, p=1.0),
    ]
    names = albumentations_target_names(KINDS)
    return AlbumentationsAugmenter(A.Compose(steps, additional_targets={names["target"]: "mask"}), KINDS)


def train_phase(
    train: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray], params: SegmenterParams, *, num_classes: int,
    ignore_index: int | None, epochs: int, seed: int, init_state: Mapping[str, Any] | None = None,
    augment: bool = False, section: str = "segsynth.experiment",
) -> tuple[dict[str, Any], Any]:
    """Train one phase; return ``(state_dict, FitResult)``.

    Args:
        train / val: ``{"image": uint8 (N, H, W, 3), "target": int64 (N, H, W)}``.
        params: the validated ``experiment.segmenter`` block.
        epochs: this phase's epochs; ``seed`` seeds the init (when ``init_state`` is None), the
            shuffling and the augmentation.
        init_state: a segmenter state dict to start from (fine-tuning), or None.
        augment: apply :func:`augmenter` (arm A_aug).
    """
    from gan_pipelines.models.segmenter import build_segmenter
    from gan_pipelines.stages.training_setup import build_loaders
    from gan_pipelines.training import PairedImageDataset, TrainerConfig, fit, make_loader, seed_everything
    from gan_pipelines.training.segmentation import SegmentationTask

    seed_everything(seed)
    net = build_segmenter(params.model, num_classes)
    if init_state is not None:
        net.load_state_dict(init_state)
    loaders = {"batch_size": params.batch_size, "num_workers": 0, "training": {"device": params.device}}
    train_loader, val_loader = build_loaders(
        train, val, loaders, section, kinds=KINDS, augment=augmenter(params.augmentation) if augment else None, seed=seed)
    calibration = make_loader(PairedImageDataset({"image": train["image"]}, {"image": "rgb"}), params.batch_size,
                              shuffle=True, seed=seed)
    task = SegmentationTask(net, num_classes, params.lr, ignore_index=ignore_index, dice_weight=params.dice_weight,
                            calibration_batches=lambda: calibration, calibration_max_batches=params.calibration_batches,
                            calibration_start_epoch=epochs)  # only the kept (last) epoch needs it
    config = TrainerConfig(
        epochs=epochs, seed=seed, device=params.device, precision=PRECISION, monitor=None, scheduler="linear",
        lr_constant_epochs=epochs // 2, progress=params.progress, sample_every=10 ** 6, log_every_steps=50,
    )
    result = fit(task, train_loader, val_loader, config)
    return result.last_state_dicts["segmenter"], result


def predict_classes(state: Mapping[str, Any], params: SegmenterParams, num_classes: int, pictures: np.ndarray,
                    ) -> np.ndarray:
    """int64 ``(N, H, W)`` class maps of uint8 ``pictures`` ``(N, H, W, 3)`` by the segmenter with
    ``state`` (eval mode, fp32, batches of 64)."""
    from gan_pipelines.models.segmenter import SegmentationJudge, build_segmenter

    net = build_segmenter(params.model, num_classes)
    net.load_state_dict(state)
    return SegmentationJudge(net, batch_size=64, device=params.device).predict(pictures)
