"""The shadow family's image-folder view: the inserted object's shadow mask is exact where the data
has it, derived where it has none, and an error naming the file anywhere in between; and the
ingest node's skip list lands where README says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_pipelines.families.shadow.data import load_split_arrays, shadow_mask_source
from gan_pipelines.families.shadow.evaluation import derive_shadow_mask
from gan_pipelines.image_folders import image_key
from gan_pipelines.images import ImageError

KINDS = ("noshadow", "shadow", "mask", "robject", "rshadow", "shadow_mask")


def _folder(names=("a", "b"), with_shadow_mask=("a", "b")):
    rng = np.random.default_rng(0)
    folder = {}
    for name in names:
        noshadow = rng.integers(60, 200, (8, 8, 3), dtype=np.uint8)
        shadow = noshadow.copy()
        shadow[4:, :4] //= 2
        arrays = {"noshadow": noshadow, "shadow": shadow, "mask": np.zeros((8, 8), np.uint8),
                  "robject": np.zeros((8, 8), np.uint8), "rshadow": np.zeros((8, 8), np.uint8)}
        if name in with_shadow_mask:
            exact = np.zeros((8, 8), np.uint8)
            exact[4:, :4] = 255
            exact[0, 7] = 255  # differs from the derived mask, so the test sees which one was used
            arrays["shadow_mask"] = exact
        for kind, array in arrays.items():
            folder[image_key("test", kind, name)] = lambda array=array: array
    return folder


def test_exact_masks_are_read():
    folder = _folder()
    assert shadow_mask_source(folder, "test") == "exact"
    arrays = load_split_arrays(folder, "test", KINDS)
    assert arrays["shadow_mask"][0, 0, 7] == 255


def test_data_without_shadow_masks_gets_derived_ones():
    folder = _folder(with_shadow_mask=())
    assert shadow_mask_source(folder, "test") == "derived"
    arrays = load_split_arrays(folder, "test", KINDS)
    expected = derive_shadow_mask(arrays["shadow"][0], arrays["noshadow"][0])
    assert np.array_equal(arrays["shadow_mask"][0], expected) and arrays["shadow_mask"][0, 0, 7] == 0


def test_a_partial_shadow_mask_folder_is_an_error_naming_the_file():
    folder = _folder(names=("a", "b", "c"), with_shadow_mask=("a", "c"))
    with pytest.raises(ValueError, match=r"1 of 3 test samples lack a shadow_mask image \(e.g. test/shadow_mask/b.png\)"):
        load_split_arrays(folder, "test", KINDS)


def test_an_unreadable_shadow_mask_is_an_error_naming_the_file():
    folder = _folder()

    def broken():
        raise ImageError("data/05_model_input/shadow/v/shadow/test/shadow_mask/b.png: not a readable image")

    folder[image_key("test", "shadow_mask", "b")] = broken
    with pytest.raises(ImageError, match="shadow_mask/b.png: not a readable image"):
        load_split_arrays(folder, "test", KINDS)


def test_evaluation_records_derived_masks(tiny_trained_project):
    """The tiny synthetic run has exact masks; the meta says so (and "derived" otherwise)."""
    import json

    metrics = json.loads((tiny_trained_project / "data/08_reporting/shadow_metrics.json").read_text())
    assert metrics["meta"]["shadow_mask"] == "exact (synthetic)"


def test_ingest_skip_list_lands_where_readme_says(project, kedro_run):
    """`on_invalid: skip` through the real node and catalog: the skipped sample and its reason are
    in the versioned CSV at the path README gives."""
    from PIL import Image

    from gan_pipelines.families.shadow.layout import SAMPLE_KINDS

    source = project / "shadow_ar"
    for split, name in (("train", "good"), ("train", "broken"), ("test", "other")):
        for kind in SAMPLE_KINDS:
            if name == "broken" and kind == "rshadow":
                continue  # one file missing: the sample is invalid
            (source / split / kind).mkdir(parents=True, exist_ok=True)
            array = np.full((8, 8, 3), 90, np.uint8) if kind in ("noshadow", "shadow") else np.full((8, 8), 255, np.uint8)
            Image.fromarray(array).save(source / split / kind / f"{name}.png")
    params = {"shadow": {"ingest": {"source": "shadow_ar", "path": str(source), "on_invalid": "skip"}}}
    kedro_run(project, "shadow.ingest", params)

    (version,) = (project / "data/01_raw/shadow_ingest_skipped.csv").iterdir()
    skipped = pd.read_csv(version / "shadow_ingest_skipped.csv")
    assert skipped[["split", "name"]].values.tolist() == [["train", "broken"]]
    assert "rshadow" in skipped["reason"][0]
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert "data/01_raw/shadow_ingest_skipped.csv/<version>/shadow_ingest_skipped.csv" in readme
