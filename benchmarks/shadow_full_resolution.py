"""How the shadow reaches a photo's size, measured against the truth: the trained model (64 px by
default) on the shadow test split at the resolution it was rendered at (256 px), each
``shadow.predict.full_resolution`` / ``strength`` setting scored there against the true shadow
images with the evaluation's own metrics (LRMSE, GBER, LBER, shadows within 30 degrees), and the
paired differences to ``upsampled`` with 95% bootstrap intervals over the test scenes.

Run it in a project where `kedro run --pipeline shadow` has finished (it reads the latest raw
test split and checkpoints through the catalog):

    python benchmarks/shadow_full_resolution.py --project . [--limit 100]

Not a speed benchmark: it prints quality figures, beside the speed scripts because it is a
measurement to repeat, not a test (a test asserts on hand-made cases: tests/families/shadow).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

SETTINGS = {
    "upsampled": {"full_resolution": "upsampled"},
    "sharp, model's darkness": {"full_resolution": "sharp", "strength": "model"},
    "sharp, scene's darkness (default)": {"full_resolution": "sharp", "strength": "scene"},
}
KEYS = ("LRMSE", "GBER", "LBER", "within_30")


def main() -> None:
    from gan_pipelines.families.shadow import layout
    from gan_pipelines.families.shadow.evaluation import evaluate_image
    from gan_pipelines.families.shadow.predict import ShadowPredictor
    from gan_pipelines.families.shadow.shadow_direction import direction_metrics
    from gan_pipelines.image_inputs import read_kind
    from gan_pipelines.metrics.intervals import bootstrap_interval

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", default=".", help="a project with a finished shadow run")
    parser.add_argument("--limit", type=int, default=None, help="only the first N test scenes")
    args = parser.parse_args()
    project = Path(args.project).resolve()
    test = sorted((project / "data/01_raw/shadow_raw").glob("*/shadow_raw/test"))
    if not test:
        raise SystemExit(f"no raw shadow test split under {project}/data/01_raw/shadow_raw: run `kedro run --pipeline shadow` first")
    test = test[-1]
    names = sorted(path.stem for path in (test / "noshadow").glob("*.png"))[: args.limit]
    predictor = ShadowPredictor.from_project(project)

    def read(kind: str, name: str) -> np.ndarray:
        path = test / kind / f"{name}.png"
        return read_kind(path.read_bytes(), layout.KIND_TYPES[kind], name=str(path))[0]

    scores = {label: [] for label in SETTINGS}
    for name in tqdm(names, desc="test scenes", unit="scene"):
        image, mask, truth, truth_mask = (read(kind, name) for kind in ("noshadow", "mask", "shadow", "shadow_mask"))
        for label, setting in SETTINGS.items():
            predictor.full_resolution = setting["full_resolution"]
            predictor.strength = setting.get("strength", "scene")
            output = predictor.predict(image, mask, name=name).image
            metrics = evaluate_image(truth, output, image, truth_mask)
            angle = direction_metrics(output, image, mask >= 128, truth_mask >= 128)["shadow_angle_error_deg"]
            within = float(np.nan_to_num(angle, nan=180.0) <= 30.0)  # no shadow counts as a miss
            scores[label].append([metrics["LRMSE"], metrics["GBER"], metrics["LBER"], within])
    table = {label: np.asarray(rows, dtype=np.float64) for label, rows in scores.items()}
    reference = table["upsampled"]
    resolution = image.shape[:2]
    print(f"\n{len(names)} test scenes at {resolution[1]}x{resolution[0]}, model at {predictor.resolution} px "
          f"(mean over scenes; [95% bootstrap interval] of the paired difference to upsampled)")
    print(f"{'setting':36s}" + "".join(f"{key:>26s}" for key in KEYS))
    for label, values in table.items():
        cells = []
        for column in range(len(KEYS)):
            mean = float(np.nanmean(values[:, column]))
            if label == "upsampled":
                cells.append(f"{mean:26.3f}")
                continue
            difference = values[:, column] - reference[:, column]
            (low, high), = bootstrap_interval(len(difference), lambda index: [np.nanmean(difference[index])])
            cells.append(f"{mean:8.3f} [{low:+.3f}, {high:+.3f}]".rjust(26))
        print(f"{label:36s}" + "".join(cells))


if __name__ == "__main__":
    main()
