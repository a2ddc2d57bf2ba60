"""The report's "Real photos" section: the trained model on the user's own photos (no ground
truth), run as shadow.predict runs it (predict_pairs), with the light-consistency check.

build_report gets small hand-made inputs (one synthetic test sample) and tiny untrained
checkpoint bundles at 32 px; the values of the section are checked against predict_pairs run on
the same folder with the same model."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import torch
from families.shadow.test_predict import SMALL
from families.shadow.test_shadow_direction import StandInPredictor

from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
from gan_pipelines.families.shadow.nodes.report import METHODS, METRIC_ORDER, build_report, real_photos_section
from gan_pipelines.families.shadow.predict import ShadowPredictor, predict_pairs
from gan_pipelines.image_folders import image_key
from gan_pipelines.images import encode_png

THRESHOLD = 10.0


@pytest.fixture(scope="module")
def bundles():
    """(attention, generator) checkpoint bundles of tiny untrained 32 px networks, as in
    test_predict.py (the generator's refined head darkens, so outputs differ from inputs)."""
    torch.manual_seed(0)
    attention, generator = build_attention_net(SMALL), build_shadow_generator(SMALL)
    with torch.no_grad():
        generator.refined_head.bias.fill_(-0.3)
    attention_bundle = {"state_dicts": {"attention": attention.state_dict()}, "model_config": {"attention": SMALL},
                        "meta": {"resolution": 32}}
    generator_bundle = {"state_dicts": {"generator": generator.state_dict()}, "model_config": {"generator": SMALL},
                        "meta": {"resolution": 32}}
    return attention_bundle, generator_bundle


def report_inputs(attention_bundle, generator_bundle, params):
    """build_report's keyword arguments for one synthetic 32 px test sample ``t0``."""
    rng = np.random.default_rng(0)
    rgb = {kind: rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for kind in ("noshadow", "shadow")}
    masks = {kind: np.zeros((32, 32), np.uint8) for kind in ("mask", "robject", "rshadow")}
    masks["mask"][10:20, 10:20] = 255
    model_input = {image_key("test", kind, "t0"): (lambda a=a: a) for kind, a in {**rgb, **masks}.items()}
    predictions = {image_key("test", kind, "t0"): (lambda a=a: a) for kind, a in {
        "robject": masks["robject"], "rshadow": masks["rshadow"],
        "shadow_layer": np.zeros((32, 32, 3), np.uint8), "output": rgb["noshadow"]}.items()}
    per_image = pd.DataFrame([{"name": "t0", "method": m, **{k: 1.0 for k in METRIC_ORDER}} for m in METHODS])
    metrics = {m: {k: 1.0 for k in METRIC_ORDER} for m in METHODS}
    metrics["attention"] = {"iou": 0.5}
    metrics["meta"] = {"resolution": 32, "num_test_images": 1, "shadow_mask": "exact (synthetic)",
                       "predicted_mask_threshold": THRESHOLD, "model_input_version": "v0"}
    history = pd.DataFrame({"epoch": [1, 2], "val_loss": [1.0, 0.5]})
    return dict(model_input=model_input, predictions=predictions, per_image=per_image, metrics=metrics,
                attention_history=history, generator_history=history, ingest_params={}, preprocess_params={},
                attention_params={}, generator_params={}, params={"num_examples": 1, **params},
                attention_checkpoint=attention_bundle, generator_checkpoint=generator_bundle)


def write_pair(root, name, image, mask):
    for kind, array in (("noshadow", image), ("mask", mask)):
        (root / kind).mkdir(parents=True, exist_ok=True)
        (root / kind / f"{name}.png").write_bytes(encode_png(array))


def photo(height, width, seed):
    """A photo with an object mask: a grey scene with noise and a dark block (an occluder)."""
    rng = np.random.default_rng(seed)
    image = np.clip(rng.normal(150, 20, (height, width, 3)), 0, 255).astype(np.uint8)
    image[5:15, 5:12] = 40
    mask = np.zeros((height, width), np.uint8)
    mask[height // 2:height // 2 + 12, width // 2:width // 2 + 10] = 255
    return image, mask


def real_photos_html(page: str) -> str:
    """The body of the "Real photos" section (up to the next heading)."""
    start = page.index("<h2>Real photos</h2>")
    return page[start:page.index("<h2>", start + 1)]


def files_under(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_two_photos_are_shown_with_their_light_consistency(bundles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    photos = tmp_path / "photos"
    write_pair(photos, "kitchen", *photo(48, 64, 1))
    write_pair(photos, "street", *photo(40, 56, 2))  # any size, each its own
    before = files_under(tmp_path)
    page, summary = build_report(**report_inputs(*bundles, {"real_photos_dir": str(photos)}))
    assert files_under(tmp_path) == before, "nothing but the report is written (and the node writes that)"

    section = real_photos_html(page)
    assert section.count("<tr><th>kitchen</th>") == 1 and section.count("<tr><th>street</th>") == 1
    assert section.count("<tbody><tr>") == 1 and section.count("</tr>") == 3  # header + 2 photos
    assert "<td>64x48</td>" in section and "<td>56x40</td>" in section
    assert section.count("<img src='data:image/png;base64,") == 2  # one picture row per photo
    assert "alt='real photo kitchen'" in section and "alt='real photo street'" in section

    # The same rows, computed the way shadow.predict computes them, with the same model.
    rows = {done.name: done.check.as_row() for done in predict_pairs(ShadowPredictor(*bundles), photos, THRESHOLD)}
    assert list(rows) == ["kitchen", "street"]
    scores = [row["light_consistency"] for row in rows.values() if row["light_consistency"] is not None]
    (line,) = [line for line in summary.splitlines() if line.startswith("Real photos:")]
    assert line.startswith(f"Real photos: 2 shown from {photos};")
    if scores:
        assert f"mean light_consistency {np.mean(scores):.3f} over {len(scores)} of 2 scored" in line
    else:  # the untrained attention net finds no occluder shadow: the reason is given instead
        assert f"light_consistency not scored for any ({rows['kitchen']['light_note']})" in line
    for name, row in rows.items():
        score = "n/a" if row["light_consistency"] is None else f"{row['light_consistency']:.3f}"
        diff = "n/a" if row["light_angle_diff_deg"] is None else f"{row['light_angle_diff_deg']:.3f}"
        size = "64x48" if name == "kitchen" else "56x40"
        assert f"<tr><th>{name}</th><td>{size}</td><td>{score}</td><td>{diff}</td>" in section


def test_scored_photos_give_the_mean_of_the_rows(tmp_path):
    """A stand-in model that draws its shadow to the right and reports one occluder whose shadow
    also points right: the photos are scored, and the summary's mean is theirs."""
    photos = tmp_path / "photos"
    for name, size in (("a", 64), ("b", 80)):
        image = np.full((size, size, 3), 150, np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[30:44, 20:30] = 255
        write_pair(photos, name, image, mask)
    body, line = real_photos_section(str(photos), StandInPredictor, THRESHOLD)
    rows = [done.check.as_row() for done in predict_pairs(StandInPredictor(), photos, THRESHOLD)]
    scores = [row["light_consistency"] for row in rows]
    assert all(score is not None and score > 0.8 for score in scores)
    assert line == f"Real photos: 2 shown from {photos}; mean light_consistency {np.mean(scores):.3f} over 2 of 2 scored."
    cells = re.findall(r"<tr><th>(\w+)</th><td>(\w+)</td><td>([\d.]+)</td><td>([\d.]+)</td>", body)
    assert [(name, size) for name, size, _, _ in cells] == [("a", "64x64"), ("b", "80x80")]
    assert [float(score) for _, _, score, _ in cells] == pytest.approx(scores, abs=5e-4)
    assert [float(diff) for _, _, _, diff in cells] == pytest.approx([r["light_angle_diff_deg"] for r in rows], abs=5e-4)


def test_missing_or_empty_folder_says_so_and_null_leaves_the_section_out(bundles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default, data/00_source/real_photos, does not exist here
    page, summary = build_report(**report_inputs(*bundles, {}))
    section = real_photos_html(page)
    assert "Real photos not configured: shadow.report.real_photos_dir (data/00_source/real_photos) does not exist" in section
    assert "noshadow/&lt;name&gt;.png|jpg" in section and "mask/&lt;name&gt;.png|jpg" in section
    assert "<img" not in section
    assert "Real photos: not configured (data/00_source/real_photos does not exist)." in summary

    empty = tmp_path / "empty"
    (empty / "noshadow").mkdir(parents=True)
    (empty / "noshadow/.DS_Store").write_bytes(b"litter")
    page, summary = build_report(**report_inputs(*bundles, {"real_photos_dir": str(empty)}))
    assert f"real_photos_dir ({empty}) holds no files" in real_photos_html(page)
    assert f"Real photos: not configured ({empty} holds no files)." in summary

    page, summary = build_report(**report_inputs(*bundles, {"real_photos_dir": None}))
    assert "Real photos" not in page
    assert "Real photos: not configured (shadow.report.real_photos_dir is null)." in summary


def test_bad_photos_fail_as_predict_does(bundles, tmp_path):
    photos = tmp_path / "photos"
    image, mask = photo(30, 40, 3)
    write_pair(photos, "fine", image, mask)
    write_pair(photos, "wide", image, np.full((30, 20), 255, np.uint8))  # mask of another size
    write_pair(photos, "blank", image, np.zeros((30, 40), np.uint8))  # marks no object
    write_pair(photos, "broken", image, mask)
    (photos / "noshadow/broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError) as error:
        build_report(**report_inputs(*bundles, {"real_photos_dir": str(photos)}))
    message = str(error.value)
    assert message.startswith(f"3 bad input(s) in {photos}:")
    assert "wide: size mismatch: noshadow 40x30, mask 20x30" in message
    assert "broken: noshadow/broken.png: not a readable image" in message
    assert "blank: mask/blank.png" in message and "empty" in message
    assert "fine" not in message
    # The same folder through predict_pairs gives the very same message.
    with pytest.raises(ValueError) as again:
        predict_pairs(StandInPredictor(), photos)
    assert str(again.value) == message
    # A folder without the layout names the report's parameter.
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat/photo.png").write_bytes(encode_png(image))
    with pytest.raises(ValueError, match=r"shadow.report.real_photos_dir must hold noshadow/ and mask/"):
        build_report(**report_inputs(*bundles, {"real_photos_dir": str(tmp_path / "flat")}))


@pytest.mark.parametrize("value", [3, ["data"], "", True])
def test_real_photos_dir_must_be_a_path_or_null(bundles, value):
    with pytest.raises(ValueError, match=r"shadow\.report\.real_photos_dir must be a folder path or null"):
        build_report(**report_inputs(*bundles, {"real_photos_dir": value}))


def test_report_node_gets_both_checkpoints():
    from gan_pipelines.families.shadow.pipeline import create_pipelines

    (node,) = create_pipelines()["report"].nodes
    assert {"shadow.attention_checkpoint", "shadow.generator_checkpoint", "params:shadow.report"} <= set(node.inputs)


def test_predict_pairs_is_what_predict_folder_writes(tmp_path):
    from gan_pipelines.families.shadow.predict import predict_folder
    from gan_pipelines.images import read_image

    photos = tmp_path / "photos"
    image, mask = photo(48, 64, 4)
    write_pair(photos, "a", image, mask)
    (done,) = list(predict_pairs(StandInPredictor(), photos))
    assert done.image.shape == (48, 64, 3) and done.mask.shape == (48, 64) and done.object_mask.sum() == 120
    summary = predict_folder(StandInPredictor(), photos, tmp_path / "out")
    np.testing.assert_array_equal(read_image(tmp_path / "out/shadow/a.png"), done.result.image)
    row = summary["light_consistency"]["a"]
    assert row == done.check.as_row()
    assert math.isclose(row["light_consistency"], 1 - row["light_angle_diff_deg"] / 180, abs_tol=1e-3)
