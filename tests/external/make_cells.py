"""Write a labelled microscopy-style folder the way small segmentation sets ship, without any
project code: the paired ``folders`` layout, ``<out>/<split>/A/<name>.png`` single-channel class
maps (0 background, 1 round cell, 2 elongated cell) and ``<out>/<split>/B/<name>.jpg`` pictures.

Pictures: a smooth stained background with grain, cells as shaded ellipses (a darker nucleus in
the round ones), slightly blurred, saved as JPEG (quality 90). Only numpy and Pillow are used, so
the data is made outside the project: its renderer, readers and palettes play no part.

    python tests/external/make_cells.py OUT_DIR [--size 96] [--train 80] [--test 40] [--seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

CLASSES = ["background", "round_cell", "elongated_cell"]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    low = rng.normal(0, 1, (size // 8 + 2, size // 8 + 2))
    smooth = np.asarray(Image.fromarray(((low - low.min()) / (np.ptp(low) + 1e-9) * 255).astype(np.uint8))
                        .resize((size, size), Image.Resampling.BICUBIC), float) / 255
    tint = np.array([0.93, 0.85, 0.9]) - 0.08 * rng.random(3)
    picture = tint[None, None, :] * (0.85 + 0.15 * smooth[..., None])
    return picture + rng.normal(0, 0.02, picture.shape)


def make_sample(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(class map uint8 (size, size), picture uint8 (size, size, 3))."""
    labels = np.zeros((size, size), np.uint8)
    picture = _background(rng, size)
    yy, xx = np.mgrid[:size, :size].astype(float)
    for _ in range(int(rng.integers(2, 8))):
        cls = int(rng.integers(1, 3))
        cy, cx = rng.uniform(0, size, 2)
        a = rng.uniform(0.05, 0.1) * size
        b = a * (rng.uniform(0.8, 1.0) if cls == 1 else rng.uniform(0.3, 0.5))
        angle = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / a
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) / b
        radius = u ** 2 + v ** 2
        inside = radius <= 1
        labels[inside] = cls
        colour = np.array([0.55, 0.3, 0.6]) if cls == 1 else np.array([0.75, 0.45, 0.35])
        shade = (0.75 + 0.25 * (1 - radius))[..., None]
        picture[inside] = (colour * shade)[inside]
        if cls == 1:
            nucleus = radius <= 0.2
            picture[nucleus] = np.array([0.3, 0.12, 0.4])
    image = Image.fromarray(np.clip(picture * 255, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    return labels, np.asarray(image)


def write(out: Path, size: int = 96, train: int = 80, test: int = 40, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("test", test)):
        (out / split / "A").mkdir(parents=True, exist_ok=True)
        (out / split / "B").mkdir(parents=True, exist_ok=True)
        for index in range(count):
            labels, picture = make_sample(rng, size)
            name = f"cells_{split}_{index:04d}"
            Image.fromarray(labels).save(out / split / "A" / f"{name}.png")
            Image.fromarray(picture).save(out / split / "B" / f"{name}.jpg", quality=90)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--train", type=int, default=80)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    write(args.out, args.size, args.train, args.test, args.seed)
    print(f"wrote {args.train} train and {args.test} test pairs of {args.size} px to {args.out}")


if __name__ == "__main__":
    main()
