"""The report's "Real photos" section: the trained model on the user's own photos (no ground
truth), run as shadow.predict runs it (predict_pairs), with the light-consistency check.

build_report gets small hand-made inputs (one synthetic test sample) and tiny untrained
checkpoint bundles at 32 px; the values of the section are checked against predict_pairs run on
the same folder with the same model. The comparison with an earlier model's outputs
(shadow.report.real_photos_before) is checked on hand-made "earlier outputs" of known values."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from families.shadow.test_predict import SMALL
from families.shadow.test_shadow_direction import StandInPredictor

from gan_pipelines.datasets import InputFolderDataset
from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
from gan_pipelines.families.shadow.nodes.report import (
    METHODS, METRIC_ORDER, REAL_PHOTOS_DEFAULT, build_report, real_photos_before_setting, real_photos_section,
)
from gan_pipelines.families.shadow.predict import ShadowPredictor, predict_pairs
from gan_pipelines.families.shadow.shadow_direction import draw_direction_overlay, light_consistency
from gan_pipelines.families.shadow.shadow_strength import shadow_strength
from gan_pipelines.image_folders import image_key
from gan_pipelines.images import encode_png, read_image

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


def report_inputs(attention_bundle, generator_bundle, params, photos=REAL_PHOTOS_DEFAULT):
    """build_report's keyword arguments for one synthetic 32 px test sample ``t0``, with the
    folder ``photos`` as the catalog entry shadow.real_photos (default: the catalog's path,
    relative to the working directory)."""
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
                attention_checkpoint=attention_bundle, generator_checkpoint=generator_bundle,
                real_photos=InputFolderDataset(path=str(photos)).load())


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
    page, summary = build_report(**report_inputs(*bundles, {}, photos))
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
    also points right: the photos are scored, and the summary's mean is theirs. The photos hold
    that scene shadow, half as bright as the ground, so the shadow strength is scored too."""
    photos = tmp_path / "photos"
    for name, size in (("a", 64), ("b", 80)):
        image = np.full((size, size, 3), 150, np.uint8)
        mask = np.zeros((size, size), np.uint8)
        mask[30:44, 20:30] = 255
        image[StandInPredictor().predict(image, mask).rshadow > 0] = 75  # the scene's shadow: darkening 0.5
        write_pair(photos, name, image, mask)
    body, line = real_photos_section(str(photos), StandInPredictor, THRESHOLD)
    done = list(predict_pairs(StandInPredictor(), photos, THRESHOLD))
    scores = [d.check.as_row()["light_consistency"] for d in done]
    assert all(score is not None and score > 0.8 for score in scores)
    strength = [d.strength.as_row() for d in done]
    assert all(row["scene_shadow_darkening"] == pytest.approx(0.5) for row in strength)
    # The stand-in's layer of -0.5 (a quarter of the 0..1 range) on the 150 ground multiplies it by
    # (150/255 - 0.25) / (150/255): 86 in the band's core, darkening 1 - 86/150; the upsampled
    # band's soft edges are darkened less and pull the median below that.
    assert all(row["shadow_darkening_darkest5"] == pytest.approx(1 - 86 / 150, abs=1e-4) for row in strength)
    assert all(0.1 < row["shadow_darkening"] < 1 - 86 / 150 for row in strength)
    ratios = [row["shadow_strength"] for row in strength]
    assert ratios == pytest.approx([row["shadow_darkening"] / 0.5 for row in strength], abs=1e-3)
    assert line == (f"Real photos: 2 shown from {photos}; mean light_consistency {np.mean(scores):.3f} over 2 of 2 "
                    f"scored; median shadow_strength {np.median(ratios):.3f} over 2 of 2 scored.")
    cells = re.findall(r"<tr><th>(\w+)</th><td>(\w+)</td><td>([\d.]+)</td><td>([\d.]+)</td>", body)
    assert [(name, size) for name, size, _, _ in cells] == [("a", "64x64"), ("b", "80x80")]
    assert [float(score) for _, _, score, _ in cells] == pytest.approx(scores, abs=5e-4)
    assert [float(diff) for _, _, _, diff in cells] == pytest.approx(
        [d.check.as_row()["light_angle_diff_deg"] for d in done], abs=5e-4)
    _, table = table_rows(body)
    assert [float(table[name][4]) for name in ("a", "b")] == pytest.approx(ratios, abs=5e-4)  # shadow_strength


def test_missing_or_empty_folder_says_so_and_null_leaves_the_section_out(bundles, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default, data/00_source/real_photos, does not exist here
    page, summary = build_report(**report_inputs(*bundles, {}))
    section = real_photos_html(page)
    assert ("Real photos not configured: the catalog entry shadow.real_photos (data/00_source/real_photos) does not "
            "exist") in section
    assert "noshadow/&lt;name&gt;.png|jpg" in section and "mask/&lt;name&gt;.png|jpg" in section
    assert "<img" not in section
    assert "Real photos: not configured (data/00_source/real_photos does not exist)." in summary

    empty = tmp_path / "empty"
    (empty / "noshadow").mkdir(parents=True)
    (empty / "noshadow/.DS_Store").write_bytes(b"litter")
    page, summary = build_report(**report_inputs(*bundles, {}, empty))
    assert f"shadow.real_photos ({empty}) holds no files" in real_photos_html(page)
    assert f"Real photos: not configured ({empty} holds no files)." in summary

    page, summary = build_report(**report_inputs(*bundles, {"real_photos": False}, photos=tmp_path / "unread"))
    assert "Real photos" not in page
    assert "Real photos: not shown (shadow.report.real_photos is false)." in summary


def test_bad_photos_fail_as_predict_does(bundles, tmp_path):
    photos = tmp_path / "photos"
    image, mask = photo(30, 40, 3)
    write_pair(photos, "fine", image, mask)
    write_pair(photos, "wide", image, np.full((30, 20), 255, np.uint8))  # mask of another size
    write_pair(photos, "blank", image, np.zeros((30, 40), np.uint8))  # marks no object
    write_pair(photos, "broken", image, mask)
    (photos / "noshadow/broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError) as error:
        build_report(**report_inputs(*bundles, {}, photos))
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
    with pytest.raises(ValueError, match=r"catalog entry shadow.real_photos must hold noshadow/ and mask/"):
        build_report(**report_inputs(*bundles, {}, tmp_path / "flat"))


@pytest.mark.parametrize("value", [3, ["data"], "", "data/00_source/real_photos", None])
def test_real_photos_must_be_true_or_false(bundles, value):
    with pytest.raises(ValueError, match=r"shadow\.report\.real_photos must be true \(show the section\) or false"):
        build_report(**report_inputs(*bundles, {"real_photos": value}))


def test_the_former_real_photos_dir_says_where_the_folder_is_set_now(bundles):
    from gan_pipelines.families.shadow.config import ReportParams

    for call in (lambda: build_report(**report_inputs(*bundles, {"real_photos_dir": "data/00_source/real_photos"})),
                 lambda: ReportParams.parse({"real_photos_dir": None}, "shadow.report")):
        with pytest.raises(ValueError) as error:
            call()
        assert str(error.value).startswith("shadow.report.real_photos_dir is gone: the photos are the catalog entry "
                                           "shadow.real_photos (conf/base/catalog.yml, path data/00_source/real_photos")


def test_report_node_gets_both_checkpoints_and_the_photos_from_the_catalog():
    from gan_pipelines.families.shadow.pipeline import create_pipelines

    pipelines = create_pipelines()
    (node,) = pipelines["report"].nodes
    assert {"shadow.attention_checkpoint", "shadow.generator_checkpoint", "params:shadow.report",
            "shadow.real_photos"} <= set(node.inputs)
    # a free input of the stage and of the chain: kedro viz draws it, nothing in the project writes it
    assert "shadow.real_photos" in pipelines["report"].inputs() and "shadow.real_photos" in pipelines[""].inputs()


def project_catalog_entry():
    """The catalog with conf/base/catalog.yml's shadow.real_photos entry, as Kedro builds it."""
    import yaml
    from kedro.io import DataCatalog

    conf = yaml.safe_load((Path(__file__).resolve().parents[3] / "conf/base/catalog.yml").read_text())
    return DataCatalog.from_config({"shadow.real_photos": conf["shadow.real_photos"]})


def test_the_photos_of_the_catalog_entry_are_the_rows(bundles, tmp_path, monkeypatch):
    """A project whose data/00_source/real_photos holds two photos: the report, given what the
    catalog entry loads, shows those two and reads nothing else; without the folder, a note."""
    monkeypatch.chdir(tmp_path)  # Kedro runs in the project root; the entry's path is relative to it
    catalog = project_catalog_entry()
    assert not catalog.exists("shadow.real_photos")
    inputs = report_inputs(*bundles, {})
    page, summary = build_report(**{**inputs, "real_photos": catalog.load("shadow.real_photos")})
    assert "Real photos: not configured (data/00_source/real_photos does not exist)." in summary
    assert "<img" not in real_photos_html(page)

    photos = tmp_path / "data/00_source/real_photos"
    write_pair(photos, "kitchen", *photo(48, 64, 1))
    write_pair(photos, "street", *photo(40, 56, 2))
    (photos / ".gitkeep").touch()  # as in the repository: litter, not a photo
    loaded = catalog.load("shadow.real_photos")
    assert catalog.exists("shadow.real_photos") and loaded.path == Path("data/00_source/real_photos")
    page, summary = build_report(**{**inputs, "real_photos": loaded})
    header, rows = table_rows(real_photos_html(page).split("<h2>Real photos</h2>")[1])
    assert sorted(name for name, cells in rows.items() if cells) == ["kitchen", "street"]  # "name": the index header
    assert [rows[name][0] for name in ("kitchen", "street")] == ["64x48", "56x40"]
    assert real_photos_html(page).count("<img") == 2
    assert summary.count("Real photos: 2 shown from data/00_source/real_photos;") == 1


def test_the_photos_entry_is_read_only(tmp_path):
    from kedro.io import DatasetError

    dataset = InputFolderDataset(path=str(tmp_path / "photos"))
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({})
    with pytest.raises(DatasetError, match="local folder"):
        InputFolderDataset(path="s3://bucket/photos")
    (tmp_path / "photos").write_text("a file, not a folder")
    assert dataset.load().missing == "is not a folder"


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


# --- An earlier model's outputs beside the current one's (shadow.report.real_photos_before) ---

OBJECT = (slice(30, 44), slice(20, 30))  # rows, columns of the object in the flat photos below
NOW_TITLES = ("input", "output", "|output - input| x3", "direction\n(red: shadow, cyan: scene)")


def flat_photos(root, sizes=(("a", 64, 64), ("b", 64, 80), ("c", 72, 64))):
    """Uniform grey photos (150) with the object at :data:`OBJECT`: {name: image}. The stand-in
    model draws its shadow to the right of the object and reports a scene shadow to the right."""
    images = {}
    for name, height, width in sizes:
        image = np.full((height, width, 3), 150, np.uint8)
        mask = np.zeros((height, width), np.uint8)
        mask[OBJECT] = 255
        write_pair(root, name, image, mask)
        images[name] = image
    return images


def write_before(folder, name, array, suffix=".png"):
    """An earlier model's output as shadow.predict writes it: <folder>/shadow/<name><suffix>."""
    (folder / "shadow").mkdir(parents=True, exist_ok=True)
    path = folder / "shadow" / f"{name}{suffix}"
    if suffix.lower() == ".png":
        path.write_bytes(encode_png(array))
    else:
        from PIL import Image

        Image.fromarray(array).save(path, format="JPEG", quality=95)
    return path


def capture_picture_rows(monkeypatch):
    """Record every picture row the section draws: [(pictures, column titles, row title)]."""
    from gan_pipelines.reporting import html_report

    calls, draw = [], html_report.image_grid_figure

    def record(rows, column_titles, row_titles):
        (pictures,) = rows
        calls.append(([np.asarray(p) for p in pictures], tuple(column_titles), list(row_titles)))
        return draw(rows, column_titles, row_titles)

    monkeypatch.setattr(html_report, "image_grid_figure", record)
    return calls


def table_rows(body):
    """The section table: (header cells, {name: cells})."""
    table = body[:body.index("</table>")]
    header = re.findall(r"<th>([^<]*)</th>", table[:table.index("</thead>")])
    rows = {m[0]: re.findall(r"<td>([^<]*)</td>", m[1]) for m in re.findall(r"<tr><th>(\w+)</th>(.*?)</tr>", table)}
    return header, rows


def cell(value):
    return "n/a" if value is None else f"{value:.3f}"


def grey_diff_x3(a, b):
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64)).mean(axis=2) * 3
    return np.clip(diff, 0, 255).round().astype(np.uint8)


def test_before_columns_show_the_earlier_output_its_difference_and_its_score(tmp_path, monkeypatch):
    photos, earlier = tmp_path / "photos", tmp_path / "earlier"
    images = flat_photos(photos)
    before = {"a": np.full((64, 64, 3), 170, np.uint8)}  # input + 20 everywhere: |before - input| x3 = 60
    before["b"] = images["b"].copy()
    before["b"][41:44, 10:19] = 100  # a shadow to the LEFT of the object: 50 x3 = 150 there, against the scene
    before["c"] = images["c"].copy()
    before["c"][41:44, 31:39] = 90  # to the right, as the scene; stored as JPEG (lossy): compared as read back
    for name in ("a", "b"):
        write_before(earlier, name, before[name])
    jpeg = write_before(earlier, "c", before["c"], ".JPG")
    before["c"] = read_image(jpeg)
    (earlier / "shadow/.DS_Store").write_bytes(b"litter")  # ignored, as everywhere
    (earlier / "overlay").mkdir()  # shadow.predict's other folders are not read

    calls = capture_picture_rows(monkeypatch)
    setting = real_photos_before_setting({"real_photos_before": str(earlier), "real_photos_before_label": "v1"})
    body, line = real_photos_section(str(photos), StandInPredictor, THRESHOLD, before=setting)

    now = {done.name: done for done in predict_pairs(StandInPredictor(), photos, THRESHOLD)}
    titles = ("input", "v1\noutput", "now\noutput", "v1\n|output - input| x3", "now\n|output - input| x3",
              "now direction\n(red: shadow, cyan: scene)")
    assert [(title, row_title) for _, title, row_title in calls] == [
        (titles, ["a\n64x64"]), (titles, ["b\n80x64"]), (titles, ["c\n64x72"])]
    for (pictures, _, _), name in zip(calls, "abc"):
        done = now[name]
        expected = [images[name], before[name], done.result.image, grey_diff_x3(before[name], images[name]),
                    grey_diff_x3(done.result.image, images[name]),
                    draw_direction_overlay(done.result.image, done.object_mask, done.check)]
        assert len(pictures) == 6
        for picture, want in zip(pictures, expected):
            np.testing.assert_array_equal(picture, want)
    assert (calls[0][0][3] == 60).all()
    b_diff = calls[1][0][3]
    assert (b_diff[41:44, 10:19] == 150).all() and b_diff.sum() == 150 * 3 * 9

    # The table: the now columns as before, then the earlier outputs', scored against this model's scene.
    header, rows = table_rows(body)
    strength_keys = ["shadow_strength", "shadow_darkening", "shadow_darkening_darkest5", "scene_shadow_darkening",
                     "strength_note"]
    assert header == ["name", "size", "light_consistency", "light_angle_diff_deg", "light_note", *strength_keys,
                      "v1 light_consistency", "v1 light_angle_diff_deg", "v1 light_note",
                      *(f"v1 {key}" for key in strength_keys)]
    checks, was_notes = {}, {}
    for name, done in now.items():
        checks[name] = light_consistency(before[name], images[name], done.object_mask, done.result.robject,
                                         done.result.rshadow, mask_threshold=THRESHOLD).as_row()
        was_strength = shadow_strength(before[name], images[name], done.object_mask, done.result.robject,
                                       done.result.rshadow, mask_threshold=THRESHOLD).as_row()
        mine, was, strength = done.check.as_row(), checks[name], done.strength.as_row()
        was_notes[name] = was_strength["strength_note"]
        # Flat photos have no scene shadow in them: no strength ratio, the reason given instead.
        assert strength["shadow_strength"] is None and was_strength["shadow_strength"] is None
        assert [html.unescape(c) for c in rows[name][1:]] == [
            cell(mine["light_consistency"]), cell(mine["light_angle_diff_deg"]), mine["light_note"],
            *(cell(strength[k]) for k in strength_keys[:-1]), strength["strength_note"],
            cell(was["light_consistency"]), cell(was["light_angle_diff_deg"]), was["light_note"],
            *(cell(was_strength[k]) for k in strength_keys[:-1]), was_strength["strength_note"]]
    assert checks["b"]["light_consistency"] < 0.2 < 0.8 < now["b"].check.score  # left vs right: the scores differ
    assert checks["c"]["light_consistency"] > 0.8
    note = html.unescape(body[body.index("<p class='note'>"):body.index("</p>")])
    assert f"v1 = the earlier model's outputs read from {earlier}/shadow/" in note
    assert "The v1 scores use this model's scene estimate" in note

    now_scores = [done.check.score for done in now.values()]
    was_scores = [checks[n]["light_consistency"] for n in now if checks[n]["light_consistency"] is not None]
    both = [n for n in now if checks[n]["light_consistency"] is not None]
    assert len(both) >= 2  # b and c at least
    assert line == (
        f"Real photos: 3 shown from {photos}; mean light_consistency {np.mean(now_scores):.3f} over 3 of 3 scored; "
        f"shadow_strength not scored for any ({now['a'].strength.note}); "
        f"v1 (the earlier outputs in {earlier}, scored against this model's scene estimate): mean light_consistency "
        f"{np.mean(was_scores):.3f} over {len(was_scores)} of 3 scored; on the {len(both)} scored by both, v1 "
        f"{np.mean([checks[n]['light_consistency'] for n in both]):.3f} vs now "
        f"{np.mean([now[n].check.score for n in both]):.3f}; shadow_strength not scored for any "
        f"({was_notes['a']})."
    )


def test_earlier_outputs_equal_to_the_current_ones_score_the_same(bundles, tmp_path, monkeypatch):
    """Through build_report with the real (untrained) model: the earlier outputs are this model's own,
    so the before columns repeat the now columns exactly."""
    monkeypatch.chdir(tmp_path)
    photos, earlier = tmp_path / "photos", tmp_path / "earlier"
    write_pair(photos, "kitchen", *photo(48, 64, 1))
    for done in predict_pairs(ShadowPredictor(*bundles), photos, THRESHOLD):
        write_before(earlier, done.name, done.result.image)
    written = files_under(tmp_path)
    page, summary = build_report(**report_inputs(*bundles, {"real_photos_before": str(earlier)}, photos))
    assert files_under(tmp_path) == written
    header, rows = table_rows(real_photos_html(page).split("<h2>Real photos</h2>")[1])
    assert header[-8:-3] == ["before light_consistency", "before light_angle_diff_deg", "before light_note",
                              "before shadow_strength", "before shadow_darkening"]
    assert rows["kitchen"][1:9] == rows["kitchen"][9:17]  # light consistency and strength, now and before
    (line,) = [line for line in summary.splitlines() if line.startswith("Real photos:")]
    assert f"; before (the earlier outputs in {earlier}, scored against this model's scene estimate): " in line


class CountingPredictor(StandInPredictor):
    """The stand-in model, counting its predictions (class-wide)."""

    calls = 0

    def _predict_small(self, image, mask):
        type(self).calls += 1
        return super()._predict_small(image, mask)


def run_section(photos, earlier):
    CountingPredictor.calls = 0
    setting = real_photos_before_setting({"real_photos_before": str(earlier)})
    return real_photos_section(str(photos), CountingPredictor, THRESHOLD, before=setting)


def test_missing_folder_names_the_parameter_and_the_path(tmp_path):
    photos = tmp_path / "photos"
    flat_photos(photos)
    written = files_under(tmp_path)
    with pytest.raises(ValueError) as error:
        run_section(photos, tmp_path / "nowhere")
    assert str(error.value).startswith(f"shadow.report.real_photos_before ({tmp_path / 'nowhere'}) is not a folder")
    (tmp_path / "earlier/overlay").mkdir(parents=True)  # a folder, but not shadow.predict's output_dir
    with pytest.raises(ValueError) as error:
        run_section(photos, tmp_path / "earlier")
    assert str(error.value).startswith(
        f"shadow.report.real_photos_before ({tmp_path / 'earlier'}) has no shadow/ folder ({tmp_path / 'earlier/shadow'})")
    assert CountingPredictor.calls == 0 and files_under(tmp_path) == written


def test_every_missing_or_bad_earlier_output_is_listed_before_any_prediction(tmp_path):
    photos, earlier = tmp_path / "photos", tmp_path / "earlier"
    images = flat_photos(photos, (("a", 64, 64), ("b", 64, 64), ("c", 64, 64), ("d", 40, 50), ("e", 32, 32),
                                  ("f", 32, 32)))
    write_before(earlier, "a", images["a"])  # fine
    write_before(earlier, "d", np.zeros((50, 40, 3), np.uint8))  # 40x50 instead of 50x40
    (earlier / "shadow/e.png").write_bytes(b"not an image")
    write_before(earlier, "f", images["f"])
    write_before(earlier, "f", images["f"], ".jpg")  # which one?
    (earlier / "shadow/b.txt").write_text("not an image file: not an output of b")
    written = files_under(tmp_path)
    with pytest.raises(ValueError) as error:
        run_section(photos, earlier)
    message = str(error.value)
    assert message.startswith(f"5 problem(s) with the earlier outputs of shadow.report.real_photos_before ({earlier};")
    lines = message.splitlines()[1:]
    assert lines[0] == f"  b: missing {earlier / 'shadow/b'}.png|jpg"
    assert lines[1] == f"  c: missing {earlier / 'shadow/c'}.png|jpg"
    assert lines[2] == f"  d: {earlier / 'shadow/d.png'} is 40x50 but the photo {photos / 'noshadow/d.png'} is 50x40"
    assert lines[3].startswith(f"  e: {earlier / 'shadow/e.png'}: cannot be read (")
    assert lines[4] == f"  f: 2 files for one photo ({earlier / 'shadow/f.jpg'}, {earlier / 'shadow/f.png'}); keep one"
    assert len(lines) == 5  # a is fine
    assert CountingPredictor.calls == 0 and files_under(tmp_path) == written


def test_bad_photos_are_reported_before_the_earlier_outputs(tmp_path):
    photos = tmp_path / "photos"
    flat_photos(photos, (("a", 32, 32),))
    (photos / "noshadow/a.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"1 bad input\(s\) in .*\n  a: noshadow/a.png: not a readable image"):
        run_section(photos, tmp_path / "nowhere")


def test_null_keeps_the_section_as_it_was(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    flat_photos(photos)
    calls = capture_picture_rows(monkeypatch)
    assert real_photos_before_setting({"real_photos_before_label": "v1"}) is None
    body, line = real_photos_section(str(photos), StandInPredictor, THRESHOLD, before=None)
    assert [title for _, title, _ in calls] == [NOW_TITLES] * 3
    now = {done.name: done for done in predict_pairs(StandInPredictor(), photos, THRESHOLD)}
    for (pictures, _, _), done in zip(calls, now.values()):
        expected = [done.image, done.result.image, grey_diff_x3(done.result.image, done.image),
                    draw_direction_overlay(done.result.image, done.object_mask, done.check)]
        assert len(pictures) == 4
        for picture, want in zip(pictures, expected):
            np.testing.assert_array_equal(picture, want)
    header, rows = table_rows(body)
    assert header == ["name", "size", "light_consistency", "light_angle_diff_deg", "light_note", "shadow_strength",
                      "shadow_darkening", "shadow_darkening_darkest5", "scene_shadow_darkening", "strength_note"]
    text = body[:body.index("<img")]  # the table and the note
    assert "earlier" not in text and "now" not in text and "before" not in text
    scores = [done.check.score for done in now.values()]
    assert line == (f"Real photos: 3 shown from {photos}; mean light_consistency {np.mean(scores):.3f} over 3 of 3 "
                    f"scored; shadow_strength not scored for any ({now['a'].strength.note}).")


def test_the_configured_defaults_keep_the_section_as_it_was(bundles):
    import yaml

    path = Path(__file__).resolve().parents[3] / "conf/base/shadow/parameters_report.yml"
    conf = yaml.safe_load(path.read_text())["shadow"]["report"]
    assert conf["real_photos_before"] is None and conf["real_photos_before_label"] == "before"
    assert real_photos_before_setting(conf) is None
    page, summary = build_report(**report_inputs(*bundles, {**conf, "real_photos": False}))  # keys accepted
    assert conf["real_photos"] is True
    assert "Real photos: not shown (shadow.report.real_photos is false)." in summary


@pytest.mark.parametrize("value", [3, ["data"], "", "  ", True])
def test_real_photos_before_must_be_a_path_or_null(bundles, value):
    with pytest.raises(ValueError, match=r"^shadow\.report\.real_photos_before must be a folder path .* or null"):
        build_report(**report_inputs(*bundles, {"real_photos_before": value}))


@pytest.mark.parametrize("label", [3, None, "", " ", "now", "two\nlines", "x" * 25])
def test_real_photos_before_label_must_be_a_short_title(bundles, label):
    with pytest.raises(ValueError, match=r"^shadow\.report\.real_photos_before_label must be a one-line title"):
        build_report(**report_inputs(*bundles, {"real_photos_before": "earlier", "real_photos_before_label": label}))
