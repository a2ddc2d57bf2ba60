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
    AttentionTask, GeneratorLossWeights, ShadowGANTask, light_direction_loss, to_signed, true_shadow_directions,
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


def test_generator_and_discriminator_losses_are_combined_as_documented():
    weights = GeneratorLossWeights(l2=3.0, perceptual=0.0, adversarial=0.5)
    task = _task(weights)
    batch = _batch()
    # The expected values, computed independently on copies before the task steps anything.
    generator, discriminator = copy.deepcopy(task.generator), copy.deepcopy(task.discriminator)
    with torch.no_grad():
        output = generator(batch["noshadow"], to_signed(batch["mask"]), to_signed(batch["robject"]),
                           to_signed(batch["rshadow"]))
        l2 = F.mse_loss(output.coarse, batch["shadow"]) + F.mse_loss(output.refined, batch["shadow"])
        adversarial = ((discriminator(output.refined) - 1) ** 2).mean()
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


def test_shadow_region_term_is_the_l2_over_object_and_true_shadow_dilated():
    weights = GeneratorLossWeights(l2=1.0, perceptual=0.0, adversarial=0.0, shadow_region=4.0)
    task = _task(weights)
    task.shadow_region_dilation = 1
    batch = _batch()
    batch["mask"].zero_()
    batch["shadow_mask"].zero_()
    batch["mask"][0, 0, 10, 10] = 1.0
    batch["shadow_mask"][1, 0, 20, 5] = 1.0
    region = task.shadow_region(batch)
    assert region.sum().item() == 18  # two 3 x 3 squares, one per image
    generator = copy.deepcopy(task.generator)
    with torch.no_grad():
        output = generator(batch["noshadow"], to_signed(batch["mask"]), to_signed(batch["robject"]),
                           to_signed(batch["rshadow"]))
    target = batch["shadow"]
    l2 = F.mse_loss(output.coarse, target) + F.mse_loss(output.refined, target)
    inside = region.expand_as(target).bool()
    local = ((output.coarse - target)[inside] ** 2).mean() + ((output.refined - target)[inside] ** 2).mean()
    step = RecordingStep(task.modules)
    logged = task.train_step(batch, step)
    assert float(logged["shadow_region"]) == pytest.approx(float(local), rel=1e-4)
    assert step.losses["generator"] == pytest.approx(float(l2 + 4.0 * local), rel=1e-4)


def test_shadow_region_dilation_must_be_a_non_negative_integer():
    generator = build_shadow_generator({**TINY_UNET, "refinement_blocks": 1})
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="shadow_region_dilation"):
            ShadowGANTask(generator, build_discriminator(TINY_D), lr_generator=1e-3, lr_discriminator=1e-3,
                          shadow_region_dilation=bad)


def test_true_shadow_directions_follow_the_direction_metric_convention():
    mask, shadow = torch.zeros(3, 1, 16, 16), torch.zeros(3, 1, 16, 16)
    mask[:, 0, 4:8, 6:8] = 1.0            # contact point (row 7, col 6.5)
    shadow[0, 0, 7, 8:12] = 1.0           # to the right: 0 degrees
    shadow[1, 0, 9:13, 6:8] = 1.0         # below: 90 degrees (rows grow downwards)
    vectors, valid = true_shadow_directions({"mask": mask, "shadow_mask": shadow})  # image 2: no shadow
    assert torch.allclose(vectors[:2], torch.tensor([[1.0, 0.0], [0.0, 1.0]]), atol=1e-6)
    assert valid.tolist() == [1.0, 1.0, 0.0]


def test_light_direction_loss_is_one_minus_cosine_over_valid_images():
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    valid = torch.tensor([1.0, 1.0, 0.0])
    # same way (any length) -> 0; right angles -> 1; the invalid third image does not count
    assert light_direction_loss(torch.tensor([[3.0, 0.0], [1.0, 0.0], [-1.0, 0.0]]), target, valid).item() == pytest.approx(0.5)
    assert light_direction_loss(-target, target, valid).item() == pytest.approx(2.0)
    assert light_direction_loss(target, target, torch.zeros(3)).item() == 0.0


def test_light_head_is_supervised_only_when_asked_and_needs_the_head():
    batch = _batch()
    plain = _task(GeneratorLossWeights(l2=1.0, perceptual=0.0, adversarial=0.0, light_direction=1.0))
    with pytest.raises(ValueError, match="light_head"):
        plain.train_step(batch, RecordingStep(plain.modules))
    torch.manual_seed(0)
    generator = build_shadow_generator({**TINY_UNET, "refinement_blocks": 1, "light_head": True})
    task = ShadowGANTask(generator, build_discriminator(TINY_D), lr_generator=1e-3, lr_discriminator=1e-3,
                         weights=GeneratorLossWeights(l2=1.0, perceptual=0.0, adversarial=0.0, light_direction=2.0))
    with torch.no_grad():
        output = copy.deepcopy(generator)(batch["noshadow"], to_signed(batch["mask"]), to_signed(batch["robject"]),
                                          to_signed(batch["rshadow"]))
    assert output.light_direction.shape == (2, 2)
    expected = light_direction_loss(output.light_direction, *true_shadow_directions(batch))
    l2 = F.mse_loss(output.coarse, batch["shadow"]) + F.mse_loss(output.refined, batch["shadow"])
    step = RecordingStep(task.modules)
    logged = task.train_step(batch, step)
    assert float(logged["light_direction"]) == pytest.approx(float(expected), rel=1e-4)
    assert step.losses["generator"] == pytest.approx(float(l2 + 2.0 * expected), rel=1e-4)


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
