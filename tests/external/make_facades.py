"""Write a facade-style aligned folder the way CMP facades ships it, without any project code.

Each file is one JPEG (quality 95, PIL's default 4:2:0 chroma subsampling) of two squares side by
side: the photo on the left (A) and the colour-coded label image on the right (B), 12 classes
coloured from a jet colour map like CMP's. JPEG smears the label colours across class borders,
which is what the paired ingest has to cope with. Only numpy and Pillow are used, so the data is
made outside the project: its renderer, readers and palettes play no part.

    python tests/external/make_facades.py OUT_DIR [--size 64] [--train 300] [--test 100] [--seed 0]

writes OUT_DIR/train/*.jpg, OUT_DIR/test/*.jpg and OUT_DIR/../<name>_palette.json (the class
colours, class i at position i), and prints the share of label pixels JPEG moved more than 40
(RGB distance) from every palette colour.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ["background", "facade", "window", "door", "cornice", "sill",
           "balcony", "blind", "deco", "molding", "pillar", "shop"]


def jet_palette(n: int) -> np.ndarray:
    """n colours of the jet colour map, dark blue to dark red, uint8 (n, 3)."""
    x = np.linspace(0.0, 1.0, n)
    r = np.clip(1.5 - np.abs(4 * x - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * x - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * x - 1), 0, 1)
    return np.round(np.stack([r, g, b], 1) * 255).astype(np.uint8)


def _rect(labels: np.ndarray, y0: int, y1: int, x0: int, x1: int, cls: int) -> None:
    h, w = labels.shape
    labels[max(0, y0):min(h, y1), max(0, x0):min(w, x1)] = cls


def draw_layout(rng: np.random.Generator, size: int) -> np.ndarray:
    """A facade's class map, int (size, size): sky, wall, floors of windows, a ground floor."""
    labels = np.zeros((size, size), np.int64)
    s = size / 64.0
    sky = int(rng.integers(0, int(10 * s) + 1))
    _rect(labels, sky, size, 0, size, 1)
    _rect(labels, sky, sky + max(1, int(2 * s)), 0, size, 4)            # cornice under the roof line
    if rng.random() < 0.5:                                              # pillars at the sides
        pw = max(1, int(rng.integers(2, 4) * s))
        _rect(labels, sky, size, 0, pw, 10)
        _rect(labels, sky, size, size - pw, size, 10)
    ground = size - int(rng.integers(12, 18) * s)
    floors = int(rng.integers(2, 5))
    floor_h = (ground - sky - int(3 * s)) / floors
    columns = int(rng.integers(2, 6))
    win_w = max(2, int(size / columns * rng.uniform(0.35, 0.6)))
    for f in range(floors):
        top = int(sky + 3 * s + f * floor_h)
        if f > 0 and rng.random() < 0.6:                                # molding between floors
            _rect(labels, top - 1, top, 0, size, 9)
        win_h = max(3, int(floor_h * rng.uniform(0.45, 0.7)))
        y0 = top + int((floor_h - win_h) / 2)
        balcony = rng.random() < 0.3
        blind = rng.random() < 0.4
        for c in range(columns):
            cx = int((c + 0.5) * size / columns)
            x0 = cx - win_w // 2
            _rect(labels, y0, y0 + win_h, x0, x0 + win_w, 2)
            if blind:
                _rect(labels, y0, y0 + win_h // 3, x0, x0 + win_w, 7)
            _rect(labels, y0 + win_h, y0 + win_h + max(1, int(s)), x0 - 1, x0 + win_w + 1, 5)
            if rng.random() < 0.15:                                     # ornament above a window
                _rect(labels, y0 - max(1, int(2 * s)), y0, x0, x0 + win_w, 8)
        if balcony:
            _rect(labels, y0 + win_h - int(2 * s), y0 + win_h + int(2 * s), int(2 * s), size - int(2 * s), 6)
    if rng.random() < 0.5:                                              # shop front or a door
        _rect(labels, ground + int(2 * s), size, int(3 * s), size - int(3 * s), 11)
    else:
        dw = max(3, int(rng.integers(8, 13) * s))
        dx = int(rng.integers(0, size - dw))
        _rect(labels, ground + int(2 * s), size, dx, dx + dw, 3)
    return labels


def render_photo(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    """A photo-like picture of a class map, uint8 (H, W, 3): per-building colours, brick, light."""
    h, w = labels.shape
    base = {
        0: rng.uniform([120, 150, 190], [180, 200, 240]),               # sky
        1: rng.choice([[190, 170, 140], [170, 90, 70], [200, 200, 195], [150, 140, 120]]) + rng.normal(0, 12, 3),
        2: rng.uniform([20, 30, 45], [70, 80, 100]),
        3: rng.uniform([60, 35, 20], [120, 80, 50]),
        4: rng.uniform([215, 210, 200], [240, 235, 230]),
        5: rng.uniform([200, 195, 185], [235, 230, 220]),
        6: rng.uniform([30, 30, 30], [80, 80, 80]),
        7: rng.choice([[150, 60, 40], [60, 100, 60], [200, 200, 190]]) + rng.normal(0, 10, 3),
        8: rng.uniform([180, 170, 150], [220, 210, 190]),
        9: rng.uniform([210, 205, 195], [235, 230, 220]),
        10: rng.uniform([170, 160, 140], [210, 200, 185]),
        11: rng.uniform([40, 40, 50], [110, 100, 90]),
    }
    photo = np.zeros((h, w, 3), np.float64)
    for cls, colour in base.items():
        photo[labels == cls] = colour
    yy, xx = np.mgrid[0:h, 0:w]
    wall = labels == 1
    if rng.random() < 0.6:                                              # brick courses on the wall
        course = ((yy // 2) % 2 == 0) | ((xx + 2 * ((yy // 2) % 2)) % 5 == 0)
        photo[wall & course] *= 0.88
    glass = labels == 2
    photo[glass] += (np.clip(1 - (yy[glass] % 7) / 7, 0, 1) * 40)[:, None]   # reflections
    light = 1.0 + rng.uniform(-0.25, 0.25) * (xx / w - 0.5) + rng.uniform(-0.15, 0.1) * (yy / h)
    photo *= light[..., None]
    photo += rng.normal(0, 6, photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8)


def far_share(label_rgb: np.ndarray, palette: np.ndarray, tolerance: float = 40.0) -> float:
    """Share of pixels farther than `tolerance` (RGB distance) from every palette colour."""
    d = np.linalg.norm(label_rgb[:, :, None, :].astype(np.float64) - palette[None, None].astype(np.float64), axis=-1)
    return float((d.min(-1) > tolerance).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--train", type=int, default=300)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    palette = jet_palette(len(CLASSES))
    rng = np.random.default_rng(args.seed)
    far = []
    for split, count in (("train", args.train), ("test", args.test)):
        folder = args.out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            labels = draw_layout(rng, args.size)
            photo = render_photo(rng, labels)
            pair = np.concatenate([photo, palette[labels]], axis=1)
            path = folder / f"{i + 1}.jpg"
            Image.fromarray(pair).save(path, quality=95)
            back = np.asarray(Image.open(path).convert("RGB"))[:, args.size:]
            far.append(far_share(back, palette))
    palette_path = args.out_dir.parent / f"{args.out_dir.name}_palette.json"
    palette_path.write_text(json.dumps(palette.tolist()))
    print(f"wrote {args.train} + {args.test} pairs to {args.out_dir}, palette {palette_path}; "
          f"label pixels > 40 from every palette colour: mean {np.mean(far):.1%}, max {np.max(far):.1%}")


if __name__ == "__main__":
    main()
