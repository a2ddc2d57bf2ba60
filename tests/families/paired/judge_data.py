"""A tiny labelled image folder for the judge and evaluation tests: class 0 a grey noisy
background, class 1 red rectangles, class 2 blue rectangles, at random places."""

import numpy as np

COLOURS = np.array([[120, 120, 120], [200, 40, 40], [40, 40, 200]], np.float64)


def make_scene(rng, size=32):
    labels = np.zeros((size, size), np.int64)
    for cls in (1, 2):
        for _ in range(2):
            y, x = rng.integers(0, size - 8, 2)
            h, w = rng.integers(5, 12, 2)
            labels[y : y + h, x : x + w] = cls
    image = COLOURS[labels] + rng.normal(0, 12, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8), labels


def make_folder(counts=None, size=32, seed=0, image_kind="picture", label_kind="label_map"):
    rng = np.random.default_rng(seed)
    counts = counts or {"train": 16, "val": 4, "test": 4}
    folder = {}
    for split, count in counts.items():
        for index in range(count):
            image, labels = make_scene(rng, size)
            folder[f"{split}/{image_kind}/{index:03d}.png"] = (lambda a: (lambda: a))(image)
            folder[f"{split}/{label_kind}/{index:03d}.png"] = (lambda a: (lambda: a))(labels.astype(np.uint8))
    return folder


def stacked(folder, split, kind):
    keys = sorted(k for k in folder if k.startswith(f"{split}/{kind}/"))
    return np.stack([folder[k]() for k in keys])


JUDGE_PARAMS = {
    "image_kind": "picture",
    "label_kind": "label_map",
    "num_classes": 3,
    "ignore_index": None,
    "model": {"encoder": "resnet18", "encoder_depth": 3, "decoder_channels": [16, 8, 8]},
    "batch_size": 4,
    "lr": 0.003,
    "training": {"epochs": 10, "progress": False, "device": "cpu", "precision": "fp32", "seed": 0},
}
_TRAINED = {}


def trained_judge():
    """(folder, bundle, history) of a judge trained once per test session on :func:`make_folder`."""
    if not _TRAINED:
        import torch

        from gan_pipelines.families.paired.judge import train_judge

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            folder = make_folder()
            _TRAINED["result"] = (folder, *train_judge(folder, JUDGE_PARAMS))
        finally:
            torch.set_num_threads(threads)
    return _TRAINED["result"]
