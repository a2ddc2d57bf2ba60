"""The shadow family's training tasks: how the generator and discriminator losses are combined,
and that a resumed run refuses settings the engine cannot see when they changed."""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
from gan_pipelines.models.discriminators import build_discriminator
from gan_pipelines.families.shadow.tasks import (
    MISSED_SHADOW_ERROR_DEG, AttentionTask, GeneratorLossWeights, ShadowGANTask, direction_scores, region_mse, to_signed,
)
from gan_pipelines.training import PairedImageDataset, ResumeMismatchError, TrainerConfig, fit, make_loader

TINY_UNET = {"encoder": "resnet18", "decoder_channels": [16, 8, 8, 8, 8]}
TINY_D = {"base_channels": 4}
SIZE = 32


class RecordingStep:
    """A StepContext stand-in that records each loss handed to ``backward_and_step``."""

    def __init__(self, modules):
        self.modules = modules
        self.global_step = 0
        self.losses: dict[str, float] = {}

    def module(self, name):
        return self.modules[name]

    def autocast(self):
        return contextlib.nullcontext()

    def backward_and_step(self, loss, name):
        self.losses[name] = float(loss)


def _batch(seed=0, count=2):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(2, count, 3, SIZE, SIZE, generator=generator) * 2 - 1
    masks = (torch.rand(4, count, 1, SIZE, SIZE, generator=generator) > 0.7).float()
    return {"noshadow": images[0], "shadow": images[1], "mask": masks[0], "robject": masks[1],
            "rshadow": masks[2], "shadow_mask": masks[3]}


def _task(weights):
    torch.manual_seed(0)
    generator = build_shadow_generator({**TINY_UNET, "refinement_blocks": 1})
    discriminator = build_discriminator(TINY_D)
    return ShadowGANTask(generator, discriminator, lr_generator=1e-3, lr_discriminator=1e-3, weights=weights)


def _independent_losses(task, batch):
    """The generator's outputs, L2 and LSGAN terms, computed on copies before the task steps anything."""
    generator, discriminator = copy.deepcopy(task.generator), copy.deepcopy(task.discriminator)
    with torch.no_grad():
        output = generator(batch["noshadow"], to_signed(batch["mask"]), to_signed(batch["robject"]),
                           to_signed(batch["rshadow"]))
        l2 = F.mse_loss(output.coarse, batch["shadow"]) + F.mse_loss(output.refined, batch["shadow"])
        adversarial = ((discriminator(output.refined) - 1) ** 2).mean()
    return output, l2, adversarial


def test_generator_and_discriminator_losses_are_combined_as_documented():
    weights = GeneratorLossWeights(l2=3.0, perceptual=0.0, adversarial=0.5)
    task = _task(weights)
    batch = _batch()
    output, l2, adversarial = _independent_losses(task, batch)
    with torch.no_grad():
        discriminator = copy.deepcopy(task.discriminator)
        real, fake = discriminator(batch["shadow"]), discriminator(output.refined)
    expected_generator = 3.0 * l2 + 0.5 * adversarial
    expected_discriminator = 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())
    swapped_targets = 0.5 * ((real**2).mean() + ((fake - 1) ** 2).mean())
    assert abs(float(expected_discriminator - swapped_targets)) > 1e-3  # the test can tell them apart

    step = RecordingStep(task.modules)
    logged = task.train_step(batch, step)
    assert step.losses["generator"] == pytest.approx(float(expected_generator), rel=1e-4)
    assert step.losses["discriminator"] == pytest.approx(float(expected_discriminator), rel=1e-4)
    assert float(logged["l2"]) == pytest.approx(float(l2), rel=1e-4)
    assert float(logged["adversarial"]) == pytest.approx(float(adversarial), rel=1e-4)
    # Swapping the two weights changes the generator's loss: the weights are not interchangeable.
    assert float(0.5 * l2 + 3.0 * adversarial) != pytest.approx(step.losses["generator"], rel=1e-3)


def test_region_mse_averages_over_the_region_pixels_only():
    output = torch.zeros(2, 3, 2, 2)
    target = torch.zeros(2, 3, 2, 2)
    target[0, :, 0, 0] = 3.0     # inside the region: squared error 9 on 3 channels
    target[1, :, 1, 1] = 100.0   # outside it: ignored
    region = torch.zeros(2, 1, 2, 2)
    region[0, 0, 0, 0] = region[0, 0, 0, 1] = region[1, 0, 0, 0] = 1.0
    # 3 region pixels x 3 channels; only the 3 entries of pixel (0, 0, 0) are wrong, each by 9.
    assert float(region_mse(output, target, region)) == pytest.approx(27.0 / 9.0)
    assert float(region_mse(output, target, torch.zeros_like(region))) == 0.0  # no region: 0, not NaN


def test_shadow_region_term_adds_the_region_l2_of_both_outputs():
    weights = GeneratorLossWeights(l2=3.0, perceptual=0.0, adversarial=0.5, shadow_region=2.0)
    task = _task(weights)
    batch = _batch(seed=1)
    output, l2, adversarial = _independent_losses(task, batch)
    with torch.no_grad():
        region = batch["shadow_mask"].expand(-1, 3, -1, -1).bool()
        in_region = (output.coarse - batch["shadow"])[region].pow(2).mean() + \
            (output.refined - batch["shadow"])[region].pow(2).mean()
    step = RecordingStep(task.modules)
    logged = task.train_step(batch, step)
    assert float(logged["shadow_region_l2"]) == pytest.approx(float(in_region), rel=1e-4)
    assert step.losses["generator"] == pytest.approx(float(3.0 * l2 + 0.5 * adversarial + 2.0 * in_region), rel=1e-4)
    # Off by default (the reference's loss): no region term is computed or logged.
    reference = _task(GeneratorLossWeights())
    assert "shadow_region_l2" not in reference.train_step(batch, RecordingStep(reference.modules))


def test_direction_scores_measure_where_the_drawn_shadow_points():
    size = 16
    noshadow = torch.zeros(3, 3, size, size)
    mask, shadow_mask = torch.zeros(3, 1, size, size), torch.zeros(3, 1, size, size)
    mask[:, 0, 4:8, 6:8] = 1.0                 # contact point (row 7, col 6.5)
    shadow_mask[:, 0, 7, 8:12] = 1.0           # the true shadow points right (0 degrees)
    refined = noshadow.clone()
    refined[0, :, 7, 8:12] = -0.5              # image 0: drawn where the truth is
    refined[1, :, 9:13, 6:8] = -0.5            # image 1: drawn below (90 degrees off)
    # image 2: nothing drawn -> a miss at 180 degrees
    scores = direction_scores(refined, {"noshadow": noshadow, "mask": mask, "shadow_mask": shadow_mask})
    assert scores["within_30deg"] == pytest.approx(1 / 3)
    assert scores["angle_error_deg"] == pytest.approx((0.0 + 90.0 + MISSED_SHADOW_ERROR_DEG) / 3)


def test_discriminator_gets_no_weight_gradients_from_the_generator_pass():
    task = _task(GeneratorLossWeights(l2=1.0, perceptual=0.0, adversarial=1.0))
    seen = {}

    class Step(RecordingStep):
        def backward_and_step(self, loss, name):
            if name == "generator":
                loss.backward()
                seen["d_grads"] = [p.grad for p in task.discriminator.parameters()]
                seen["d_trainable"] = [p.requires_grad for p in task.discriminator.parameters()]
            super().backward_and_step(loss, name)

    task.train_step(_batch(), Step(task.modules))
    assert all(grad is None for grad in seen["d_grads"])
    assert all(p.requires_grad for p in task.discriminator.parameters())  # restored afterwards


def _loaders(count=4):
    rng = np.random.default_rng(0)
    images = {k: rng.integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8) for k in ("noshadow", "shadow")}
    masks = {k: (rng.random((count, SIZE, SIZE)) > 0.7).astype(np.uint8) * 255
             for k in ("mask", "robject", "rshadow", "shadow_mask")}
    dataset = PairedImageDataset({**images, **masks}, image_keys=tuple(images), mask_keys=tuple(masks))
    return make_loader(dataset, 2, shuffle=True, seed=0), make_loader(dataset, 2, shuffle=False, seed=0)


def _config(tmp_path, epochs):
    return TrainerConfig(epochs=epochs, seed=0, device="cpu", precision="fp32", monitor="loss", progress=False,
                         state_path=str(tmp_path / "state.pt"), resume=True, log_dir=None)


def test_resume_with_changed_loss_weights_is_refused(tmp_path, one_thread):
    train, val = _loaders()
    fit(_task(GeneratorLossWeights(l2=10.0, perceptual=0.0, adversarial=0.01)), train, val, _config(tmp_path, 1))
    changed = _task(GeneratorLossWeights(l2=10.0, perceptual=0.0, adversarial=0.5))
    with pytest.raises(ResumeMismatchError, match="loss_weights"):
        fit(changed, train, val, _config(tmp_path, 2))
    # The same settings resume.
    result = fit(_task(GeneratorLossWeights(l2=10.0, perceptual=0.0, adversarial=0.01)), train, val, _config(tmp_path, 2))
    assert result.resumed_from_epoch == 1


def test_resume_with_changed_augmentation_or_attention_checkpoint_is_refused(tmp_path, one_thread):
    train, val = _loaders()

    def attention_task(settings):
        torch.manual_seed(0)
        return AttentionTask(build_attention_net(TINY_UNET), 1e-3, settings=settings)

    fit(attention_task({"augmentation": {}}), train, val, _config(tmp_path, 1))
    with pytest.raises(ResumeMismatchError, match="augmentation"):
        fit(attention_task({"augmentation": {"hflip_p": 0.0}}), train, val, _config(tmp_path, 2))
