"""The pix2pix task overfits one tiny batch through the shared engine; Sketch2Color's extra
terms enter the generator loss."""

import numpy as np
import torch

from gan_pipelines.families.paired.config import input_config, network_configs
from gan_pipelines.families.paired.layout import KIND_TYPES
from gan_pipelines.families.paired.networks import InputEncoder
from gan_pipelines.families.paired.tasks import PairedTranslationTask, l1_loss, tv_loss
from gan_pipelines.models.discriminators import build_discriminator
from gan_pipelines.models.gan_losses import GANLoss
from gan_pipelines.models.generators import build_generator
from gan_pipelines.training import TrainerConfig, fit, seed_everything
from gan_pipelines.training.data import PairedImageDataset, make_loader

PARAMS = {"input_kind": "label_map", "label_nc": 3, "model": {"type": "unet", "num_downs": 4, "ngf": 16},
          "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 1}}
COLOURS = np.array([[40, 40, 40], [220, 60, 60], [60, 60, 220]], np.uint8)


def _batch(count=4, size=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros((count, size, size), np.uint8)
    for index in range(count):
        y, x = rng.integers(0, size // 2, 2)
        labels[index, y:y + 6, x:x + 6] = 1 + index % 2
    return {"label_map": labels, "picture": COLOURS[labels]}


def _task(extra=None, **kwargs):
    seed_everything(0)
    input_cfg = input_config(PARAMS, KIND_TYPES, "t")
    generator_cfg, discriminator_cfg = network_configs(PARAMS, input_cfg, "t")
    return PairedTranslationTask(
        InputEncoder("labels", 3), "label_map", None, build_generator(generator_cfg),
        build_discriminator(discriminator_cfg), GANLoss("vanilla"), target_key="picture",
        extra_losses=extra or {"l1": (100.0, l1_loss)}, **kwargs,
    )


def test_pix2pix_task_overfits_one_tiny_batch(one_thread):
    arrays = _batch()
    kinds = {"label_map": "labels", "picture": "rgb"}
    loader = make_loader(PairedImageDataset(arrays, kinds), 4, shuffle=False)
    task = _task(lr_generator=2e-3, lr_discriminator=2e-3)
    config = TrainerConfig(epochs=80, device="cpu", precision="fp32", progress=False, cpu_threads=1,
                           monitor="l1", scheduler="none", sample_every=1000)
    history = fit(task, loader, loader, config).history
    assert history["val_l1"].iloc[0] > 0.15
    assert history["val_l1"].min() < 0.05, history["val_l1"].tolist()


def test_extra_terms_are_logged_and_weighted():
    task = _task(extra={"l1": (100.0, l1_loss), "tv": (1.0, tv_loss)}, d_every=2)
    assert task.hparams["loss_weights"] == {"l1": 100.0, "tv": 1.0} and task.hparams["d_every"] == 2
    batch = {k: torch.from_numpy(v) for k, v in _batch().items()}
    batch = {"label_map": batch["label_map"].long().unsqueeze(1),
             "picture": batch["picture"].permute(0, 3, 1, 2).float() / 127.5 - 1}

    class Step:
        global_step = 1

        def module(self, name):
            return task.modules[name]

        def autocast(self):
            return torch.autocast("cpu", enabled=False)

        def backward_and_step(self, loss, name):
            loss.backward()

    logs = task.train_step(batch, Step())
    assert {"l1", "tv", "g_loss", "g_adv", "d_loss"} <= set(logs)
    assert torch.isclose(logs["g_loss"], logs["g_adv"] + 100 * logs["l1"] + logs["tv"], rtol=1e-4)
