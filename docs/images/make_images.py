"""Write docs/images/<family>.png (the README's family table) from the reports of a real run.

Each picture is the "random test samples" grid of ``data/08_reporting/<family>_report.html``
(input, the model's output, baselines where the report has them, the real picture), so the README
shows what a run produced, not a chosen best case; ``compare_label_to_photo`` gives its one grid (every
model side by side), segsynth its made pictures beside real ones. Pictures are shrunk to at most ``--width`` pixels wide.

    python docs/images/make_images.py PROJECT_DIR [--families shadow pix2pix ...] [--width 720]

PROJECT_DIR is a project in which the families ran (e.g. after ``dvc repro``). A family without a
report is skipped with a message; an existing picture is replaced (these are generated files).
"""
from __future__ import annotations

import argparse
import base64
import io
import re
from pathlib import Path

from PIL import Image

FAMILIES = ("shadow", "pix2pix", "sketch2color", "pix2pixhd", "spade", "spade_vae", "compare_label_to_photo", "cyclegan",
            "ugatit", "munit", "unpaired_compare", "segsynth")
IMAGE = re.compile(r"<img src='data:image/png;base64,([^']+)' alt='([^']*)'>")
HERE = Path(__file__).resolve().parent


def report_grid(html: str) -> bytes | None:
    """The PNG bytes of the report's "random" examples grid, else its first picture; None if none."""
    images = IMAGE.findall(html)
    if not images:
        return None
    # "random", the first direction's random grid of an unpaired report ("a2b (...): random test scenes ..."),
    # or segsynth's made pictures beside real ones ("examples")
    chosen = next((data for data, alt in images if alt in ("random", "examples") or ": random " in alt), images[0][0])
    return base64.b64decode(chosen)


def shrink(png: bytes, width: int) -> Image.Image:
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    if picture.width > width:
        picture = picture.resize((width, round(picture.height * width / picture.width)), Image.LANCZOS)
    return picture


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES))
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    for family in args.families:
        report = args.project / "data" / "08_reporting" / f"{family}_report.html"
        if not report.is_file():
            print(f"{family}: no report at {report}; skipped")
            continue
        png = report_grid(report.read_text(encoding="utf-8"))
        if png is None:
            print(f"{family}: {report} holds no picture; skipped")
            continue
        target = args.out / f"{family}.png"
        picture = shrink(png, args.width)
        picture.save(target, optimize=True)
        print(f"{family}: {target} ({picture.width}x{picture.height}, {target.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
