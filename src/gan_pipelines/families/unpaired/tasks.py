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


def check_optimisation_settings(weights: Mapping[str, Any], lr: Any, betas: Any) -> None:
    """Refuse what a task's losses and Adam cannot take: each of ``weights`` (name -> value) a
    finite number >= 0, ``lr`` in (0, 1), ``betas`` two numbers in [0, 1). Raises ValueError
    naming the setting."""
    for label, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < 1:
        raise ValueError(f"lr must be a number in (0, 1), got {lr!r}")
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2
            and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")


def unit_l1(a: Tensor, b: Tensor) -> float:
    """Mean absolute difference of two picture batches mapped from [-1, 1] to [0, 1]."""
    return (_to_unit(a) - _to_unit(b)).abs().mean().item()


def cycle_identity_metrics(outputs: Mapping[str, Tensor], real_a: Tensor, real_b: Tensor, cycle_weight: float,
                           identity_weight: float) -> dict[str, float]:
    """The validation metrics CycleGAN's and U-GAT-IT's tasks share, batch means with pictures
    mapped to [0, 1]: ``cycle_l1_a2b`` (L1 of ``rec_A`` - a), ``cycle_l1_b2a`` (``rec_B`` - b),
    ``identity_l1_a2b`` (``idt_B`` = G_AB(b) - b: how much the A -> B generator changes a picture
    already in B), ``identity_l1_b2a`` (``idt_A`` - a), ``identity_l1`` (their mean), and
    ``loss``: ``cycle_weight * (cycle L1 a + b) + identity_weight * (identity L1 a + b)`` on
    [-1, 1] pictures, the generator's reconstruction objective as trained. ``outputs``: float
    tensors ``rec_A``, ``rec_B``, ``idt_A``, ``idt_B``."""
    metrics = {
        "cycle_l1_a2b": unit_l1(outputs["rec_A"], real_a),
        "cycle_l1_b2a": unit_l1(outputs["rec_B"], real_b),
        "identity_l1_a2b": unit_l1(outputs["idt_B"], real_b),
        "identity_l1_b2a": unit_l1(outputs["idt_A"], real_a),
    }
    metrics["identity_l1"] = 0.5 * (metrics["identity_l1_a2b"] + metrics["identity_l1_b2a"])
    cycle = F.l1_loss(outputs["rec_A"], real_a) + F.l1_loss(outputs["rec_B"], real_b)
    identity = F.l1_loss(outputs["idt_A"], real_a) + F.l1_loss(outputs["idt_B"], real_b)
    metrics["loss"] = (cycle_weight * cycle + identity_weight * identity).item()
    return metrics


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
        check_optimisation_settings({"adversarial_weight": adversarial_weight, "cycle_weight": cycle_weight,
                                     "identity_weight": identity_weight}, lr, betas)
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

        return cycle_identity_metrics(outputs, real_a, real_b, self.cycle_weight, self.identity_weight)

    def sample_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Up to 4 samples per direction, rows ``real A | fake B | rec A`` then rows
        ``real B | fake A | rec B`` (concatenated along the width): ``(2 n, 3, H, 3 W)`` in [0, 1]."""
        real_a, real_b = batch["A"][:4].float(), batch["B"][:4].float()
        with torch.no_grad():
            outputs = self.translate_both(self.G_AB, self.G_BA, real_a, real_b, identity=False)
        rows_a = torch.cat([_to_unit(real_a), _to_unit(outputs["fake_B"]), _to_unit(outputs["rec_A"])], dim=3)
        rows_b = torch.cat([_to_unit(real_b), _to_unit(outputs["fake_A"]), _to_unit(outputs["rec_B"])], dim=3)
        return torch.cat([rows_a, rows_b], dim=0)


# ---- U-GAT-IT ----
# U-GAT-IT's training task (Kim et al., ICLR 2020; the step of znxlwm/UGATIT-pytorch
# ``UGATIT.train``). Imports of this block:
from gan_pipelines.models.ugatit import clip_rho_  # noqa: E402

UGATIT_DISCRIMINATORS = {"A": ("D_A_global", "D_A_local"), "B": ("D_B_global", "D_B_local")}


def _heatmap_picture(heatmap: Tensor, size: tuple[int, int]) -> Tensor:
    """A CAM heatmap ``(N, 1, h, w)`` as a grey picture ``(N, 3, H, W)`` in [0, 1]: each one
    min-max scaled on its own (as the reference's ``cam`` helper), bilinearly up-sampled."""
    heatmap = heatmap.float()
    low = heatmap.amin(dim=(1, 2, 3), keepdim=True)
    high = heatmap.amax(dim=(1, 2, 3), keepdim=True)
    scaled = (heatmap - low) / (high - low).clamp_min(1e-8)
    return F.interpolate(scaled, size=size, mode="bilinear", align_corners=False).clamp(0, 1).expand(-1, 3, -1, -1)


class UGATITTask:
    """U-GAT-IT for :func:`~gan_pipelines.training.engine.fit`.

    Kim, Kim, Kang and Lee, "U-GAT-IT: Unsupervised Generative Attentional Networks with
    Adaptive Layer-Instance Normalization for Image-to-Image Translation", ICLR 2020; the step
    follows the reference's ``UGATIT.train`` (znxlwm/UGATIT-pytorch): the discriminators first,
    then the generators, then every AdaLIN / LIN ``rho`` clipped to [0, 1].

    Batches: ``batch["A"]`` and ``batch["B"]`` ``(N, 3, H, W)`` in [-1, 1], unpaired.

    Losses (float32 math; ``gan`` = ``gan_loss``, LSGAN by default: the mean squared distance to
    1 (real) or 0 (fake); ``bce`` = binary cross-entropy with logits; ``|x|_1`` the mean absolute
    difference). Every discriminator ``D`` returns ``(patch_logits, cam_logit, heatmap)`` and
    both its patch and its CAM logits are judged; ``adv(D, x, real)`` = ``gan(D(x).patch, real)
    + gan(D(x).cam, real)``::

        fake_B, cam_fake_B = G_AB(a)      fake_A, cam_fake_A = G_BA(b)
        idt_B,  cam_idt_B  = G_AB(b)      idt_A,  cam_idt_A  = G_BA(a)
        rec_A = G_BA(fake_B)              rec_B = G_AB(fake_A)

        d_a = w_adv * sum_{D in D_A_global, D_A_local} [adv(D, a, real) + adv(D, fake_A, fake)]
        d_b = likewise with D_B_global, D_B_local on b and fake_B;   d_loss = d_a + d_b
        g_adv_a2b = sum_{D in D_B_*} adv_G(D, fake_B)   g_adv_b2a = sum_{D in D_A_*} adv_G(D, fake_A)
        cycle_a = |rec_A - a|_1       identity_a = |idt_A - a|_1
        cam_a = bce(cam_fake_A, 1) + bce(cam_idt_A, 0)   (G_BA's CAM classifier: 1 for a picture
                of its source domain B, 0 for one of A)
        cam_b = bce(cam_fake_B, 1) + bce(cam_idt_B, 0)   (G_AB's: 1 for a, 0 for b)
        g_loss = w_adv (g_adv_a2b + g_adv_b2a) + w_cyc (cycle_a + cycle_b)
               + w_idt (identity_a + identity_b) + w_cam (cam_a + cam_b)

    ``adv_G`` aims both outputs at real. The D loss is not halved (the reference). The
    discriminators see the current fakes (no history buffer), made under ``no_grad``; each D
    judges real and fake pictures in one pass (the U-GAT-IT discriminator has no
    normalisation layer, so pictures do not interact; one difference: the reference's two
    passes make two spectral-norm power iterations per D in its D update, this one pass makes
    one). In the generator step each generator translates ``a`` and ``b`` in one pass (exact to
    rounding: every layer is per-picture). The identity passes run also when
    ``identity_weight`` is 0: the CAM loss needs them.

    Args:
        generators: ``{"G_AB", "G_BA"}``: :class:`~gan_pipelines.models.ugatit.UGATITGenerator`
            (anything whose ``forward(x, return_attention=True)`` returns ``(image, cam_logit
            (N, 2), heatmap)``).
        discriminators: ``{"D_A_global", "D_A_local", "D_B_global", "D_B_local"}``:
            :class:`~gan_pipelines.models.ugatit.UGATITDiscriminator` (``D_A_*`` judge domain
            A, i.e. G_BA's pictures).
        gan_loss: ``gan_loss(prediction, target_is_real, for_discriminator=...)`` -> float32
            scalar; None: :class:`~gan_pipelines.models.gan_losses.GANLoss` ``"lsgan"`` (the
            reference's MSE).
        adversarial_weight, cycle_weight, identity_weight, cam_weight: 1, 10, 10, 1000 (the
            paper's); finite and >= 0.
        lr, betas, weight_decay: Adam of both optimisers (1e-4, (0.5, 0.999), 1e-4; the weight
            decay is Adam's L2 term, as the reference's ``torch.optim.Adam(weight_decay=...)``).
        hparams: further settings to add to :attr:`hparams`.

    Raises ValueError for missing / extra networks or a bad number (naming the argument).

    Attributes:
        modules: the two generators and four discriminators by name.
        optimizers: ``generator`` (Adam over both G) and ``discriminator`` (over all four D).
        hparams: loss weights, GAN loss, lr, betas, weight decay (+ ``hparams``).

    Logged per step: ``g_loss``, ``g_adv_a2b``, ``g_adv_b2a``, ``cycle_a``, ``cycle_b``,
    ``identity_a``, ``identity_b``, ``cam_a``, ``cam_b`` (unweighted terms), ``d_loss``, ``d_a``,
    ``d_b`` (weighted by ``adversarial_weight``).
    """

    def __init__(
        self,
        generators: Mapping[str, nn.Module],
        discriminators: Mapping[str, nn.Module],
        gan_loss: Any = None,
        *,
        adversarial_weight: float = 1.0,
        cycle_weight: float = 10.0,
        identity_weight: float = 10.0,
        cam_weight: float = 1000.0,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 1e-4,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        wanted_d = {name for names in UGATIT_DISCRIMINATORS.values() for name in names}
        if set(generators) != {"G_AB", "G_BA"} or set(discriminators) != wanted_d:
            raise ValueError(f"UGATITTask needs generators G_AB, G_BA and discriminators {', '.join(sorted(wanted_d))}; "
                             f"got {sorted(generators)} and {sorted(discriminators)}")
        check_optimisation_settings({"adversarial_weight": adversarial_weight, "cycle_weight": cycle_weight,
                                     "identity_weight": identity_weight, "cam_weight": cam_weight,
                                     "weight_decay": weight_decay}, lr, betas)
        if gan_loss is None:
            from gan_pipelines.models.gan_losses import GANLoss

            gan_loss = GANLoss("lsgan")
        self.G_AB, self.G_BA = generators["G_AB"], generators["G_BA"]
        self.discriminators = {name: discriminators[name] for name in sorted(wanted_d)}
        self.gan_loss = gan_loss
        self.adversarial_weight = float(adversarial_weight)
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.cam_weight = float(cam_weight)
        self.modules = {"G_AB": self.G_AB, "G_BA": self.G_BA, **self.discriminators}
        adam = {"lr": float(lr), "betas": tuple(float(b) for b in betas), "weight_decay": float(weight_decay)}
        self.optimizers = {
            "generator": torch.optim.Adam([*self.G_AB.parameters(), *self.G_BA.parameters()], **adam),
            "discriminator": torch.optim.Adam(
                [p for d in self.discriminators.values() for p in d.parameters()], **adam),
        }
        own = {
            "gan_loss": {"class": f"{type(gan_loss).__module__}.{type(gan_loss).__qualname__}",
                         "mode": getattr(gan_loss, "mode", None)},
            "loss_weights": {"adversarial": self.adversarial_weight, "cycle": self.cycle_weight,
                             "identity": self.identity_weight, "cam": self.cam_weight},
            "lr": float(lr),
            "betas": [float(b) for b in betas],
            "weight_decay": float(weight_decay),
            "rho_clip": [0.0, 1.0],
        }
        clash = sorted(set(own) & set(hparams or {}))
        if clash:
            raise ValueError(f"hparams may not redefine the task's own settings {clash}.")
        self.hparams = {**own, **dict(hparams or {})}

    # -- the pieces, each checked on known values by the tests --------------------------------
    def adversarial_loss(self, outputs: Any, target_is_real: bool, for_discriminator: bool) -> Tensor:
        """``sum over outputs of gan(patch_logits) + gan(cam_logit)``: ``outputs`` is a list of
        discriminator results ``(patch_logits, cam_logit, ...)`` (global and local)."""
        total = torch.zeros((), dtype=torch.float32, device=outputs[0][0].device)
        for output in outputs:
            for logits in output[:2]:
                total = total + self.gan_loss(logits, target_is_real, for_discriminator=for_discriminator).float()
        return total

    def discriminator_loss(self, real_outputs: Any, fake_outputs: Any) -> Tensor:
        """One domain's discriminator loss: ``adversarial_weight * (adv(real outputs, real) +
        adv(fake outputs, fake))`` over its global and local D, patch and CAM logits (the
        reference's ``D_loss_A``)."""
        return self.adversarial_weight * (self.adversarial_loss(real_outputs, True, True)
                                          + self.adversarial_loss(fake_outputs, False, True))

    def generator_losses(self, real_a: Tensor, real_b: Tensor, outputs: Mapping[str, Tensor],
                         d_fake_a: Any, d_fake_b: Any) -> dict[str, Tensor]:
        """The generator objective's terms and ``g_loss`` (float32 scalars). ``outputs``:
        pictures ``fake_B``, ``fake_A``, ``rec_A``, ``rec_B``, ``idt_A`` (G_BA(a)), ``idt_B``
        (G_AB(b)) and CAM logits ``cam_fake_B``, ``cam_fake_A``, ``cam_idt_A``, ``cam_idt_B``
        ``(N, 2)``; ``d_fake_a`` = [D_A_global(fake_A), D_A_local(fake_A)], ``d_fake_b`` the
        same for D_B on fake_B (see the class docstring for the formula)."""

        def bce(logits: Tensor, target: float) -> Tensor:
            logits = logits.float()
            return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))

        def l1(image: Tensor, target: Tensor) -> Tensor:
            return F.l1_loss(image.float(), target.float())

        terms = {
            "g_adv_a2b": self.adversarial_loss(d_fake_b, True, False),
            "g_adv_b2a": self.adversarial_loss(d_fake_a, True, False),
            "cycle_a": l1(outputs["rec_A"], real_a),
            "cycle_b": l1(outputs["rec_B"], real_b),
            "identity_a": l1(outputs["idt_A"], real_a),
            "identity_b": l1(outputs["idt_B"], real_b),
            "cam_a": bce(outputs["cam_fake_A"], 1.0) + bce(outputs["cam_idt_A"], 0.0),
            "cam_b": bce(outputs["cam_fake_B"], 1.0) + bce(outputs["cam_idt_B"], 0.0),
        }
        terms["g_loss"] = (self.adversarial_weight * (terms["g_adv_a2b"] + terms["g_adv_b2a"])
                           + self.cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
                           + self.identity_weight * (terms["identity_a"] + terms["identity_b"])
                           + self.cam_weight * (terms["cam_a"] + terms["cam_b"]))
        return terms

    @staticmethod
    def translate_both(g_ab: nn.Module, g_ba: nn.Module, real_a: Tensor, real_b: Tensor) -> dict[str, Tensor]:
        """Every generator pass of one step, in the caller's autocast and grad mode: the
        pictures and CAM logits named in :meth:`generator_losses` plus the heatmaps
        ``heat_fake_B`` (G_AB on a), ``heat_fake_A`` (G_BA on b). Each generator translates
        its input and the picture already in its target domain in one pass."""
        n_a, n_b = real_a.shape[0], real_b.shape[0]
        image_ab, cam_ab, heat_ab = g_ab(torch.cat([real_a, real_b]), return_attention=True)
        image_ba, cam_ba, heat_ba = g_ba(torch.cat([real_b, real_a]), return_attention=True)
        outputs = {
            "fake_B": image_ab[:n_a], "idt_B": image_ab[n_a:], "cam_fake_B": cam_ab[:n_a], "cam_idt_B": cam_ab[n_a:],
            "fake_A": image_ba[:n_b], "idt_A": image_ba[n_b:], "cam_fake_A": cam_ba[:n_b], "cam_idt_A": cam_ba[n_b:],
            "heat_fake_B": heat_ab[:n_a], "heat_fake_A": heat_ba[:n_b],
        }
        outputs["rec_A"] = g_ba(outputs["fake_B"])
        outputs["rec_B"] = g_ab(outputs["fake_A"])
        return outputs

    def _judge(self, domain: str, images: Tensor, runner: Any = None) -> list[Any]:
        """``[D_<domain>_global(images), D_<domain>_local(images)]`` (``runner(name)`` gives the
        module to call: the engine's training wrapper, or the plain module)."""
        return [(runner(name) if runner else self.discriminators[name])(images)
                for name in UGATIT_DISCRIMINATORS[domain]]

    # -- the engine's interface ---------------------------------------------------------------
    def train_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        n_a, n_b = real_a.shape[0], real_b.shape[0]
        # 1. The four discriminators on real pictures and the current fakes (made without a graph).
        with torch.no_grad(), step.autocast():
            fake_b, fake_a = self.G_AB(real_a), self.G_BA(real_b)
        with step.autocast():
            # real and fake in one pass per discriminator (no norm layer: exact, see the docstring)
            judged_a = self._judge("A", torch.cat([real_a, fake_a.to(real_a.dtype)]), step.module)
            judged_b = self._judge("B", torch.cat([real_b, fake_b.to(real_b.dtype)]), step.module)
        logs = {
            "d_a": self.discriminator_loss([(p[:n_a], c[:n_a]) for p, c, _ in judged_a],
                                           [(p[n_a:], c[n_a:]) for p, c, _ in judged_a]),
            "d_b": self.discriminator_loss([(p[:n_b], c[:n_b]) for p, c, _ in judged_b],
                                           [(p[n_b:], c[n_b:]) for p, c, _ in judged_b]),
        }
        logs["d_loss"] = logs["d_a"] + logs["d_b"]
        step.backward_and_step(logs["d_loss"], "discriminator")
        # 2. Both generators, the discriminators frozen (gradients reach the fakes, not D).
        with step.autocast():
            outputs = self.translate_both(step.module("G_AB"), step.module("G_BA"), real_a, real_b)
        with frozen(*self.discriminators.values()):
            with step.autocast():
                d_fake_a, d_fake_b = self._judge("A", outputs["fake_A"]), self._judge("B", outputs["fake_B"])
            logs.update(self.generator_losses(real_a, real_b, outputs, d_fake_a, d_fake_b))
            step.backward_and_step(logs["g_loss"], "generator")
        # 3. rho back into [0, 1] after every generator update (the paper's constraint).
        clip_rho_(self.G_AB)
        clip_rho_(self.G_BA)
        return {key: value.detach() for key, value in logs.items()}

    def validation_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, float]:
        """The same keys as :meth:`CycleGANTask.validation_step`, batch means on pictures mapped
        to [0, 1]: ``cycle_l1_a2b`` (L1 of G_BA(G_AB(a)) - a), ``cycle_l1_b2a``,
        ``identity_l1_a2b`` (of G_AB(b) - b), ``identity_l1_b2a`` (G_BA(a) - a),
        ``identity_l1`` (their mean) and ``loss`` = ``cycle_weight * (cycle_a + cycle_b) +
        identity_weight * (identity_a + identity_b)`` on [-1, 1] pictures (the reconstruction
        part of the generator objective; no pairs, no discriminator)."""
        real_a, real_b = batch["A"].float(), batch["B"].float()
        with torch.no_grad(), step.autocast():
            outputs = self.translate_both(self.G_AB, self.G_BA, real_a, real_b)
        outputs = {key: value.float() for key, value in outputs.items()}

        return cycle_identity_metrics(outputs, real_a, real_b, self.cycle_weight, self.identity_weight)

    def sample_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Up to 4 samples per direction, rows ``real A | fake B | rec A | G_AB's attention``
        then ``real B | fake A | rec B | G_BA's attention`` (concatenated along the width; the
        attention heatmap of the translation pass min-max scaled per picture, bilinearly
        up-sampled, grey): ``(2 n, 3, H, 4 W)`` in [0, 1]."""
        real_a, real_b = batch["A"][:4].float(), batch["B"][:4].float()
        with torch.no_grad():
            outputs = self.translate_both(self.G_AB, self.G_BA, real_a, real_b)
        size = tuple(real_a.shape[2:])
        rows_a = torch.cat([_to_unit(real_a), _to_unit(outputs["fake_B"]), _to_unit(outputs["rec_A"]),
                            _heatmap_picture(outputs["heat_fake_B"], size)], dim=3)
        rows_b = torch.cat([_to_unit(real_b), _to_unit(outputs["fake_A"]), _to_unit(outputs["rec_B"]),
                            _heatmap_picture(outputs["heat_fake_A"], tuple(real_b.shape[2:]))], dim=3)
        return torch.cat([rows_a, rows_b], dim=0)


# ---- MUNIT ----
# MUNIT (Huang et al., ECCV 2018); the step follows the reference's MUNIT_Trainer (NVlabs/MUNIT
# ``trainer.py``) as its ``train.py`` loop calls it: ``dis_update`` first, then ``gen_update``.

from gan_pipelines.models.gan_losses import GANLoss as _MUNITGANLoss

MUNIT_SAMPLE_STYLE_SEED = 0  # the two fixed random style codes of sample_images


class MUNITTask:
    """MUNIT for :func:`~gan_pipelines.training.engine.fit`.

    Batches: ``batch["A"]`` and ``batch["B"]``, ``(N, 3, H, W)`` in [-1, 1], from different
    scenes; nothing is paired.

    One step, as the reference's loop (``trainer.dis_update`` then ``trainer.gen_update``), each
    update with its own style codes ``s_a``, ``s_b`` ~ N(0, I) ``(N, style_dim, 1, 1)`` drawn from
    torch's global generator (on the batch's device), ``s_a`` first:

    1. discriminators: ``x_ba = G_A.decode(c_b, s_a)``, ``x_ab = G_B.decode(c_a, s_b)`` (no
       gradient into G); ``d_a = lsgan_D(D_A(a), D_A(x_ba))``, ``d_b = lsgan_D(D_B(b), D_B(x_ab))``,
       ``d_loss = adversarial_weight * (d_a + d_b)`` (the reference weights the D loss by
       ``gan_w`` too), one step of the ``discriminator`` optimiser.
    2. generators, both discriminators frozen::

           c_a, s_a' = G_A.encode(a)             c_b, s_b' = G_B.encode(b)
           x_a_recon = G_A.decode(c_a, s_a')     x_b_recon = G_B.decode(c_b, s_b')
           x_ba = G_A.decode(c_b, s_a)           x_ab = G_B.decode(c_a, s_b)
           c_b_recon, s_a_recon = G_A.encode(x_ba)   c_a_recon, s_b_recon = G_B.encode(x_ab)
           x_aba = G_A.decode(c_a_recon, s_a')   x_bab = G_B.decode(c_b_recon, s_b')   (cycle_weight > 0)

           g_loss = adversarial_weight * (lsgan_G(D_B(x_ab)) + lsgan_G(D_A(x_ba)))
                  + image_weight * (|x_a_recon - a| + |x_b_recon - b|)
                  + style_weight * (|s_a_recon - s_a| + |s_b_recon - s_b|)
                  + content_weight * (|c_a_recon - c_a| + |c_b_recon - c_b|)
                  + cycle_weight * (|x_aba - a| + |x_bab - b|)

       ``|.|`` the mean absolute difference (the reference's ``recon_criterion``; the content
       target ``c_a`` is not detached, as the reference), ``lsgan_G(D(x)) = sum over scales
       mean((D_s(x) - 1)**2)``, ``lsgan_D(D(real), D(fake)) = sum over scales mean(D_s(fake)**2)
       + mean((D_s(real) - 1)**2)`` (the reference's ``calc_gen_loss`` / ``calc_dis_loss``: a SUM
       over the scales, :class:`~gan_pipelines.models.gan_losses.GANLoss` ``"lsgan"`` with
       ``scale_reduction="sum"``); one step of the ``generator`` optimiser. All losses in float32.

    The reference's optional domain-invariant VGG loss (``vgg_w``, 0 in its edges2shoes config,
    and its loader downloads weights) is not implemented.

    Args:
        generators: ``{"G_A", "G_B"}``, each domain's
            :class:`~gan_pipelines.models.munit.MUNITAutoencoder` (anything with its
            ``forward(x, style=None, mode=...)`` and ``style_dim``).
        discriminators: ``{"D_A": judges domain A, "D_B": judges domain B}``, multi-scale
            (:class:`~gan_pipelines.models.munit.MUNITDiscriminator`) or single logit maps.
        adversarial_weight, image_weight, style_weight, content_weight, cycle_weight: the
            reference's ``gan_w`` 1, ``recon_x_w`` 10, ``recon_s_w`` 1, ``recon_c_w`` 1,
            ``recon_x_cyc_w`` (0 in edges2shoes, 10 in its pixel-aligned configs; 0 skips the
            two cycle decodes). Finite numbers >= 0.
        lr, betas, weight_decay: Adam of both optimisers (1e-4, (0.5, 0.999), 1e-4: the
            reference's; its halving every 100 k iterations is the engine's scheduler's job).
        hparams: further settings for :attr:`hparams` (architecture, schedule, ...).

    Attributes:
        modules: ``G_A``, ``G_B``, ``D_A``, ``D_B``.
        optimizers: ``generator`` (Adam over both auto-encoders), ``discriminator`` (over both D).
        hparams: the loss weights, the GAN loss, the step order, the style prior, Adam's settings
            (+ ``hparams``), in the engine's resume fingerprint.

    Logged per step (unweighted terms, [-1, 1] pictures): ``g_loss``, ``g_adv_a2b`` (LSGAN of D_B
    on x_ab), ``g_adv_b2a`` (of D_A on x_ba), ``recon_x_a``, ``recon_x_b``, ``recon_s_a``,
    ``recon_s_b``, ``recon_c_a``, ``recon_c_b`` (+ ``cycle_a``, ``cycle_b`` with a cycle weight),
    ``d_loss``, ``d_a``, ``d_b``.

    Raises ValueError for other module names, a generator without ``style_dim``, a negative or
    non-finite weight, lr outside (0, 1), betas outside [0, 1), a negative weight decay, or
    ``hparams`` that redefine the task's own settings.
    """

    GENERATOR_NAMES = ("G_A", "G_B")
    DISCRIMINATOR_NAMES = ("D_A", "D_B")

    def __init__(
        self,
        generators: Mapping[str, nn.Module],
        discriminators: Mapping[str, nn.Module],
        *,
        adversarial_weight: float = 1.0,
        image_weight: float = 10.0,
        style_weight: float = 1.0,
        content_weight: float = 1.0,
        cycle_weight: float = 0.0,
        mean_style_p: float = 0.0,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 1e-4,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        if not 0.0 <= mean_style_p <= 1.0:  # also refuses NaN
            raise ValueError(f"mean_style_p must be a probability in [0, 1], got {mean_style_p!r}")
        if set(generators) != set(self.GENERATOR_NAMES) or set(discriminators) != set(self.DISCRIMINATOR_NAMES):
            raise ValueError(f"MUNITTask needs generators G_A, G_B and discriminators D_A, D_B; got "
                             f"{sorted(generators)} and {sorted(discriminators)}")
        weights = {"adversarial_weight": adversarial_weight, "image_weight": image_weight,
                   "style_weight": style_weight, "content_weight": content_weight, "cycle_weight": cycle_weight,
                   "weight_decay": weight_decay}
        check_optimisation_settings(weights, lr, betas)
        for name in self.GENERATOR_NAMES:
            style_dim = getattr(generators[name], "style_dim", None)
            if isinstance(style_dim, bool) or not isinstance(style_dim, int) or style_dim < 1:
                raise ValueError(f"generator {name} must be a MUNIT auto-encoder with a positive int style_dim, "
                                 f"got {type(generators[name]).__name__} with style_dim {style_dim!r}")
        self.G_A, self.G_B = generators["G_A"], generators["G_B"]
        self.D_A, self.D_B = discriminators["D_A"], discriminators["D_B"]
        self.adversarial_weight = float(adversarial_weight)
        self.image_weight = float(image_weight)
        self.style_weight = float(style_weight)
        self.content_weight = float(content_weight)
        self.cycle_weight = float(cycle_weight)
        self.mean_style_p = float(mean_style_p)
        # the reference sums the per-scale LSGAN losses (calc_gen_loss / calc_dis_loss)
        self.gan_loss = _MUNITGANLoss("lsgan", scale_reduction="sum")
        self.modules = {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}
        adam = {"lr": float(lr), "betas": tuple(float(b) for b in betas), "weight_decay": float(weight_decay)}
        self.optimizers = {
            "generator": torch.optim.Adam([*self.G_A.parameters(), *self.G_B.parameters()], **adam),
            "discriminator": torch.optim.Adam([*self.D_A.parameters(), *self.D_B.parameters()], **adam),
        }
        own = {
            "gan_loss": {"mode": "lsgan", "scale_reduction": "sum"},
            "loss_weights": {"adversarial": self.adversarial_weight, "image": self.image_weight,
                             "style": self.style_weight, "content": self.content_weight, "cycle": self.cycle_weight},
            "step_order": "discriminator_then_generator",
            "style_prior": "normal(0, 1)",
            "mean_style_p": self.mean_style_p,
            "lr": float(lr),
            "betas": [float(b) for b in betas],
            "weight_decay": float(weight_decay),
        }
        clash = sorted(set(own) & set(hparams or {}))
        if clash:
            raise ValueError(f"hparams may not redefine the task's own settings {clash}.")
        self.hparams = {**own, **dict(hparams or {})}

    # -- style codes ------------------------------------------------------------------------
    @staticmethod
    def random_styles(generator: nn.Module, like: Tensor) -> Tensor:
        """``(N, style_dim, 1, 1)`` codes from N(0, I), torch's global generator, ``like``'s device."""
        return torch.randn(like.shape[0], generator.style_dim, 1, 1, device=like.device)

    def training_styles(self, generator: nn.Module, like: Tensor) -> Tensor:
        """The codes one update trains with: :meth:`random_styles`, each row replaced by zeros (the
        prior's mean) with probability ``mean_style_p`` (drawn after the codes, only when it is
        above 0, so that 0 is the reference's stream exactly)."""
        styles = self.random_styles(generator, like)
        if self.mean_style_p > 0:
            keep = torch.rand(like.shape[0], 1, 1, 1, device=like.device) >= self.mean_style_p
            styles = styles * keep
        return styles

    @staticmethod
    def zero_styles(generator: nn.Module, like: Tensor) -> Tensor:
        """``(N, style_dim, 1, 1)`` zeros: the prior's mean (validation, deterministic)."""
        return torch.zeros(like.shape[0], generator.style_dim, 1, 1, device=like.device)

    # -- the pieces, each checked on known values by the tests --------------------------------
    def translate_all(self, g_a: nn.Module, g_b: nn.Module, real_a: Tensor, real_b: Tensor, s_a: Tensor,
                      s_b: Tensor, cycle: bool) -> dict[str, Tensor]:
        """The generator passes of one step (see the class docstring), in the caller's autocast
        and grad mode, through each module's ``forward`` (``g_a`` / ``g_b`` may be DDP wrappers):
        ``c_a``, ``s_a_prime``, ``c_b``, ``s_b_prime``, ``x_a_recon``, ``x_b_recon``, ``x_ba``,
        ``x_ab``, ``c_b_recon``, ``s_a_recon``, ``c_a_recon``, ``s_b_recon``, the random codes
        ``s_a``, ``s_b`` as given, and with ``cycle`` ``x_aba``, ``x_bab``."""
        c_a, s_a_prime = g_a(real_a, mode="encode")
        c_b, s_b_prime = g_b(real_b, mode="encode")
        out = {"c_a": c_a, "s_a_prime": s_a_prime, "c_b": c_b, "s_b_prime": s_b_prime, "s_a": s_a, "s_b": s_b,
               "x_a_recon": g_a(c_a, s_a_prime, mode="decode"), "x_b_recon": g_b(c_b, s_b_prime, mode="decode"),
               "x_ba": g_a(c_b, s_a, mode="decode"), "x_ab": g_b(c_a, s_b, mode="decode")}
        out["c_b_recon"], out["s_a_recon"] = g_a(out["x_ba"], mode="encode")
        out["c_a_recon"], out["s_b_recon"] = g_b(out["x_ab"], mode="encode")
        if cycle:
            out["x_aba"] = g_a(out["c_a_recon"], s_a_prime, mode="decode")
            out["x_bab"] = g_b(out["c_b_recon"], s_b_prime, mode="decode")
        return out

    def reconstruction_terms(self, real_a: Tensor, real_b: Tensor, outputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The unweighted L1 terms (float32 scalars) ``recon_x_a``, ``recon_x_b``, ``recon_s_a``,
        ``recon_s_b``, ``recon_c_a``, ``recon_c_b`` and, when ``outputs`` holds ``x_aba`` /
        ``x_bab``, ``cycle_a`` / ``cycle_b``."""

        def l1(x: Tensor, y: Tensor) -> Tensor:
            return (x.float() - y.float()).abs().mean()

        terms = {
            "recon_x_a": l1(outputs["x_a_recon"], real_a), "recon_x_b": l1(outputs["x_b_recon"], real_b),
            "recon_s_a": l1(outputs["s_a_recon"], outputs["s_a"]),
            "recon_s_b": l1(outputs["s_b_recon"], outputs["s_b"]),
            "recon_c_a": l1(outputs["c_a_recon"], outputs["c_a"]),
            "recon_c_b": l1(outputs["c_b_recon"], outputs["c_b"]),
        }
        if "x_aba" in outputs:
            terms["cycle_a"] = l1(outputs["x_aba"], real_a)
            terms["cycle_b"] = l1(outputs["x_bab"], real_b)
        return terms

    def reconstruction_objective(self, terms: Mapping[str, Tensor]) -> Tensor:
        """The weighted sum of :meth:`reconstruction_terms` (the cycle part only when present)."""
        total = (self.image_weight * (terms["recon_x_a"] + terms["recon_x_b"])
                 + self.style_weight * (terms["recon_s_a"] + terms["recon_s_b"])
                 + self.content_weight * (terms["recon_c_a"] + terms["recon_c_b"]))
        if "cycle_a" in terms:
            total = total + self.cycle_weight * (terms["cycle_a"] + terms["cycle_b"])
        return total

    def generator_losses(self, real_a: Tensor, real_b: Tensor, outputs: Mapping[str, Tensor],
                         d_fake_b: Any, d_fake_a: Any) -> dict[str, Tensor]:
        """The generator objective's terms and ``g_loss`` (float32 scalars) from
        :meth:`translate_all`'s ``outputs`` and the discriminators' outputs on the translations
        (``d_fake_b`` = D_B(x_ab), ``d_fake_a`` = D_A(x_ba); per-scale lists or one logit map)."""
        terms = {"g_adv_a2b": self.gan_loss(d_fake_b, True, for_discriminator=False),
                 "g_adv_b2a": self.gan_loss(d_fake_a, True, for_discriminator=False),
                 **self.reconstruction_terms(real_a, real_b, outputs)}
        terms["g_loss"] = (self.adversarial_weight * (terms["g_adv_a2b"] + terms["g_adv_b2a"])
                           + self.reconstruction_objective(terms))
        return terms

    def discriminator_loss(self, d_real: Any, d_fake: Any) -> Tensor:
        """One discriminator's loss, the reference's ``calc_dis_loss``: summed over the scales,
        ``mean(D_s(fake)**2) + mean((D_s(real) - 1)**2)`` (not halved)."""
        return (self.gan_loss(d_fake, False, for_discriminator=True)
                + self.gan_loss(d_real, True, for_discriminator=True))

    # -- the engine's interface ---------------------------------------------------------------
    def train_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, Tensor]:
        real_a, real_b = batch["A"], batch["B"]
        g_a, g_b = step.module("G_A"), step.module("G_B")
        # 1. Both discriminators (the reference's dis_update), on translations with fresh random
        #    styles; the generators run without gradients (the reference detaches their output).
        s_a, s_b = self.training_styles(self.G_A, real_a), self.training_styles(self.G_B, real_b)
        with torch.no_grad(), step.autocast():
            x_ba = g_a(g_b(real_b, mode="content"), s_a, mode="decode")
            x_ab = g_b(g_a(real_a, mode="content"), s_b, mode="decode")
        with step.autocast():
            d_a, d_b = step.module("D_A"), step.module("D_B")
            predictions = (d_a(real_a), d_a(x_ba), d_b(real_b), d_b(x_ab))
        logs = {"d_a": self.discriminator_loss(predictions[0], predictions[1]),
                "d_b": self.discriminator_loss(predictions[2], predictions[3])}
        logs["d_loss"] = self.adversarial_weight * (logs["d_a"] + logs["d_b"])
        step.backward_and_step(logs["d_loss"], "discriminator")
        # 2. Both auto-encoders (gen_update), new random styles, the discriminators frozen.
        s_a, s_b = self.training_styles(self.G_A, real_a), self.training_styles(self.G_B, real_b)
        with step.autocast():
            outputs = self.translate_all(g_a, g_b, real_a, real_b, s_a, s_b, cycle=self.cycle_weight > 0)
        with frozen(self.D_A, self.D_B):
            with step.autocast():
                d_fake_b, d_fake_a = self.D_B(outputs["x_ab"]), self.D_A(outputs["x_ba"])
            logs.update(self.generator_losses(real_a, real_b, outputs, d_fake_b, d_fake_a))
            step.backward_and_step(logs["g_loss"], "generator")
        return {key: value.detach() for key, value in logs.items()}

    def validation_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, float]:
        """CycleGAN's keys, batch means on pictures mapped to [0, 1], every random style code
        replaced by zeros (the prior's mean), so the numbers are deterministic:

        - ``cycle_l1_a2b``: L1 of ``x_aba`` (a -> b with the zero code, then back to A with a's
          own style code) against a; ``cycle_l1_b2a`` the same from b.
        - ``identity_l1_a2b``: L1 of G_B's within-domain reconstruction of b (``x_b_recon``,
          b's content and own style through G_B) against b: how well the a2b translator's decoder
          renders a picture already in B, the counterpart of CycleGAN's G_AB(b) vs b;
          ``identity_l1_b2a`` G_A's reconstruction of a; ``identity_l1`` their mean.
        - ``loss``: the reconstruction part of the generator objective as trained (image, style,
          content and cycle terms at their weights on [-1, 1] pictures; the cycle term counts
          even at weight 0, i.e. not at all), without the adversarial terms.
        """
        real_a, real_b = batch["A"].float(), batch["B"].float()
        with torch.no_grad(), step.autocast():
            outputs = self.translate_all(self.G_A, self.G_B, real_a, real_b, self.zero_styles(self.G_A, real_a),
                                         self.zero_styles(self.G_B, real_b), cycle=True)
        with torch.no_grad():
            terms = self.reconstruction_terms(real_a, real_b, outputs)
            loss = self.reconstruction_objective(terms).item()

        metrics = {
            "cycle_l1_a2b": unit_l1(outputs["x_aba"], real_a),
            "cycle_l1_b2a": unit_l1(outputs["x_bab"], real_b),
            "identity_l1_a2b": unit_l1(outputs["x_b_recon"], real_b),
            "identity_l1_b2a": unit_l1(outputs["x_a_recon"], real_a),
        }
        metrics["identity_l1"] = 0.5 * (metrics["identity_l1_a2b"] + metrics["identity_l1_b2a"])
        metrics["loss"] = loss
        return metrics

    def sample_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Up to 4 pictures per domain, rows ``real A | A -> B with the zero style | A -> B with
        style 1 | A -> B with style 2 | A's reconstruction``, then the same for B (-> A),
        concatenated along the width: ``(2 n, 3, H, 5 W)`` in [0, 1]. Styles 1 and 2 are two fixed
        codes per target domain drawn from N(0, I) with seed :data:`MUNIT_SAMPLE_STYLE_SEED`
        (torch's global generator untouched), the same for every row, so a column shows one style."""
        real_a, real_b = batch["A"][:4].float(), batch["B"][:4].float()
        draws = torch.Generator().manual_seed(MUNIT_SAMPLE_STYLE_SEED)
        rows = []
        with torch.no_grad():
            for source, target, real in ((self.G_A, self.G_B, real_a), (self.G_B, self.G_A, real_b)):
                content, own_style = source.encode(real)
                columns = [real, target.decode(content, self.zero_styles(target, real))]
                for _ in range(2):
                    code = torch.randn(1, target.style_dim, 1, 1, generator=draws).to(real.device)
                    columns.append(target.decode(content, code.expand(real.shape[0], -1, -1, -1)))
                columns.append(source.decode(content, own_style))
                rows.append(torch.cat([_to_unit(column) for column in columns], dim=3))
        return torch.cat(rows, dim=0)
