"""CycleGAN's training task for the shared engine (:mod:`gan_pipelines.training.engine`).

Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks",
ICCV 2017; the step follows the reference's ``CycleGANModel.optimize_parameters``
(junyanz/pytorch-CycleGAN-and-pix2pix ``models/cycle_gan_model.py``): both generators first, with
both discriminators frozen, then both discriminators on images from history buffers.

Losses (images in [-1, 1], float32 math), with ``lambda_c`` = ``cycle_weight`` and
``lambda_i`` = ``identity_weight`` (the EFFECTIVE identity weight, see below)::

    fake_B = G_AB(a), rec_A = G_BA(fake_B), fake_A = G_BA(b), rec_B = G_AB(fake_A)
    g_loss = adversarial_weight * (lsgan(D_B(fake_B), real) + lsgan(D_A(fake_A), real))
           + lambda_c * (|rec_A - a|_1 + |rec_B - b|_1)
           + lambda_i * (|G_AB(b) - b|_1 + |G_BA(a) - a|_1)
    d_loss = 0.5 * (lsgan(D_A(a), real) + lsgan(D_A(pool_A(fake_A)), fake))
           + 0.5 * (lsgan(D_B(b), real) + lsgan(D_B(pool_B(fake_B)), fake))

``|x|_1`` is the mean absolute difference, ``lsgan`` the mean squared distance of the patch
logits to 1 (real) or 0 (fake) (:class:`~gan_pipelines.models.gan_losses.GANLoss` ``"lsgan"``).
The two halved discriminator losses are summed into one update of the ``discriminator``
optimiser (Adam over both D), as the reference's one ``optimizer_D`` step.

Identity weight, two conventions in the wild: the reference's ``--lambda_identity 0.5`` is
multiplied by the cycle weight (its ``loss_idt_A = L1 * lambda_B * lambda_identity``), so its
effective identity weight is 0.5 x 10 = 5; mmagic's ``loss_weight 0.5`` is the weight itself,
ten times smaller. :class:`CycleGANTask` takes the effective weight; the train node's
``identity_convention`` (``times_cycle`` or ``absolute``) says how ``loss_weights.identity``
becomes it (:func:`effective_identity_weight`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_pipelines.training.gan import ImageHistoryBuffer, frozen

IDENTITY_CONVENTIONS = ("times_cycle", "absolute")
POOLS = "history_buffers"  # the task module that holds both history buffers (saved with the run's state)


def effective_identity_weight(identity: float, cycle: float, convention: str) -> float:
    """The weight the identity L1 terms get in the generator loss.

    ``times_cycle`` (junyanz/pytorch-CycleGAN-and-pix2pix): ``identity * cycle``, e.g. 0.5 x 10 = 5.
    ``absolute`` (mmagic): ``identity`` as it is. Raises ValueError for another convention.
    """
    if convention not in IDENTITY_CONVENTIONS:
        raise ValueError(f"identity_convention must be one of {', '.join(IDENTITY_CONVENTIONS)}, got {convention!r}")
    return float(identity) * float(cycle) if convention == "times_cycle" else float(identity)


def _to_unit(images: Tensor) -> Tensor:
    return (images.float().clamp(-1.0, 1.0) + 1.0) / 2.0


class HistoryBuffers(nn.Module):
    """The two discriminators' history buffers as one module: ``fake_A`` (G_BA's pictures for
    D_A) and ``fake_B`` (G_AB's for D_B), seeded ``seed`` and ``seed + 1``."""

    def __init__(self, capacity: int, seed: int = 0) -> None:
        super().__init__()
        self.fake_A = ImageHistoryBuffer(capacity, seed=seed)
        self.fake_B = ImageHistoryBuffer(capacity, seed=seed + 1)


class CycleGANTask:
    """CycleGAN for :func:`~gan_pipelines.training.engine.fit` (see the module docstring for the
    losses and the step order).

    Batches: ``batch["A"]`` ``(N, 3, H, W)`` and ``batch["B"]`` ``(N, 3, H, W)`` in [-1, 1], from
    different scenes (:class:`~gan_pipelines.training.data.UnpairedImageDataset`); nothing is
    paired.

    Args:
        generators: ``{"G_AB": A -> B, "G_BA": B -> A}``, ``(N, 3, H, W)`` -> ``(N, 3, H, W)`` in
            [-1, 1].
        discriminators: ``{"D_A": judges domain A, "D_B": judges domain B}``, picture -> patch
            logits.
        gan_loss: ``gan_loss(prediction, target_is_real, for_discriminator=...)`` -> float32
            scalar (the reference: :class:`~gan_pipelines.models.gan_losses.GANLoss` ``"lsgan"``).
        adversarial_weight: weight of each generator's adversarial term (1).
        cycle_weight: weight of each cycle L1 term (``lambda_A = lambda_B = 10``).
        identity_weight: the EFFECTIVE weight of each identity L1 term (5 for the reference's
            ``lambda_identity 0.5``, see :func:`effective_identity_weight`); 0 skips the two
            identity passes.
        pool_size: history-buffer capacity per discriminator (50; 0: D sees the current fakes).
        pool_seed: seed of the buffers' draws.
        lr, betas: Adam settings of both optimisers (2e-4, (0.5, 0.999)).
        hparams: further settings to add to :attr:`hparams` (architecture, convention, ...).

    Attributes:
        modules: ``G_AB``, ``G_BA``, ``D_A``, ``D_B`` and ``history_buffers`` (the
            :class:`HistoryBuffers`, no parameters, registered so the engine saves the pools
            with the run's state and a resume continues with them).
        optimizers: ``generator`` (Adam over both G) and ``discriminator`` (Adam over both D).
        hparams: the loss weights, the GAN loss, pool size and seed, lr and betas (+ ``hparams``),
            in the engine's resume fingerprint: resuming with another weight is refused, naming it.

    Logged per step: ``g_loss``, ``g_adv_a2b`` / ``g_adv_b2a`` (LSGAN of D_B on fake B / D_A on
    fake A), ``cycle_a`` / ``cycle_b`` (L1 of rec_A / rec_B, [-1, 1] scale, unweighted),
    ``identity_a`` / ``identity_b`` (L1 of G_BA(a) - a / G_AB(b) - b, when on), ``d_loss``,
    ``d_a``, ``d_b`` (each D's halved loss).
    """

    def __init__(
        self,
        generators: Mapping[str, nn.Module],
        discriminators: Mapping[str, nn.Module],
        gan_loss: Any,
        *,
        adversarial_weight: float = 1.0,
        cycle_weight: float = 10.0,
        identity_weight: float = 5.0,
        pool_size: int = 50,
        pool_seed: int = 0,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        if set(generators) != {"G_AB", "G_BA"} or set(discriminators) != {"D_A", "D_B"}:
            raise ValueError(f"CycleGANTask needs generators G_AB, G_BA and discriminators D_A, D_B; got "
                             f"{sorted(generators)} and {sorted(discriminators)}")
        for label, value in (("adversarial_weight", adversarial_weight), ("cycle_weight", cycle_weight),
                             ("identity_weight", identity_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < 1:
            raise ValueError(f"lr must be a number in (0, 1), got {lr!r}")
        if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(0 <= b < 1 for b in betas)):
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        self.G_AB, self.G_BA = generators["G_AB"], generators["G_BA"]
        self.D_A, self.D_B = discriminators["D_A"], discriminators["D_B"]
        self.gan_loss = gan_loss
        self.adversarial_weight = float(adversarial_weight)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.pools = HistoryBuffers(pool_size, pool_seed)
        self.modules = {"G_AB": self.G_AB, "G_BA": self.G_BA, "D_A": self.D_A, "D_B": self.D_B, POOLS: self.pools}
        generator_parameters = [*self.G_AB.parameters(), *self.G_BA.parameters()]
        discriminator_parameters = [*self.D_A.parameters(), *self.D_B.parameters()]
        self.optimizers = {
            "generator": torch.optim.Adam(generator_parameters, lr=float(lr), betas=tuple(float(b) for b in betas)),
            "discriminator": torch.optim.Adam(discriminator_parameters, lr=float(lr),
                                              betas=tuple(float(b) for b in betas)),
        }
        own = {
            "gan_loss": {"class": f"{type(gan_loss).__module__}.{type(gan_loss).__qualname__}",
                         "mode": getattr(gan_loss, "mode", None)},
            "loss_weights": {"adversarial": self.adversarial_weight, "cycle": self.cycle_weight,
                             "identity_effective": self.identity_weight},
            "d_loss_factor": 0.5,
            "pool_size": int(pool_size),
            "pool_seed": int(pool_seed),
            "lr": float(lr),
            "betas": [float(b) for b in betas],
        }
        clash = sorted(set(own) & set(hparams or {}))
        if clash:
            raise ValueError(f"hparams may not redefine the task's own settings {clash}.")
        self.hparams = {**own, **dict(hparams or {})}

    # -- the pieces, each checked on known values by the tests --------------------------------
    def generator_losses(self, real_a: Tensor, real_b: Tensor, outputs: Mapping[str, Tensor],
                         d_fake_b: Any, d_fake_a: Any) -> dict[str, Tensor]:
        """The generator objective's terms and ``g_loss`` (float32 scalars) from the pictures
        (``outputs``: ``fake_B``, ``rec_A``, ``fake_A``, ``rec_B`` and, when the identity weight
        is > 0, ``idt_B`` = G_AB(b), ``idt_A`` = G_BA(a)) and the discriminators' outputs on the
        fakes (``d_fake_b`` = D_B(fake_B), ``d_fake_a`` = D_A(fake_A))."""
        terms = {
            "g_adv_a2b": self.gan_loss(d_fake_b, True, for_discriminator=False).float(),
            "g_adv_b2a": self.gan_loss(d_fake_a, True, for_discriminator=False).float(),
            "cycle_a": F.l1_loss(outputs["rec_A"].float(), real_a.float()),
            "cycle_b": F.l1_loss(outputs["rec_B"].float(), real_b.float()),
        }
        g_loss = (self.adversarial_weight * (terms["g_adv_a2b"] + terms["g_adv_b2a"])
                  + self.cycle_weight * (terms["cycle_a"] + terms["cycle_b"]))
        if self.identity_weight > 0:
            terms["identity_a"] = F.l1_loss(outputs["idt_A"].float(), real_a.float())
            terms["identity_b"] = F.l1_loss(outputs["idt_B"].float(), real_b.float())
            g_loss = g_loss + self.identity_weight * (terms["identity_a"] + terms["identity_b"])
        terms["g_loss"] = g_loss
        return terms

    def discriminator_loss(self, d_real: Any, d_fake: Any) -> Tensor:
        """One discriminator's halved loss ``0.5 * (lsgan(D(real), real) + lsgan(D(fake), fake))``."""
        return 0.5 * (self.gan_loss(d_real, True, for_discriminator=True).float()
                      + self.gan_loss(d_fake, False, for_discriminator=True).float())

    def translate_both(self, g_ab: nn.Module, g_ba: nn.Module, real_a: Tensor, real_b: Tensor,
                       identity: bool) -> dict[str, Tensor]:
        """The generator passes of one step, in the caller's autocast and grad mode:
        ``fake_B``, ``rec_A``, ``fake_A``, ``rec_B`` (+ ``idt_B``, ``idt_A`` with ``identity``),
        as float32."""
        fake_b = g_ab(real_a)
        fake_a = g_ba(real_b)
        outputs = {"fake_B": fake_b, "fake_A": fake_a, "rec_A": g_ba(fake_b), "rec_B": g_ab(fake_a)}
        if identity:
            outputs["idt_B"] = g_ab(real_b)
            outputs["idt_A"] = g_ba(real_a)
        return {key: value.float() for key, value in outputs.items()}

    # -- the engine's interface ---------------------------------------------------------------
    def train_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        identity = self.identity_weight > 0
        # 1. Both generators, the discriminators frozen (gradients reach the fakes, not D).
        with step.autocast():
            outputs = self.translate_both(step.module("G_AB"), step.module("G_BA"), real_a, real_b, identity)
        with frozen(self.D_A, self.D_B):
            with step.autocast():
                d_fake_b, d_fake_a = self.D_B(outputs["fake_B"]), self.D_A(outputs["fake_A"])
            logs = self.generator_losses(real_a, real_b, outputs, d_fake_b, d_fake_a)
            step.backward_and_step(logs["g_loss"], "generator")
        # 2. Both discriminators, on real pictures and on fakes drawn from the history buffers.
        pool_a = self.pools.fake_A.query(outputs["fake_A"].detach())
        pool_b = self.pools.fake_B.query(outputs["fake_B"].detach())
        with step.autocast():
            d_a, d_b = step.module("D_A"), step.module("D_B")
            predictions = (d_a(real_a), d_a(pool_a), d_b(real_b), d_b(pool_b))
        logs["d_a"] = self.discriminator_loss(predictions[0], predictions[1])
        logs["d_b"] = self.discriminator_loss(predictions[2], predictions[3])
        logs["d_loss"] = logs["d_a"] + logs["d_b"]
        step.backward_and_step(logs["d_loss"], "discriminator")
        return {key: value.detach() for key, value in logs.items()}

    def validation_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, float]:
        """Batch means, pictures mapped to [0, 1]: ``cycle_l1_a2b`` (L1 of G_BA(G_AB(a)) - a),
        ``cycle_l1_b2a`` (of G_AB(G_BA(b)) - b), ``identity_l1_a2b`` (of G_AB(b) - b: how much
        the A -> B generator changes a picture already in B), ``identity_l1_b2a`` (G_BA(a) - a),
        ``identity_l1`` (their mean) and ``loss``: the generator's reconstruction objective as
        trained (``cycle_weight * (cycle_a + cycle_b) + identity_weight * (identity_a +
        identity_b)`` on [-1, 1] pictures, the identity part at the effective weight, also when
        it is 0). The validation split has no pairs, so nothing paired is measured here."""
        real_a, real_b = batch["A"].float(), batch["B"].float()
        with torch.no_grad(), step.autocast():
            outputs = self.translate_both(self.G_AB, self.G_BA, real_a, real_b, identity=True)

        def l1(a: Tensor, b: Tensor) -> float:
            return (_to_unit(a) - _to_unit(b)).abs().mean().item()

        metrics = {
            "cycle_l1_a2b": l1(outputs["rec_A"], real_a),
            "cycle_l1_b2a": l1(outputs["rec_B"], real_b),
            "identity_l1_a2b": l1(outputs["idt_B"], real_b),
            "identity_l1_b2a": l1(outputs["idt_A"], real_a),
        }
        metrics["identity_l1"] = 0.5 * (metrics["identity_l1_a2b"] + metrics["identity_l1_b2a"])
        cycle = F.l1_loss(outputs["rec_A"], real_a) + F.l1_loss(outputs["rec_B"], real_b)
        identity = F.l1_loss(outputs["idt_A"], real_a) + F.l1_loss(outputs["idt_B"], real_b)
        metrics["loss"] = (self.cycle_weight * cycle + self.identity_weight * identity).item()
        return metrics

    def sample_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Up to 4 samples per direction, rows ``real A | fake B | rec A`` then rows
        ``real B | fake A | rec B`` (concatenated along the width): ``(2 n, 3, H, 3 W)`` in [0, 1]."""
        real_a, real_b = batch["A"][:4].float(), batch["B"][:4].float()
        with torch.no_grad():
            outputs = self.translate_both(self.G_AB, self.G_BA, real_a, real_b, identity=False)
        rows_a = torch.cat([_to_unit(real_a), _to_unit(outputs["fake_B"]), _to_unit(outputs["rec_A"])], dim=3)
        rows_b = torch.cat([_to_unit(real_b), _to_unit(outputs["fake_A"]), _to_unit(outputs["rec_B"])], dim=3)
        return torch.cat([rows_a, rows_b], dim=0)
