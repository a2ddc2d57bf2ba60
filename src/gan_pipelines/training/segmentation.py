"""A training task for semantic segmentation (see :class:`gan_pipelines.training.engine.TrainingTask`).

Batches hold an RGB image in [-1, 1] ``(N, 3, H, W)`` and its class-index map, int64
``(N, 1, H, W)`` (kind ``"labels"`` of :class:`gan_pipelines.training.data.PairedImageDataset`).
Loss: pixel-wise cross-entropy, don't-care pixels (``ignore_index``) left out, averaged over the
counted pixels of the batch (a batch with none counts 0, instead of NaN); with ``dice_weight`` > 0
plus that weight times the soft Dice loss (:func:`soft_dice_loss`; CE + Dice is the usual recipe
of U-Net segmenters trained on few pictures, e.g. nnU-Net).

Validation reports ``loss``, ``pixel_acc``, ``mean_class_acc`` and ``miou`` (the definitions of
:func:`gan_pipelines.metrics.segmentation.segmentation_scores`) of the WHOLE validation set:
mean class accuracy and mIoU are not means of per-batch values, so the task sums one confusion
matrix over the epoch's validation batches and hands the engine, for each batch, the change
that batch makes to ``score * images seen`` divided by its size. The engine's size-weighted
mean of these contributions is then exactly the whole-set score. (With data-parallel workers
each worker scores its own share, and the engine averages the workers' scores.)

BatchNorm statistics ("precise BN"): validation runs the net in eval mode, on the running
means and variances that training accumulates with momentum 0.1. After the few hundred steps of a
short run these still carry the random-init statistics and those of much earlier weights, and the
eval-mode net can be far worse than the trained one. Given ``calibration_batches`` (e.g. the training
images, unaugmented), the task recomputes every BatchNorm's statistics over them (at most
``calibration_max_batches`` batches, cumulative average, no gradients) before each validation pass,
so validation and the checkpoint the engine keeps use statistics of the current weights. Training
itself (batch statistics) is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.metrics.segmentation import class_confusion_matrix, segmentation_scores

SCORE_NAMES = ("pixel_acc", "mean_class_acc", "miou")


def class_palette(num_classes: int) -> torch.Tensor:
    """A fixed, well-spread colour per class, ``(num_classes, 3)`` float in [0, 1] (for pictures)."""
    hues = (torch.arange(num_classes, dtype=torch.float64) * 0.618033988749895) % 1.0
    value = 0.55 + 0.45 * (torch.arange(num_classes) % 2).double()
    k = (torch.tensor([5.0, 3.0, 1.0], dtype=torch.float64)[None, :] + hues[:, None] * 6.0) % 6.0
    rgb = value[:, None] * (1.0 - 0.8 * torch.clamp(torch.minimum(k, 4.0 - k), 0.0, 1.0))
    return rgb.float()


def recalibrate_batchnorm(net: nn.Module, inputs: Iterable[torch.Tensor], step=None) -> int:
    """Reset every BatchNorm of ``net`` and recompute its running statistics as the cumulative
    average over ``inputs`` (forward passes in train mode, no gradients; under
    ``step.autocast()`` when a step context is given). Returns the number of batches used; the
    net's mode and the layers' momentum are restored."""
    import contextlib

    layers = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not layers:
        return 0
    momenta, was_training = [m.momentum for m in layers], net.training
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch weighs the same
    net.train()
    used = 0
    try:
        with torch.no_grad(), (step.autocast() if step is not None else contextlib.nullcontext()):
            for images in inputs:
                net(images)
                used += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        net.train(was_training)
    return used


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int | None = None,
                   eps: float = 1.0) -> torch.Tensor:
    """Multi-class soft Dice loss, ``1 - mean_c (2 |P_c . T_c| + eps) / (|P_c| + |T_c| + eps)``
    over all C classes (Milletari et al., V-Net, 2016, with the +1 smoothing of common
    implementations, so a class with no mass in target or prediction scores 1).

    ``logits``: float ``(N, C, H, W)``; ``target``: int64 ``(N, H, W)`` class indices, pixels equal
    to ``ignore_index`` left out. Returns a scalar in [0, 1]: 0 when the softmax puts all mass on
    the true class everywhere. Sums are over the whole batch (not per image), so a class absent
    from one image does not count as a perfect score there."""
    probs = logits.float().softmax(dim=1)
    num_classes = probs.shape[1]
    valid = torch.ones_like(target, dtype=torch.bool) if ignore_index is None else target != ignore_index
    onehot = F.one_hot(torch.where(valid, target, 0), num_classes).permute(0, 3, 1, 2).to(probs.dtype)
    weight = valid[:, None].to(probs.dtype)
    probs, onehot = probs * weight, onehot * weight
    intersection = (probs * onehot).sum(dim=(0, 2, 3))
    totals = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = (2 * intersection + eps) / (totals + eps)
    return 1.0 - dice.mean()


class SegmentationTask:
    """Cross-entropy training of a segmenter (a module from images to class logits).

    ``calibration_batches``: a callable returning an iterable of batches (dicts with
    ``image_key``, as a loader yields them) whose images recompute the BatchNorm statistics
    before each validation pass (see the module docstring); None keeps the running statistics.
    ``calibration_start_epoch`` (1-based): recompute them only from that epoch's validation on,
    e.g. only before the last epoch's when the last epoch is kept and earlier validations are only
    logged (they then use the running statistics).
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int,
        lr: float,
        *,
        ignore_index: int | None = None,
        image_key: str = "image",
        label_key: str = "target",
        calibration_batches: Callable[[], Iterable[Mapping[str, torch.Tensor]]] | None = None,
        calibration_max_batches: int = 100,
        settings: Mapping[str, Any] | None = None,
        dice_weight: float = 0.0,
        calibration_start_epoch: int = 1,
    ) -> None:
        self.net = net
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.image_key = image_key
        self.label_key = label_key
        self.calibration_batches = calibration_batches
        self.calibration_max_batches = int(calibration_max_batches)
        if not float(dice_weight) >= 0:
            raise ValueError(f"dice_weight must be >= 0, got {dice_weight!r}")
        self.dice_weight = float(dice_weight)
        self.calibration_start_epoch = int(calibration_start_epoch)
        self.modules = {"segmenter": net}
        self.optimizers = {"segmenter": torch.optim.Adam(net.parameters(), lr=lr)}
        # Part of the resume fingerprint: a resumed run with other settings is refused.
        self.hparams = {
            "lr": float(lr), "num_classes": self.num_classes, "ignore_index": ignore_index,
            "precise_batchnorm": self.calibration_max_batches if calibration_batches is not None else None,
            **({"dice_weight": self.dice_weight} if self.dice_weight else {}),
            **dict(settings or {}),
        }
        self._validation: dict[str, Any] | None = None

    def _loss(self, net: nn.Module, batch: Mapping[str, torch.Tensor], step) -> tuple[torch.Tensor, torch.Tensor]:
        target = batch[self.label_key][:, 0].long()
        with step.autocast():
            logits = net(batch[self.image_key])
        logits = logits.float()
        ignore = -100 if self.ignore_index is None else int(self.ignore_index)
        total = F.cross_entropy(logits, target, ignore_index=ignore, reduction="sum")
        counted = (target != ignore).sum().clamp(min=1)
        return total / counted, logits

    def train_step(self, batch, step) -> dict[str, torch.Tensor]:
        loss, logits = self._loss(step.module("segmenter"), batch, step)
        out = {"ce": loss.detach()}
        if self.dice_weight:
            dice = soft_dice_loss(logits, batch[self.label_key][:, 0].long(), self.ignore_index)
            loss = loss + self.dice_weight * dice
            out["dice"] = dice.detach()
        step.backward_and_step(loss, "segmenter")
        return out

    def _recalibrate(self, step) -> None:
        from itertools import islice

        from gan_pipelines.training.data import to_model_range

        def images():
            for batch in islice(self.calibration_batches(), self.calibration_max_batches):
                yield to_model_range(batch[self.image_key].to(step.device, non_blocking=True))

        recalibrate_batchnorm(self.net, images(), step)

    def validation_step(self, batch, step) -> dict[str, float]:
        key = (id(step), step.epoch)
        if self._validation is None or self._validation["key"] != key:  # a new validation pass
            if self.calibration_batches is not None and step.epoch >= self.calibration_start_epoch:
                self._recalibrate(step)
            self._validation = {
                "key": key, "confusion": np.zeros((self.num_classes, self.num_classes), np.int64),
                "seen": 0, "weighted": dict.fromkeys(SCORE_NAMES, 0.0),
            }
        loss, logits = self._loss(self.net, batch, step)
        target = batch[self.label_key][:, 0]
        size = int(target.shape[0])
        state = self._validation
        state["confusion"] += class_confusion_matrix(logits.argmax(dim=1), target, self.num_classes, self.ignore_index)
        state["seen"] += size
        out = {"loss": loss.item()}
        if state["confusion"].sum() == 0:
            # Nothing counted yet (all pixels don't-care so far): contribute nothing, so a later
            # batch's contribution carries the whole score. A validation set with no counted pixel
            # at all would score 0 here; the judge's training node refuses such a set up front.
            out.update(dict.fromkeys(SCORE_NAMES, 0.0))
            return out
        scores = segmentation_scores(state["confusion"])
        for name in SCORE_NAMES:
            weighted = scores[name] * state["seen"]
            out[name] = (weighted - state["weighted"][name]) / size
            state["weighted"][name] = weighted
        return out

    def sample_images(self, batch) -> torch.Tensor:
        """Rows: images, predicted classes, true classes (don't-care pixels black)."""
        images = batch[self.image_key][:4]
        with torch.no_grad():
            predicted = self.net(images).argmax(dim=1)
        target = batch[self.label_key][:4, 0].long()
        palette = class_palette(self.num_classes).to(images.device)

        def paint(classes: torch.Tensor) -> torch.Tensor:
            valid = (classes >= 0) & (classes < self.num_classes)
            colours = palette[classes.clamp(0, self.num_classes - 1)] * valid[..., None]
            return colours.permute(0, 3, 1, 2)

        return torch.cat([(images.float() + 1) / 2, paint(predicted), paint(target)], dim=0)
