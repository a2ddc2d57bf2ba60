"""Write a summer -> winter folder the way CycleGAN's data sets ship (``trainA/ trainB/ testA/
testB/``, JPEG files), without any project code.

Each picture is a procedural landscape: a sky, rolling hills, a lake and a few trees, drawn with
numpy and Pillow only (the project's renderer, readers and palettes play no part). Summer (A):
blue sky, green grass and trees, a blue lake. Winter (B): grey sky, snow on the ground and on the
trees' crowns, bare dark trunks, a pale frozen lake. The season change is not one colour
transform: grass goes white, the crowns go white with dark edges, the sky goes grey, the lake
pale. Train A and train B are drawn from disjoint seeds (nothing paired); every test layout is
drawn in both seasons under one file name (hidden pairs: ingest them with ``test_pairs: true``).
A few train pictures are 80x64 instead of 64x64 (as in real folders, sizes vary).

    python tests/external/make_seasons.py OUT_DIR [--size 64] [--train 200] [--test 60] [--seed 0]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SUMMER = {"sky_top": (70, 130, 220), "sky_bottom": (170, 210, 250), "grass": (70, 150, 60), "far_hill": (90, 140, 90),
          "crown": (40, 110, 40), "trunk": (100, 70, 40), "lake": (50, 100, 190)}
WINTER = {"sky_top": (150, 155, 165), "sky_bottom": (205, 208, 215), "grass": (235, 238, 242),
          "far_hill": (205, 210, 220), "crown": (225, 230, 236), "trunk": (60, 50, 45), "lake": (175, 195, 210)}


def _layout(rng: np.random.Generator) -> dict:
    """Everything about a picture except its season."""
    return {
        "horizon": rng.uniform(0.35, 0.55), "far_amp": rng.uniform(0.03, 0.08), "far_freq": rng.uniform(1.0, 3.0),
        "far_phase": rng.uniform(0, 2 * np.pi), "near_amp": rng.uniform(0.02, 0.06), "near_phase": rng.uniform(0, 6.3),
        "lake": None if rng.uniform() < 0.3 else (rng.uniform(0.15, 0.85), rng.uniform(0.7, 0.9),
                                                 rng.uniform(0.12, 0.3), rng.uniform(0.04, 0.08)),
        "trees": [(rng.uniform(0.05, 0.95), rng.uniform(0.55, 0.95), rng.uniform(0.08, 0.2))
                  for _ in range(int(rng.integers(2, 7)))],
        "noise_seed": int(rng.integers(2**31)),
    }


def draw(layout: dict, season: dict, width: int, height: int) -> Image.Image:
    """One landscape ``(height, width)`` RGB in ``season``'s colours."""
    rows = np.linspace(0, 1, height)[:, None, None]
    top, bottom = np.array(season["sky_top"], float), np.array(season["sky_bottom"], float)
    picture = np.broadcast_to(top + (bottom - top) * rows, (height, width, 3)).copy()
    x = np.linspace(0, 1, width)
    far = layout["horizon"] - layout["far_amp"] * np.sin(2 * np.pi * layout["far_freq"] * x + layout["far_phase"])
    near = layout["horizon"] + 0.08 + layout["near_amp"] * np.sin(2 * np.pi * 1.3 * x + layout["near_phase"])
    y = np.linspace(0, 1, height)[:, None]
    picture[y > far[None, :]] = season["far_hill"]
    grass = y > near[None, :]
    texture = np.random.default_rng(layout["noise_seed"]).normal(0, 8, (height, width, 1))
    picture[grass] = (np.array(season["grass"], float) + texture[grass]).clip(0, 255)
    image = Image.fromarray(picture.astype(np.uint8))
    pen = ImageDraw.Draw(image)
    if layout["lake"] is not None:
        cx, cy, rx, ry = layout["lake"]
        pen.ellipse([(cx - rx) * width, (cy - ry) * height, (cx + rx) * width, (cy + ry) * height], fill=season["lake"])
    for tx, ty, size in sorted(layout["trees"], key=lambda t: t[1]):  # far trees first
        h = size * height
        pen.rectangle([tx * width - 0.06 * h, ty * height - 0.35 * h, tx * width + 0.06 * h, ty * height],
                      fill=season["trunk"])
        pen.polygon([(tx * width - 0.35 * h, ty * height - 0.3 * h), (tx * width + 0.35 * h, ty * height - 0.3 * h),
                     (tx * width, ty * height - 1.2 * h)], fill=season["crown"], outline=season["trunk"])
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--train", type=int, default=200)
    parser.add_argument("--test", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for folder in ("trainA", "trainB", "testA", "testB"):
        (args.out_dir / folder).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for i in range(args.train):
        for folder, season in (("trainA", SUMMER), ("trainB", WINTER)):  # a new layout for each: unpaired
            width = int(args.size * 1.25) if i % 10 == 0 else args.size
            draw(_layout(rng), season, width, args.size).save(args.out_dir / folder / f"{i:04d}.jpg", quality=95)
    for i in range(args.test):
        layout = _layout(rng)
        draw(layout, SUMMER, args.size, args.size).save(args.out_dir / "testA" / f"{i:04d}.jpg", quality=95)
        draw(layout, WINTER, args.size, args.size).save(args.out_dir / "testB" / f"{i:04d}.jpg", quality=95)
    print(f"wrote {args.train} + {args.train} train and {args.test} test pairs to {args.out_dir}")


if __name__ == "__main__":
    main()
