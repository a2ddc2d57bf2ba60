"""Training tasks of the shadow family for the generic engine (:mod:`gan_pipelines.training`).

A task owns its networks, optimisers and losses; the engine owns the loop, precision, logging
and checkpoints. Batches come from :class:`gan_pipelines.training.PairedImageDataset`: RGB in
[-1, 1] ``(N, 3, H, W)``, masks in {0, 1} ``(N, 1, H, W)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gan_pipelines.families.shadow.networks import (
    AttentionNet, ShadowGenerator, attention_to_generator_input, to_uint8_images,
)
from gan_pipelines.families.shadow.shadow_direction import direction_metrics
from gan_pipelines.metrics.segmentation import ber_from_counts, confusion_counts, iou_from_counts
from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.models.losses import PerceptualLoss, dice_loss
from gan_pipelines.training.gan import discriminator_step, frozen

ATTENTION_MASK_MODES = ("ground_truth", "predicted", "mixed")
MISSED_SHADOW_ERROR_DEG = 180.0  # angle error charged when the model drew no shadow (or there is no true one)


def to_signed(mask: torch.Tensor) -> torch.Tensor:
    """{0, 1} mask -> {-1, +1}, the range every network input uses."""
    return mask * 2.0 - 1.0


def region_mse(output: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pixels where ``region`` is 1, pooled over the batch.

    output, target: (N, C, H, W); region: (N, 1, H, W) in {0, 1}. A batch with no region pixel
    gives 0 (nothing to fit there), not NaN.
    """
    squared = (output - target).pow(2) * region
    return squared.sum() / (region.sum() * output.shape[1]).clamp_min(1.0)


def direction_scores(refined: torch.Tensor, batch: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Batch means of the shadow-direction metrics of ``shadow.evaluate`` (same definitions, same
    threshold: :func:`~gan_pipelines.families.shadow.shadow_direction.direction_metrics`), so that
    a checkpoint can be chosen by where its shadows point and not only by their pixel error.

    ``refined``: (N, 3, H, W) outputs in [-1, 1]; ``batch``: ``noshadow`` (N, 3, H, W) in [-1, 1],
    ``mask`` and ``shadow_mask`` (N, 1, H, W) in {0, 1}. Returns ``within_30deg`` (share of
    images whose shadow points within 30 degrees of the true one, 0..1) and ``angle_error_deg``
    (mean angle error, 0..180 degrees), where an image with no predicted shadow region, no true
    one or no object counts as :data:`MISSED_SHADOW_ERROR_DEG`: drawing nothing never pays.
    """
    predicted, noshadow = to_uint8_images(refined), to_uint8_images(batch["noshadow"])
    objects = (batch["mask"][:, 0] > 0.5).cpu().numpy()
    shadows = (batch["shadow_mask"][:, 0] > 0.5).cpu().numpy()
    errors = []
    for index in range(len(predicted)):
        error = math.nan
        if objects[index].any():  # no inserted object: no contact point to measure from
            error = direction_metrics(predicted[index], noshadow[index], objects[index], shadows[index])["shadow_angle_error_deg"]
        errors.append(MISSED_SHADOW_ERROR_DEG if math.isnan(error) else float(error))
    errors_array = np.asarray(errors)
    return {"within_30deg": float((errors_array <= 30.0).mean()), "angle_error_deg": float(errors_array.mean())}


class AttentionTask:
    """Dice loss on the two attention maps (robject, rshadow); IoU and BER on val."""

    def __init__(self, net: AttentionNet, lr: float, *, settings: Mapping[str, Any] | None = None) -> None:
        self.net = net
        self.modules = {"attention": net}
        self.optimizers = {"attention": torch.optim.Adam(net.parameters(), lr=lr)}
        # Part of the resume fingerprint: a resumed run with other settings is refused.
        self.hparams = {"lr": float(lr), **dict(settings or {})}

    def _loss(self, net: nn.Module, batch: dict[str, torch.Tensor], step) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        target = torch.cat([batch["robject"], batch["rshadow"]], dim=1).float()
        with step.autocast():
            logits = net(batch["noshadow"], to_signed(batch["mask"]))
        probs = torch.sigmoid(logits.float())
        return dice_loss(probs, target), probs, target

    def train_step(self, batch, step) -> dict[str, torch.Tensor]:
        loss, _, _ = self._loss(step.module("attention"), batch, step)
        step.backward_and_step(loss, "attention")
        return {"dice": loss.detach()}

    def validation_step(self, batch, step) -> dict[str, float]:
        loss, probs, target = self._loss(self.net, batch, step)
        counts = confusion_counts(probs, target)
        iou, ber = iou_from_counts(counts), ber_from_counts(counts)
        return {
            "loss": loss.item(),
            "iou": iou.mean().item(),
            "ber": ber.mean().item(),
            "iou_robject": iou[0].item(),
            "iou_rshadow": iou[1].item(),
        }

    def sample_images(self, batch) -> torch.Tensor:
        with torch.no_grad():
            probs = torch.sigmoid(self.net(batch["noshadow"][:4], to_signed(batch["mask"][:4])).float())
        rows = [
            (batch["noshadow"][:4].float() + 1) / 2,
            probs[:, 0:1].expand(-1, 3, -1, -1),
            probs[:, 1:2].expand(-1, 3, -1, -1),
        ]
        return torch.cat(rows, dim=0)


@dataclass(frozen=True)
class GeneratorLossWeights:
    """Generator loss = l2 * L2 + perceptual * Lper + adversarial * Ladv (reference 10, 1, 0.01)
    + shadow_region * L2 over the inserted object's true shadow pixels (not in the reference: 0)."""

    l2: float = 10.0
    perceptual: float = 1.0
    adversarial: float = 0.01
    shadow_region: float = 0.0


class ShadowGANTask:
    """Shadow generator + patch discriminator, LSGAN.

    Generator loss = l2 * (L2(coarse) + L2(refined)) + perceptual * VGG16 relu3_3 distance
    + adversarial * LSGAN(D(refined) -> 1) [+ shadow_region * the same L2s averaged over the
    pixels of ``shadow_mask`` only, the inserted object's true shadow], with D frozen in that
    pass; then D's step,
    0.5 * (LSGAN(D(real) -> 1) + LSGAN(D(refined, detached) -> 0)).

    ``attention_masks`` says which robject/rshadow maps the generator trains on:
    ``ground_truth`` (the reference; exposes the generator at inference to masks it never saw),
    ``predicted`` (the frozen attention net's thresholded maps, as at inference) or ``mixed``
    (each sample one or the other with probability 0.5). Validation always uses what inference
    uses: predicted maps when an attention net is given, else ground truth.
    """

    def __init__(
        self,
        generator: ShadowGenerator,
        discriminator: nn.Module,
        *,
        lr_generator: float,
        lr_discriminator: float,
        weights: GeneratorLossWeights = GeneratorLossWeights(),
        perceptual: PerceptualLoss | None = None,
        attention: AttentionNet | None = None,
        attention_masks: str = "ground_truth",
        seed: int = 0,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if attention_masks not in ATTENTION_MASK_MODES:
            raise ValueError(
                f"shadow.train_generator.attention_masks must be one of {ATTENTION_MASK_MODES}; got {attention_masks!r}"
            )
        if attention_masks != "ground_truth" and attention is None:
            raise ValueError(f"shadow.train_generator.attention_masks={attention_masks!r} needs a trained attention net")
        self.generator = generator
        self.discriminator = discriminator
        self.modules = {"generator": generator, "discriminator": discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=lr_generator),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=lr_discriminator),
        }
        self.weights = weights
        self.perceptual = perceptual
        self.attention = attention.eval().requires_grad_(False) if attention is not None else None
        self.attention_masks = attention_masks
        self.seed = seed
        self.gan_loss = GANLoss("lsgan")
        # Part of the resume fingerprint (with ``settings``: augmentation, the attention checkpoint
        # used, ...): a resumed run with other settings is refused, naming what differs.
        self.hparams = {
            "lr_generator": float(lr_generator),
            "lr_discriminator": float(lr_discriminator),
            "loss_weights": asdict(weights),
            "perceptual": perceptual is not None,
            "attention_masks": attention_masks,
            **dict(settings or {}),
        }

    # -- attention maps -----------------------------------------------------------------------
    def _predicted_maps(self, batch, step) -> tuple[torch.Tensor, torch.Tensor]:
        attention = self.attention.to(batch["noshadow"].device)
        with torch.no_grad(), step.autocast():
            logits = attention(batch["noshadow"], to_signed(batch["mask"]))
        return attention_to_generator_input(logits)

    def _attention_maps(self, batch, step, *, training: bool) -> tuple[torch.Tensor, torch.Tensor]:
        truth = to_signed(batch["robject"]), to_signed(batch["rshadow"])
        mode = self.attention_masks if training else ("predicted" if self.attention is not None else "ground_truth")
        if mode == "ground_truth":
            return truth
        predicted = self._predicted_maps(batch, step)
        if mode == "predicted":
            return predicted
        # mixed: a per-sample coin seeded by (seed, global step), so a resumed run flips the
        # same coins as an uninterrupted one.
        coins = torch.Generator().manual_seed(self.seed * 1_000_003 + step.global_step)
        pick = torch.rand(batch["noshadow"].shape[0], generator=coins) < 0.5
        pick = pick.view(-1, 1, 1, 1).to(predicted[0].device)
        return torch.where(pick, predicted[0], truth[0]), torch.where(pick, predicted[1], truth[1])

    # -- losses -------------------------------------------------------------------------------
    def _generate(self, generator: nn.Module, batch, step, *, training: bool):
        robject, rshadow = self._attention_maps(batch, step, training=training)
        with step.autocast():
            return generator(batch["noshadow"], to_signed(batch["mask"]), robject, rshadow)

    def _reconstruction_losses(self, output, target, shadow_mask, step) -> dict[str, torch.Tensor]:
        coarse, refined = output.coarse.float(), output.refined.float()
        losses = {"l2": F.mse_loss(coarse, target) + F.mse_loss(refined, target)}
        if self.weights.shadow_region > 0:
            losses["shadow_region_l2"] = region_mse(coarse, target, shadow_mask) + region_mse(refined, target, shadow_mask)
        if self.perceptual is not None:
            # One VGG pass over both outputs, and the target's features once (not twice). Under
            # the step's autocast, so that perceptual.precision auto runs VGG at its precision.
            with step.autocast():
                losses["perceptual"] = self.perceptual.pair(coarse, refined, target)
        return losses

    def train_step(self, batch, step) -> dict[str, torch.Tensor]:
        target = batch["shadow"].float()
        output = self._generate(step.module("generator"), batch, step, training=True)
        losses = self._reconstruction_losses(output, target, batch["shadow_mask"], step)
        # The generator's adversarial term needs gradients through D into the fake image but not
        # into D's weights (its own step zeroes them anyway): freezing D skips computing them.
        # The plain module, not its DDP wrapper: D is not being trained in this pass.
        with frozen(self.discriminator):
            with step.autocast():
                fake_score = self.discriminator(output.refined)
            losses["adversarial"] = self.gan_loss(fake_score, True, for_discriminator=False)
            generator_loss = self.weights.l2 * losses["l2"] + self.weights.adversarial * losses["adversarial"]
            if "perceptual" in losses:
                generator_loss = generator_loss + self.weights.perceptual * losses["perceptual"]
            if "shadow_region_l2" in losses:
                generator_loss = generator_loss + self.weights.shadow_region * losses["shadow_region_l2"]
            step.backward_and_step(generator_loss, "generator")

        # D sees the image alone (unconditional), as the reference did.
        discriminator_losses = discriminator_step(step, self.discriminator, self.gan_loss, batch["shadow"], output.refined)
        return {
            "generator": generator_loss.detach(),
            "discriminator": discriminator_losses["d_loss"],
            **{name: value.detach() for name, value in losses.items()},
        }

    def validation_step(self, batch, step) -> dict[str, float]:
        target = batch["shadow"].float()
        output = self._generate(self.generator, batch, step, training=False)
        losses = self._reconstruction_losses(output, target, batch["shadow_mask"], step)
        loss = self.weights.l2 * losses["l2"]
        if "perceptual" in losses:
            loss = loss + self.weights.perceptual * losses["perceptual"]
        # Error inside the inserted object's shadow, on the 0..255 scale (LRMSE of the protocol,
        # pooled over the batch): the number that says whether a shadow appeared where it should.
        local_rmse = region_mse(output.refined.float().clamp(-1, 1), target, batch["shadow_mask"]).sqrt() * 127.5
        return {
            "loss": loss.item(), "l2": losses["l2"].item(), "local_rmse": local_rmse.item(),
            **direction_scores(output.refined, batch),
        }

    def sample_images(self, batch) -> torch.Tensor:
        # Called by the engine after validation, with the modules in eval mode.
        with torch.no_grad():
            robject, rshadow = to_signed(batch["robject"][:4]), to_signed(batch["rshadow"][:4])
            output = self.generator(batch["noshadow"][:4], to_signed(batch["mask"][:4]), robject, rshadow)
        rows = [batch["noshadow"][:4], output.refined.clamp(-1, 1), batch["shadow"][:4]]
        return (torch.cat([row.float() for row in rows], dim=0) + 1) / 2
