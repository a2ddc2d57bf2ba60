"""GAN building blocks for tasks of the generic engine (:mod:`gan_pipelines.training.engine`).

* :func:`frozen` -- a context manager that stops gradients into some modules' weights (the
  discriminator during the generator pass) and restores every parameter's own flag after.
* :func:`discriminator_step` -- one discriminator update, ``0.5 * (real + fake)`` as in pix2pix;
  optionally with one joint D pass over ``cat([fake, real])`` (:func:`discriminate`).
* :class:`PairedGANTask` -- a complete task for paired image-to-image GANs (pix2pix and its
  relatives): generator, discriminator, an adversarial loss, weighted extra generator terms
  (L1, perceptual, ...), optional feature matching and a discriminator update interval.
* :class:`ImageHistoryBuffer` -- the image pool of Shrivastava et al. (2017) that CycleGAN's
  discriminators train on (a history of generated images), seeded, with its contents in the
  module's state dict so that a resumed run continues with the same pool.

Family-free: the adversarial loss is passed in (e.g.
:class:`gan_pipelines.models.gan_losses.GANLoss`), called as
``gan_loss(prediction, target_is_real, for_discriminator=...)`` on a discriminator output (a
logits tensor, or for multi-scale / feature-returning discriminators a list of per-scale
feature lists whose last entry is the logits); it returns a float32 scalar.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Mapping

import torch
from torch import Tensor, nn

ExtraLoss = Callable[[Tensor, Tensor, Mapping[str, Tensor]], Tensor]


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """Set ``requires_grad=False`` on every parameter of ``modules`` for the block.

    On exit (also when the block raises) each parameter gets back its *own* previous flag, so a
    parameter that was frozen before stays frozen. A parameter shared by several modules is
    handled once. Use it for a forward/backward pass that needs gradients *through* a module
    into its input but not into its weights (the generator's adversarial term: the gradient
    reaches the fake image, the discriminator's weights get none, and autograd skips computing
    them).
    """
    saved: list[tuple[nn.Parameter, bool]] = []
    seen: set[int] = set()
    for module in modules:
        for parameter in module.parameters():
            if id(parameter) not in seen:
                seen.add(id(parameter))
                saved.append((parameter, parameter.requires_grad))
    try:
        for parameter, _ in saved:
            parameter.requires_grad_(False)
        yield
    finally:
        for parameter, flag in saved:
            parameter.requires_grad_(flag)


def _training_module(step: Any, name: str, module: nn.Module) -> nn.Module:
    """``step.module(name)`` (the DDP wrapper in a multi-process run), checked to run
    ``module``: a wrong ``name`` would step an optimiser whose parameters got no gradients."""
    runner = step.module(name)
    if runner is not module and getattr(runner, "module", None) is not module:
        raise ValueError(
            f"step.module({name!r}) is not the discriminator passed in; pass the name under which "
            "the task registers it in modules/optimizers."
        )
    return runner


def split_batch(output: Any, first: int) -> tuple[Any, Any]:
    """Split a discriminator output computed on a concatenated batch into the first ``first``
    samples and the rest, keeping its structure: a Tensor ``(N, ...)``, or (nested) lists /
    tuples of them (multi-scale feature lists). Raises ValueError for anything else."""
    if isinstance(output, Tensor):
        if output.ndim == 0 or output.shape[0] <= first:
            raise ValueError(f"cannot split a discriminator output of shape {tuple(output.shape)} after sample {first}")
        return output[:first], output[first:]
    if isinstance(output, (list, tuple)):
        parts = [split_batch(entry, first) for entry in output]
        return [a for a, _ in parts], [b for _, b in parts]
    raise ValueError(f"a discriminator output must be a Tensor or (nested) lists of Tensors, got {type(output).__name__}")


def discriminate(discriminator: Callable[[Tensor], Any], real_input: Tensor, fake_input: Tensor,
                 *, joint: bool = False) -> tuple[Any, Any]:
    """``(D(real_input), D(fake_input))``.

    ``joint=False``: two calls. ``joint=True``: ONE call on ``cat([fake_input, real_input])``
    along the batch, whose output is split back (:func:`split_batch`), as the SPADE reference
    (``Pix2PixModel.discriminate``, Park et al. 2019). With spectral norm in train mode every
    forward pass runs one power iteration and moves the weight's normalisation, so two calls
    score real and fake with slightly different weights; one joint call scores both with the
    same ones. For a discriminator without batch statistics (instance norm or none) and without
    spectral norm both ways give the same numbers; with BatchNorm they differ (the statistics
    are then taken over real and fake together). Both inputs ``(N, C, H, W)`` with equal
    ``C, H, W`` (batch sizes may differ).
    """
    if not joint:
        return discriminator(real_input), discriminator(fake_input)
    if fake_input.shape[1:] != real_input.shape[1:]:
        raise ValueError(
            f"a joint discriminator pass needs real and fake inputs of one shape (N, C, H, W); got "
            f"{tuple(real_input.shape)} and {tuple(fake_input.shape)}"
        )
    fake_prediction, real_prediction = split_batch(
        discriminator(torch.cat([fake_input, real_input], dim=0)), fake_input.shape[0]
    )
    return real_prediction, fake_prediction


def discriminator_step(
    step: Any,
    discriminator: nn.Module,
    gan_loss: Callable[..., Tensor],
    real_input: Tensor,
    fake_input: Tensor,
    *,
    name: str = "discriminator",
    joint: bool = False,
) -> dict[str, Tensor]:
    """One discriminator update: ``d_loss = 0.5 * (gan_loss(D(real), True) + gan_loss(D(fake), False))``
    (pix2pix halves the sum so D learns at half G's rate; with Adam the factor hardly matters,
    which is why SPADE's unhalved sum trains the same), then ``step.backward_and_step(d_loss, name)``.

    Args:
        step: the engine's :class:`~gan_pipelines.training.engine.StepContext`.
        discriminator: the task's discriminator module, registered as ``name`` in the task's
            ``modules`` and ``optimizers``; it runs as ``step.module(name)`` (its DDP wrapper in
            a multi-process run), inside ``step.autocast()``.
        gan_loss: ``gan_loss(prediction, target_is_real, for_discriminator=True)``.
        real_input, fake_input: what D sees, e.g. ``(N, C, H, W)`` floats in [-1, 1] (for a
            conditional D the concatenation of condition and image). ``fake_input`` is detached
            here: no gradient reaches the generator.
        joint: run D once on ``cat([fake, real])`` instead of twice (see :func:`discriminate`);
            use it for spectral-norm discriminators.

    Returns:
        Detached float32 scalars ``d_real``, ``d_fake`` (the two terms) and ``d_loss``.
    """
    runner = _training_module(step, name, discriminator)
    with step.autocast():
        real_prediction, fake_prediction = discriminate(runner, real_input, fake_input.detach(), joint=joint)
    d_real = gan_loss(real_prediction, True, for_discriminator=True).float()
    d_fake = gan_loss(fake_prediction, False, for_discriminator=True).float()
    d_loss = 0.5 * (d_real + d_fake)
    step.backward_and_step(d_loss, name)
    return {"d_real": d_real.detach(), "d_fake": d_fake.detach(), "d_loss": d_loss.detach()}


def _describe_callable(function: Any) -> str:
    target = getattr(function, "func", function)  # functools.partial
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{getattr(target, '__module__', type(target).__module__)}.{name}"


def _to_unit_range(images: Tensor) -> Tensor:
    return (images.float().clamp(-1.0, 1.0) + 1.0) / 2.0


def _as_rgb(images: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, 3, H, W) for display: 3 channels as they are, else the channel
    mean as grey."""
    if images.shape[1] == 3:
        return images
    return images.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)


class PairedGANTask:
    """Paired image-to-image GAN task (pix2pix and relatives) for :func:`~gan_pipelines.training.engine.fit`.

    Batches: ``batch[input_key]`` float ``(N, C_in, H, W)`` and ``batch[target_key]`` float
    ``(N, C_out, H, W)``, both in [-1, 1] (``uint8`` images from
    :class:`~gan_pipelines.training.data.PairedImageDataset` become that on the device); other
    keys are handed to the extra losses untouched. The generator maps the input to
    ``(N, C_out, H, W)`` in [-1, 1] (e.g. tanh output).

    One training step (global step ``s``, 1-based, counted over the whole run):

    1. ``fake, outputs = self.generate(step.module("generator"), input, batch)`` under autocast
       (default: ``G(input), {}``; a subclass may feed G more, e.g. a style code, and return
       tensors such as ``mu`` / ``logvar`` in ``outputs``, which the extra losses then find in
       their ``batch``); ``fake`` is cast to float32.
    2. If ``s % d_every == 0``: :func:`discriminator_step` on ``D(real_in)`` / ``D(fake_in)``
       with the fake detached, where ``real_in = cat(input, target)``, ``fake_in = cat(input,
       fake)`` along channels when ``conditional`` (D sees the pair), else ``target`` /
       ``fake``; with ``joint_discriminator_pass`` D runs once on ``cat([fake_in, real_in])``
       along the batch (:func:`discriminate`). ``d_every=2`` trains D on even steps only (the Sketch2Color trick against a
       discriminator that overpowers the generator); on the other steps D's weights do not
       change and the logged ``d_*`` values are D's losses evaluated without an update.
    3. Generator, with D frozen (:func:`frozen`: gradients flow through D into the fake, not
       into D's weights)::

           g_loss = adversarial_weight * gan_loss(D(fake_in), True, for_discriminator=False)
                    + feature_matching_weight * feature_matching_loss(D(real_in), D(fake_in))
                    + sum(weight * fn(fake, target, batch) for weight, fn in extra_losses)

       The feature-matching term needs a discriminator that returns feature lists
       (``return_features=True``); D runs as the plain module here (it is not being trained),
       once on both halves with ``joint_discriminator_pass``.

    Args:
        generator, discriminator: the networks (``modules["generator"]``, ``["discriminator"]``).
        gan_loss: ``gan_loss(prediction, target_is_real, for_discriminator=...)`` -> float32
            scalar, e.g. :class:`gan_pipelines.models.gan_losses.GANLoss`.
        conditional: D sees ``cat(input, image)`` (pix2pix) instead of the image alone; its
            input channels must be ``C_in + C_out`` then.
        input_key, target_key: batch keys of the input and the target image.
        extra_losses: ``name -> (weight, fn)``; ``fn(fake, target, batch)`` returns a scalar
            (float32 math on the float32 ``fake``), e.g. ``{"l1": (100.0, l1)}`` for pix2pix.
            Logged under their names, unweighted.
        adversarial_weight: weight of the generator's adversarial term.
        feature_matching_weight: weight of pix2pixHD's feature-matching term, or None (off).
        feature_matching: the feature-matching function
            (default :func:`gan_pipelines.models.gan_losses.feature_matching_loss`).
        d_every: train D on global steps that are multiples of this (1: every batch).
        joint_discriminator_pass: score real and fake in ONE discriminator call on the
            concatenated batch (SPADE's way; needed for spectral norm, whose power iteration
            runs at each training forward pass), in the D step and in the generator pass.
        lr_generator, lr_discriminator, betas_generator, betas_discriminator: Adam settings
            (pix2pix: 2e-4 and (0.5, 0.999) for both); the optimisers are built here.
        hparams: further settings that change training (architecture choices, ...) to add to
            :attr:`hparams`.

    Attributes:
        hparams: every setting above that changes training, as plain values (the adversarial
            loss's class/mode/labels, conditional, keys, weights and names of the extra losses,
            feature matching, d_every, learning rates and betas) plus ``hparams``; the engine
            puts it in the resume fingerprint, so resuming with e.g. another L1 weight is
            refused and the error names ``task_hparams.loss_weights.l1``.

    Logged per step: ``g_loss``, ``g_adv``, ``g_fm`` (when on), each extra loss by name,
    ``d_loss``, ``d_real``, ``d_fake``. Validation (:meth:`validation_step`): ``loss`` (the
    weighted sum of the extra losses, the generator's reconstruction objective; the [0, 1]
    L1 when there are none), ``l1`` (mean absolute error) and ``psnr`` (dB, per image, peak 1,
    capped at 100), both on images clamped to [-1, 1] and mapped to [0, 1].
    """

    def __init__(
        self,
        generator: nn.Module,
        discriminator: nn.Module,
        gan_loss: Callable[..., Tensor],
        *,
        conditional: bool = True,
        input_key: str = "input",
        target_key: str = "target",
        extra_losses: Mapping[str, tuple[float, ExtraLoss]] | None = None,
        adversarial_weight: float = 1.0,
        feature_matching_weight: float | None = None,
        feature_matching: Callable[[Any, Any], Tensor] | None = None,
        d_every: int = 1,
        joint_discriminator_pass: bool = False,
        lr_generator: float = 2e-4,
        lr_discriminator: float = 2e-4,
        betas_generator: tuple[float, float] = (0.5, 0.999),
        betas_discriminator: tuple[float, float] = (0.5, 0.999),
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        extra_losses = dict(extra_losses or {})
        for loss_name, entry in extra_losses.items():
            if not (isinstance(entry, tuple) and len(entry) == 2 and callable(entry[1])):
                raise ValueError(f"extra_losses[{loss_name!r}] must be a (weight, fn) pair, got {entry!r}.")
            _check_number(f"extra_losses[{loss_name!r}] weight", entry[0], minimum=0.0)
        _check_number("adversarial_weight", adversarial_weight, minimum=0.0)
        if feature_matching_weight is not None:
            _check_number("feature_matching_weight", feature_matching_weight, minimum=0.0)
        if isinstance(d_every, bool) or not isinstance(d_every, int) or d_every < 1:
            raise ValueError(f"d_every must be a positive integer, got {d_every!r}.")
        if not isinstance(joint_discriminator_pass, bool):
            raise ValueError(f"joint_discriminator_pass must be True or False, got {joint_discriminator_pass!r}.")
        for label, lr in (("lr_generator", lr_generator), ("lr_discriminator", lr_discriminator)):
            _check_number(label, lr, minimum=0.0)
        for label, betas in (("betas_generator", betas_generator), ("betas_discriminator", betas_discriminator)):
            if not (isinstance(betas, (tuple, list)) and len(betas) == 2
                    and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0.0 <= b < 1.0 for b in betas)):
                raise ValueError(f"{label} must be two numbers in [0, 1), got {betas!r}.")
        if feature_matching_weight and feature_matching is None:
            from gan_pipelines.models.gan_losses import feature_matching_loss as feature_matching

        self.generator = generator
        self.discriminator = discriminator
        self.gan_loss = gan_loss
        self.conditional = bool(conditional)
        self.input_key, self.target_key = input_key, target_key
        self.extra_losses = {n: (float(w), fn) for n, (w, fn) in extra_losses.items()}
        self.adversarial_weight = float(adversarial_weight)
        self.feature_matching_weight = float(feature_matching_weight) if feature_matching_weight else None
        self.feature_matching = feature_matching
        self.d_every = d_every
        self.joint_discriminator_pass = joint_discriminator_pass
        self.modules = {"generator": generator, "discriminator": discriminator}
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=lr_generator, betas=tuple(betas_generator)),
            "discriminator": torch.optim.Adam(
                discriminator.parameters(), lr=lr_discriminator, betas=tuple(betas_discriminator)
            ),
        }
        own = {
            "gan_loss": {
                "class": _describe_callable(gan_loss),
                "mode": getattr(gan_loss, "mode", None),
                "real_label": getattr(gan_loss, "real_label", None),
                "fake_label": getattr(gan_loss, "fake_label", None),
            },
            "conditional": self.conditional,
            "input_key": input_key,
            "target_key": target_key,
            "adversarial_weight": self.adversarial_weight,
            "loss_weights": {n: w for n, (w, _) in self.extra_losses.items()},
            "loss_functions": {n: _describe_callable(fn) for n, (_, fn) in self.extra_losses.items()},
            "feature_matching_weight": self.feature_matching_weight,
            "d_every": d_every,
            "joint_discriminator_pass": joint_discriminator_pass,
            "lr_generator": float(lr_generator),
            "lr_discriminator": float(lr_discriminator),
            "betas_generator": [float(b) for b in betas_generator],
            "betas_discriminator": [float(b) for b in betas_discriminator],
        }
        clash = sorted(set(own) & set(hparams or {}))
        if clash:
            raise ValueError(f"hparams may not redefine the task's own settings {clash}.")
        self.hparams = {**own, **dict(hparams or {})}

    # -- hooks --------------------------------------------------------------------------------
    def generate(self, generator: nn.Module, condition: Tensor, batch: Mapping[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """``(fake, outputs)``: the generator's output for ``condition`` and further tensors
        for the extra losses (merged into their ``batch``). Runs in the caller's autocast and
        grad mode; ``generator`` is ``step.module("generator")`` in training and the plain
        module in validation (its ``training`` flag tells them apart). Default: ``G(condition), {}``."""
        return generator(condition), {}

    # -- helpers ------------------------------------------------------------------------------
    def _d_input(self, condition: Tensor, image: Tensor) -> Tensor:
        return torch.cat([condition.float(), image], dim=1) if self.conditional else image

    def _extra_terms(self, fake: Tensor, target: Tensor, batch: Mapping[str, Tensor], step: Any) -> dict[str, Tensor]:
        # Under the step's autocast: a feature loss that follows it (perceptual.precision auto)
        # runs its network at the step's precision; the terms themselves are fp32.
        with step.autocast():
            return {name: fn(fake, target, batch).float() for name, (_, fn) in self.extra_losses.items()}

    def _weighted(self, terms: Mapping[str, Tensor]) -> Tensor | None:
        total = None
        for name, value in terms.items():
            part = self.extra_losses[name][0] * value
            total = part if total is None else total + part
        return total

    # -- the engine's interface ---------------------------------------------------------------
    def train_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, Tensor]:
        condition, target = batch[self.input_key], batch[self.target_key].float()
        with step.autocast():
            fake, outputs = self.generate(step.module("generator"), condition, batch)
        fake = fake.float()
        batch = {**batch, **outputs}
        real_in, fake_in = self._d_input(condition, target), self._d_input(condition, fake)

        logs: dict[str, Tensor] = {}
        train_d = step.global_step % self.d_every == 0
        if train_d:
            logs.update(discriminator_step(step, self.discriminator, self.gan_loss, real_in, fake_in,
                                           joint=self.joint_discriminator_pass))

        need_real = self.feature_matching_weight is not None or not train_d
        with frozen(self.discriminator):
            with step.autocast():
                # real_in needs no gradient and D's weights are frozen: only the fake half has a graph
                if need_real:
                    real_prediction, fake_prediction = discriminate(
                        self.discriminator, real_in, fake_in, joint=self.joint_discriminator_pass
                    )
                else:
                    real_prediction, fake_prediction = None, self.discriminator(fake_in)
            adversarial = self.gan_loss(fake_prediction, True, for_discriminator=False).float()
            g_loss = self.adversarial_weight * adversarial
            logs["g_adv"] = adversarial
            if self.feature_matching_weight is not None:
                if isinstance(fake_prediction, Tensor):
                    raise ValueError(
                        "feature_matching_weight is set but the discriminator returns logits only; "
                        "build it with return_features=True."
                    )
                matching = self.feature_matching(real_prediction, fake_prediction).float()
                g_loss = g_loss + self.feature_matching_weight * matching
                logs["g_fm"] = matching
            terms = self._extra_terms(fake, target, batch, step)
            weighted = self._weighted(terms)
            if weighted is not None:
                g_loss = g_loss + weighted
            step.backward_and_step(g_loss, "generator")

        if not train_d:  # D was not updated: log its losses on this batch without a step
            with torch.no_grad():
                d_real = self.gan_loss(real_prediction, True, for_discriminator=True).float()
                d_fake = self.gan_loss(fake_prediction, False, for_discriminator=True).float()
            logs.update({"d_real": d_real, "d_fake": d_fake, "d_loss": 0.5 * (d_real + d_fake)})
        logs["g_loss"] = g_loss
        logs.update(terms)
        return {key: value.detach() for key, value in logs.items()}

    def validation_step(self, batch: Mapping[str, Tensor], step: Any) -> dict[str, float]:
        condition, target = batch[self.input_key], batch[self.target_key].float()
        with torch.no_grad(), step.autocast():
            fake, outputs = self.generate(self.generator, condition, batch)
        fake = fake.float()
        batch = {**batch, **outputs}
        fake01, target01 = _to_unit_range(fake), _to_unit_range(target)
        l1 = (fake01 - target01).abs().mean()
        mse = (fake01 - target01).pow(2).flatten(1).mean(dim=1)
        psnr = (10.0 * torch.log10(1.0 / mse.clamp_min(1e-10))).mean()
        with torch.no_grad():
            weighted = self._weighted(self._extra_terms(fake, target, batch, step))
        loss = weighted if weighted is not None else l1
        return {"loss": loss.item(), "l1": l1.item(), "psnr": psnr.item()}

    def sample_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Up to 4 samples, each a row ``input | output | target`` (concatenated along the
        width), ``(n, 3, H, 3 W)`` in [0, 1]; inputs or targets without 3 channels are shown
        as grey (channel mean)."""
        batch = {key: value[:4] if isinstance(value, Tensor) else value for key, value in batch.items()}
        condition, target = batch[self.input_key], batch[self.target_key]
        with torch.no_grad():
            fake = self.generate(self.generator, condition, batch)[0].float()
        parts = [_as_rgb(_to_unit_range(image)) for image in (condition, fake, target)]
        return torch.cat(parts, dim=3)


class ImageHistoryBuffer(nn.Module):
    """The history of generated images that a discriminator trains on, up to ``capacity`` of them
    (Shrivastava et al., CVPR 2017, section 2.3; CycleGAN, Zhu et al. 2017, section 4, with 50
    images; reference ``ImagePool`` in junyanz/pytorch-CycleGAN-and-pix2pix ``util/image_pool.py``).

    :meth:`query` takes a batch ``(N, ...)`` and returns a batch of the same shape, image by
    image: while fewer than ``capacity`` images are stored, the new image is stored and returned;
    once the pool is full, with probability 0.5 a stored image (chosen uniformly) is returned and
    replaced by the new one, else the new image is returned and the pool is left as it is. So the
    discriminator sees a mix of the current generator's images and older ones, which damps the
    oscillation of the two networks. ``capacity=0`` returns the batch as it is. The returned
    images are detached (the discriminator step needs no gradient into the generator).

    The random draws come from a private ``torch.Generator`` seeded with ``seed`` (the reference
    uses Python's global ``random``): none while the pool fills, then one per image and a second
    for the slot when it swaps. The same seed and the same images give the same outputs and pool
    contents.

    State, so a resumed run continues exactly: the stored images are the buffer ``images``
    (``(capacity, ...)``, allocated at the first query with the first batch's image shape, dtype
    and device; ``(0,)`` before; it moves with ``.to(device)``), and the fill count with the
    generator's state is the module's extra state (an int64 tensor ``[count, *rng_state]``).
    Registered among a task's ``modules``, the engine saves both in its training state and
    restores them on resume (``load_state_dict`` accepts a saved pool of any size into a fresh,
    empty one). In a data-parallel run each worker keeps its own pool and draws, but the engine
    copies rank 0's buffers to every worker after each epoch, so from then on the workers' pools
    hold rank 0's images.

    Raises ValueError for a negative or non-integer capacity, and in :meth:`query` for a batch
    whose image shape differs from the stored images'.
    """

    def __init__(self, capacity: int = 50, *, seed: int = 0) -> None:
        super().__init__()
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0:
            raise ValueError(f"capacity (pool_size) must be a non-negative integer, got {capacity!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}.")
        self.capacity = capacity
        self.count = 0
        self._generator = torch.Generator().manual_seed(seed)
        self.register_buffer("images", torch.zeros(0))

    def extra_repr(self) -> str:
        return f"capacity={self.capacity}, count={self.count}"

    def query(self, images: Tensor) -> Tensor:
        """``images`` ``(N, ...)`` -> ``(N, ...)``: per image the new one or a stored one (see
        the class docstring), detached, in ``images``' dtype, device and memory format."""
        if self.capacity == 0:
            return images
        images = images.detach()
        shape = (self.capacity, *images.shape[1:])
        if self.images.shape != shape:
            if self.count:
                raise ValueError(
                    f"ImageHistoryBuffer holds images of shape {tuple(self.images.shape[1:])}, got a batch of "
                    f"{tuple(images.shape[1:])}; one pool serves one image size."
                )
            self.images = torch.zeros(shape, dtype=images.dtype, device=images.device)
        chosen = []
        for image in images:
            if self.count < self.capacity:
                self.images[self.count] = image
                self.count += 1
                chosen.append(image)
            elif float(torch.rand((), generator=self._generator)) > 0.5:
                slot = int(torch.randint(0, self.capacity, (), generator=self._generator))
                chosen.append(self.images[slot].clone())
                self.images[slot] = image
            else:
                chosen.append(image)
        out = torch.stack(chosen).to(images.dtype)
        if images.dim() == 4 and images.is_contiguous(memory_format=torch.channels_last):
            out = out.contiguous(memory_format=torch.channels_last)
        return out

    def get_extra_state(self) -> Tensor:
        return torch.cat([torch.tensor([self.count], dtype=torch.int64), self._generator.get_state().to(torch.int64)])

    def set_extra_state(self, state: Tensor) -> None:
        state = torch.as_tensor(state).to("cpu", torch.int64)
        count = int(state[0])
        if not 0 <= count <= self.capacity:
            raise ValueError(f"a saved ImageHistoryBuffer holds {count} images; this one has capacity {self.capacity}.")
        self.count = count
        self._generator.set_state(state[1:].to(torch.uint8))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # a fresh pool is empty ((0,)): make room for the saved images before they are copied in.
        saved = state_dict.get(prefix + "images")
        if isinstance(saved, Tensor) and saved.shape != self.images.shape:
            self.images = torch.zeros(saved.shape, dtype=saved.dtype, device=self.images.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _check_number(label: str, value: Any, *, minimum: float) -> None:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not math.isfinite(value) or value < minimum
    ):
        raise ValueError(f"{label} must be a finite number >= {minimum}, got {value!r}.")
