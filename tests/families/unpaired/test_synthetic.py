"""The unpaired families' embedded data: deterministic, unpaired in training (disjoint scenes,
disjoint names), paired on test (every test scene in both domains, one class map), the domain
pairs look as specified, and preprocess holds out a val split per domain. 32 px, few scenes."""

from __future__ import annotations

import hashlib
import typing

import numpy as np
import pytest

from gan_pipelines.families.unpaired.config import IngestParams, SyntheticParams
from gan_pipelines.families.unpaired.layout import DOMAIN_PAIRS
from gan_pipelines.families.unpaired.nodes.ingest import ingest_unpaired_data
from gan_pipelines.families.unpaired.nodes.preprocess import preprocess_unpaired_data
from gan_pipelines.families.unpaired.synthetic import (
    DUSK_ELEVATION_DEG, KIND_COLOURS_A, KIND_COLOURS_B, LABEL_COLOURS, MATERIAL_A, MATERIAL_B, TEXTURE_A, TEXTURE_B, colours_to_classes,
    domain_conditions, label_picture, scene_config,
)
from gan_pipelines.image_folders import split_key
from gan_pipelines.params import ParameterError
from gan_pipelines.synthetic import CLASS_IDS, CLASS_NAMES, relight_scene, render_scene, scene_seed

SMALL = {"resolution": 32, "num_train": 3, "num_test": 2}


@pytest.fixture(scope="module")
def ingested():
    """``{pair: (raw, summary)}`` of every pair at 32 px."""
    return {pair: ingest_unpaired_data({"synthetic": {**SMALL, "pair": pair}}, family="cyclegan")
            for pair in DOMAIN_PAIRS}


def _digest(images) -> str:
    return hashlib.sha256(b"".join(k.encode() + images[k].tobytes() for k in sorted(images))).hexdigest()


def _names(raw, split: str, kind: str) -> set[str]:
    return {name for s, k, name in map(split_key, raw) if (s, k) == (split, kind)}


def test_the_config_lists_every_domain_pair():
    assert typing.get_args(SyntheticParams.model_fields["pair"].annotation) == DOMAIN_PAIRS


@pytest.mark.parametrize("pair", DOMAIN_PAIRS)
def test_train_is_unpaired_and_test_holds_hidden_pairs(ingested, pair):
    raw, summary = ingested[pair]
    train_a, train_b = _names(raw, "train", "A"), _names(raw, "train", "B")
    assert len(train_a) == len(train_b) == 3 and not train_a & train_b
    # A from the even scene indices, B from the odd ones
    assert train_a == {"scene_00000", "scene_00002", "scene_00004"}
    assert train_b == {"scene_00001", "scene_00003", "scene_00005"}
    assert _names(raw, "test", "A") == _names(raw, "test", "B") == {"scene_00000", "scene_00001"}
    for split, kind, name in map(split_key, raw):
        image = raw[f"{split}/{kind}/{name}.png"]
        assert image.dtype == np.uint8
        if kind in ("A", "B"):
            assert image.shape == (32, 32, 3)
            labels = raw[f"{split}/{kind}_labels/{name}.png"]  # every picture has its class map
            assert labels.shape == (32, 32) and labels.max() < len(CLASS_NAMES)
    for name in ("scene_00000", "scene_00001"):  # one geometry in both domains
        np.testing.assert_array_equal(raw[f"test/A_labels/{name}.png"], raw[f"test/B_labels/{name}.png"])
        assert not np.array_equal(raw[f"test/A/{name}.png"], raw[f"test/B/{name}.png"])
    assert summary["counts"] == {"train": {"A": 3, "B": 3}, "test": {"A": 2, "B": 2, "pairs": 2}}
    assert (summary["source"], summary["pair"], summary["test_pairs"], summary["label_nc"]) == ("synthetic", pair,
                                                                                               True, 6)
    assert summary["class_names"] == list(CLASS_NAMES) and summary["unavailable"] == {}
    assert set(summary["domains"]) == {"A", "B"} and summary["seconds_per_scene"] > 0


def test_rendering_is_deterministic(ingested):
    again, _ = ingest_unpaired_data({"synthetic": {**SMALL, "pair": "texture"}}, family="cyclegan")
    assert _digest(again) == _digest(ingested["texture"][0])
    other, _ = ingest_unpaired_data({"synthetic": {**SMALL, "pair": "texture", "seed": 1}}, family="cyclegan")
    assert _digest(other) != _digest(again)


def test_more_scenes_keep_the_first_ones():
    fewer, _ = ingest_unpaired_data({"synthetic": {**SMALL, "num_train": 1, "num_test": 1}}, family="cyclegan")
    more, _ = ingest_unpaired_data({"synthetic": SMALL}, family="cyclegan")
    for key, image in fewer.items():
        np.testing.assert_array_equal(more[key], image, err_msg=key)


def test_texture_domains_differ_in_ground_and_highlights_not_in_object_colour():
    # objects keep their kind's colour; B's are glossy: a highlight no global colour transform draws
    assert KIND_COLOURS_B == KIND_COLOURS_A
    assert MATERIAL_A.kind == "matte" and MATERIAL_B.kind == "glossy" and MATERIAL_B.specular > 0
    config = scene_config(SyntheticParams(pair="texture", resolution=32, num_train=1, num_test=8))
    scenes = [render_scene(config, scene_seed(config, "test", i)) for i in range(8)]
    grounds_a, grounds_b, brightest = set(), set(), []
    for scene in scenes:
        conditions = domain_conditions(scene, "texture")
        grounds_a.add(conditions["A"]["ground_texture"])
        grounds_b.add(conditions["B"]["ground_texture"])
        a, b = (relight_scene(scene, **conditions[d]).buffers for d in "AB")
        np.testing.assert_array_equal(a.class_id, b.class_id)  # one scene: a hidden pair
        ground = a.class_id == CLASS_IDS["ground"]
        assert a.colour[ground].mean(axis=0)[1] > a.colour[ground].mean(axis=0)[0]  # green ground in A
        assert b.colour[ground].mean(axis=0)[0] > b.colour[ground].mean(axis=0)[1]  # brick-red in B
        objects = a.instance_id > 0
        if objects.sum() >= 10:  # the brightest object pixels: a highlight in B
            brightest.append((a.colour[objects].sum(-1).max(), b.colour[objects].sum(-1).max()))
    assert brightest and all(hb >= ha for ha, hb in brightest)
    assert sum(hb > ha + 60 for ha, hb in brightest) >= len(brightest) / 2, brightest
    assert grounds_a <= set(TEXTURE_A) and grounds_b <= set(TEXTURE_B) and len(grounds_b) >= 2  # B multi-modal


def test_dusk_is_low_warm_light_from_many_directions_with_longer_shadows():
    config = scene_config(SyntheticParams(pair="day_dusk", resolution=32, num_train=1, num_test=6))
    azimuths = []
    for i in range(6):
        scene = render_scene(config, scene_seed(config, "test", i))
        conditions = domain_conditions(scene, "day_dusk")
        day, dusk = (relight_scene(scene, **conditions[d]) for d in ("A", "B"))
        assert DUSK_ELEVATION_DEG[0] <= dusk.light_elevation_deg <= DUSK_ELEVATION_DEG[1] < 55.0 <= \
            day.light_elevation_deg
        assert conditions["A"]["ground_texture"] == conditions["B"]["ground_texture"]
        azimuths.append(dusk.light_azimuth_deg)
        shadow = {name: np.count_nonzero(s.buffers.focus_shadow | s.buffers.others_shadow)
                  for name, s in (("day", day), ("dusk", dusk))}
        assert shadow["dusk"] > shadow["day"]
        d_mean, k_mean = day.buffers.colour.reshape(-1, 3).mean(0), dusk.buffers.colour.reshape(-1, 3).mean(0)
        assert k_mean[2] < d_mean[2] and k_mean[0] / k_mean[2] > d_mean[0] / d_mean[2]  # darker blue, warmer
    assert np.ptp(azimuths) > 90.0  # one day picture, many right dusk pictures


def test_labels_photo_uses_the_paired_families_scenes_and_test_split(ingested):
    from gan_pipelines.families.paired.nodes.ingest import ingest_paired_data

    raw, summary = ingested["labels_photo"]
    paired, _, _ = ingest_paired_data({"synthetic": {"resolution": 32, "num_train": 4, "num_test": 2}},
                                      family="pix2pix")
    for name in ("scene_00000", "scene_00001"):
        np.testing.assert_array_equal(raw[f"test/B/{name}.png"], paired[f"test/picture/{name}.png"])
        np.testing.assert_array_equal(raw[f"test/A_labels/{name}.png"], paired[f"test/label_map/{name}.png"])
    # train B is the odd half of their train scenes, train A the even half
    np.testing.assert_array_equal(raw["train/B/scene_00001.png"], paired["train/picture/scene_00001.png"])
    np.testing.assert_array_equal(raw["train/A_labels/scene_00002.png"], paired["train/label_map/scene_00002.png"])
    assert summary["label_colours"] == [list(c) for c in LABEL_COLOURS]
    for key in (k for k in raw if split_key(k)[1] == "A"):
        split, _, name = split_key(key)
        np.testing.assert_array_equal(colours_to_classes(raw[key]), raw[f"{split}/A_labels/{name}.png"])


def test_label_colours_are_distinct_and_decode_the_nearest():
    assert len(set(LABEL_COLOURS)) == len(LABEL_COLOURS) == len(CLASS_NAMES)
    classes = np.array([[0, 1, 2], [3, 4, 5]])
    picture = label_picture(classes).astype(int)
    np.testing.assert_array_equal(colours_to_classes(picture.astype(np.uint8)), classes)
    smeared = np.clip(picture + 20, 0, 255).astype(np.uint8)  # a generated picture's off colours
    np.testing.assert_array_equal(colours_to_classes(smeared), classes)


def test_only_the_embedded_class_count_is_accepted():
    assert IngestParams.parse({"label_nc": 6}, "cyclegan.ingest").label_nc == 6
    with pytest.raises(ParameterError, match=r"cyclegan\.ingest\.label_nc"):
        IngestParams.parse({"label_nc": 5}, "cyclegan.ingest")
    with pytest.raises(ParameterError, match=r"cyclegan\.ingest\.synthetic\.pair"):
        ingest_unpaired_data({"synthetic": {"pair": "boxes_cylinders"}}, family="cyclegan")
    with pytest.raises(ParameterError, match=r"cyclegan\.ingest\.synthetic\.num_tests"):
        IngestParams.parse({"synthetic": {"num_tests": 3}}, "cyclegan.ingest")
    with pytest.raises(ParameterError, match=r"cyclegan\.ingest\.path"):
        IngestParams.parse({"source": "folders"}, "cyclegan.ingest")


def test_preprocess_resizes_and_holds_out_val_per_domain(ingested):
    raw, _ = ingested["texture"]
    model_input, summary = preprocess_unpaired_data(raw, {"resolution": 16, "val_fraction": 0.34, "seed": 0},
                                                    family="cyclegan")
    assert summary["counts"] == {"train": {"A": 2, "B": 2}, "val": {"A": 1, "B": 1},
                                 "test": {"A": 2, "B": 2, "pairs": 2}}
    keys = {split_key(key) for key in model_input}
    for split in ("train", "val"):
        for domain in ("A", "B"):
            names = {n for s, k, n in keys if (s, k) == (split, domain)}
            assert names == {n for s, k, n in keys if (s, k) == (split, f"{domain}_labels")}  # maps follow
    val = {n for s, k, n in keys if s == "val" and k in ("A", "B")}
    assert not val & {n for s, k, n in keys if s == "train"}
    for key, load in model_input.items():
        split, kind, name = split_key(key)
        image = load()
        assert image.shape[:2] == (16, 16)
        if kind.endswith("_labels"):  # nearest: only values of the 32 px map
            source = raw[f"{'train' if split == 'val' else split}/{kind}/{name}.png"]
            assert set(np.unique(image)) <= set(np.unique(source))
            np.testing.assert_array_equal(image, source[1::2, 1::2])  # PIL samples pixel centres


def test_preprocess_refuses_a_resolution_the_generators_cannot_take(ingested):
    with pytest.raises(ValueError, match=r"cyclegan\.preprocess\.resolution must be a positive multiple of 4"):
        preprocess_unpaired_data(ingested["texture"][0], {"resolution": 30, "val_fraction": 0.1}, family="cyclegan")
    with pytest.raises(ValueError, match="do not declare"):
        preprocess_unpaired_data({"train/C/x.png": np.zeros((4, 4, 3), np.uint8)},
                                 {"resolution": 16, "val_fraction": 0.1}, family="cyclegan")
