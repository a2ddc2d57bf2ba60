"""The paired families' training task and its loss terms, for the generic engine
(:mod:`gan_pipelines.training`).

The loss recipes (chosen by ``train.loss_weights`` and ``train.gan_mode``, see
:mod:`gan_pipelines.families.paired.nodes.train`): pix2pix: GAN + 100 L1; Sketch2Color: + VGG16
feature L2 + total variation; pix2pixHD: LSGAN + 10 feature matching + 10 VGG19; SPADE: hinge +
10 feature matching + 10 VGG19 (+ 0.05 KL with the VAE). Each extra term is a callable
``(fake, target, batch) -> loss``; :class:`PairedTranslationTask` encodes the raw input kind into
the network input (:class:`~gan_pipelines.families.paired.networks.InputEncoder`) before the
shared paired GAN task runs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.families.paired.networks import InputEncoder, StyleVAEGenerator
from gan_pipelines.training.gan import PairedGANTask

GAN_MODES = ("vanilla", "lsgan", "hinge")
LOSS_TERMS = ("adversarial", "l1", "perceptual", "tv", "feature_matching", "vgg19", "kl")
MODEL_INPUT = "model_input"  # the batch key the task builds from the raw input kinds
# Batch keys under which the VAE task hands the style encoding to the KL term.
STYLE_MU, STYLE_LOGVAR = "style_mu", "style_logvar"


def l1_loss(fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    return F.l1_loss(fake, target)


def tv_loss(fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    from gan_pipelines.models.gan_losses import total_variation_loss

    return total_variation_loss(fake)


def kl_loss(fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
    """SPADE's KL term: KL(N(mu, exp(logvar)) || N(0, I)) of the style encoding of the target,
    SUMMED over batch and z dimensions as the reference (its weight 0.05 applies to the sum);
    ``mu``/``logvar`` come from the task's generate step under ``style_mu``/``style_logvar``."""
    from gan_pipelines.models.spade import kl_divergence

    if STYLE_MU not in batch:
        raise ValueError("the KL term needs a SPADE+VAE generator (model.use_vae: true)")
    return kl_divergence(batch[STYLE_MU], batch[STYLE_LOGVAR])


class PerceptualTerm:
    """A frozen perceptual loss as an extra generator term: ``loss(fake, target)``, e.g. VGG16
    relu3_3 feature L2 (Sketch2Color) or pix2pixHD's VGG19 loss (pix2pixHD, SPADE); moved to the
    fake's device on first use."""

    def __init__(self, perceptual: nn.Module) -> None:
        self.perceptual = perceptual

    def __call__(self, fake: Tensor, target: Tensor, batch: Mapping[str, Tensor]) -> Tensor:
        self.perceptual.to(fake.device)
        return self.perceptual(fake, target)


class PairedTranslationTask(PairedGANTask):
    """:class:`PairedGANTask` whose input is encoded from the raw input kind first (one-hot label
    maps, instance boundaries): the batch gets ``model_input`` and the rest is the shared task.

    With a :class:`StyleVAEGenerator` the target picture is encoded into ``mu, logvar``, z is
    sampled from them (train mode; ``mu`` in validation) and the KL term finds them in the batch
    (``style_mu``, ``style_logvar``; SPADE's training, Park et al. 2019). With a pix2pixHD
    :class:`~gan_pipelines.models.pix2pixhd.LocalEnhancer` and ``freeze_global_epochs`` > 0 the
    global part gets no gradient during the first ``freeze_global_epochs`` epochs of this fit
    (Wang et al. 2018: train the local enhancer on a fixed global generator, then fine-tune
    both); it is unfrozen from the next epoch on.
    """

    def __init__(self, encoder: InputEncoder, input_kind: str, instance_kind: str | None, *args,
                 freeze_global_epochs: int = 0, **kwargs) -> None:
        generator = args[0] if args else kwargs.get("generator")
        if isinstance(freeze_global_epochs, bool) or not isinstance(freeze_global_epochs, int) or freeze_global_epochs < 0:
            raise ValueError(f"freeze_global_epochs must be a non-negative integer, got {freeze_global_epochs!r}")
        if freeze_global_epochs and not hasattr(generator, "set_global_frozen"):
            raise ValueError("freeze_global_epochs needs a pix2pixHD generator with a local enhancer")
        hparams = dict(kwargs.pop("hparams", None) or {})
        if freeze_global_epochs:
            hparams["freeze_global_epochs"] = freeze_global_epochs
        super().__init__(*args, input_key=MODEL_INPUT, hparams=hparams, **kwargs)
        self.encoder = encoder
        self.raw_input_kind = input_kind
        self.instance_kind = instance_kind
        self.style_vae = isinstance(self.generator, StyleVAEGenerator)
        self.freeze_global_epochs = freeze_global_epochs

    def _encoded(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        instances = batch[self.instance_kind] if self.instance_kind else None
        return {**batch, MODEL_INPUT: self.encoder(batch[self.raw_input_kind], instances)}

    def generate(self, generator: nn.Module, condition: Tensor, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        if not self.style_vae:
            return generator(condition), {}
        fake, mu, logvar = generator(condition, style_image=batch[self.target_key].float())
        return fake, {STYLE_MU: mu, STYLE_LOGVAR: logvar}

    def train_step(self, batch, step):
        if self.freeze_global_epochs:
            frozen = step.epoch <= self.freeze_global_epochs
            if self.generator.global_frozen != frozen:
                self.generator.set_global_frozen(frozen)
        return super().train_step(self._encoded(batch), step)

    def validation_step(self, batch, step):
        """The shared task's ``loss``, ``l1``, ``psnr``, plus ``l1_coarse``: L1 (0..1 scale) of
        4x4-average-pooled pictures. It scores colours and layout but not texture detail, which no
        input determines (a GAN's sharper, invented texture raises plain L1 while the picture gets
        better), so pix2pix and Sketch2Color choose their best epoch by it (pix2pixhd, spade and
        spade_vae keep their last epoch, as their references: ``training.monitor: null``; a
        monitor that picked epoch 3 of 40 for spade_vae kept a blurry model). A SPADE+VAE generator is scored
        on the reconstruction of each val picture from its own style code (z = the encoder's mu)."""
        encoded = self._encoded(batch)
        metrics = super().validation_step(encoded, step)
        with torch.no_grad(), step.autocast():
            fake = self.generate(self.generator, encoded[MODEL_INPUT], encoded)[0]
        fake01 = (fake.float().clamp(-1, 1) + 1) / 2
        target01 = (encoded[self.target_key].float() + 1) / 2
        metrics["l1_coarse"] = (F.avg_pool2d(fake01, 4) - F.avg_pool2d(target01, 4)).abs().mean().item()
        return metrics

    def sample_images(self, batch):
        return super().sample_images(self._encoded(batch))
