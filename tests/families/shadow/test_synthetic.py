"""The shadow family's synthetic Shadow-AR samples: same seeds, same bytes as before the renderer
became family-free, and images that agree with the renderer's buffers."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from gan_pipelines.families.shadow.synthetic import SHADOW_AR_KINDS, render_shadow_ar_split, shadow_ar_images
from gan_pipelines.synthetic import (
    FOCUS_ID,
    SyntheticConfig,
    render_scene,
    render_split_scenes,
    scene_name,
    scene_seed,
)

SECTION = "shadow.ingest.synthetic"

# First 16 hex digits of sha256(image.tobytes()) per kind, in SHADOW_AR_KINDS order, recorded by
# rendering with the renderer as it was before the split into family-free buffers (commit
# fddeab9, ``gan_pipelines.synthetic.render_split`` / ``render_scene(...).images``) with numpy
# 2.4.6 and scikit-image 0.26.0 (the photo textures come from its wheel). Per case: the config
# params and {(split, index): hashes}. Byte-exact on purpose: a refactor of the renderer must not
# change any data set already rendered. A numpy / scikit-image upgrade may change them; re-record
# them from that commit's renderer, never from the code under test. These are the versions of the
# locked set (constraints.txt); the marker below makes a failure under other versions say so.
GOLDEN = {
    "default_64": (
        {"resolution": 64},
        {
            ("train", 0): ("ebdd73510393268e", "485109d6b4b85639", "dd7f7842c6006544", "2c683593334f3bc1", "54857d168857a994", "0e89dd5e00f1a686"),
            ("train", 1): ("d0e58a5732011248", "71e5bc65f227b6ee", "adf60385afe7446d", "e3931cd81c81a855", "cd5a819c2d738d65", "5941ab879a3d0cc4"),
            ("train", 2): ("49879588a4a05025", "48b300c61387be11", "233ce8960c4527d1", "ec0c780e2ca1fdea", "817c580f1eec75a4", "2b0fc282b1a5a38b"),
            ("train", 3): ("7841af0a7e0232ee", "1ce37ff472dd2057", "231c226b0762a01c", "4570f27d4ba78c7f", "7a2cf6caafe99354", "4ad36fbe6b9a52cc"),
            ("test", 0): ("628677ce3bae454c", "310f2e0497254c4d", "5d5e96d3dfaf4a5b", "9a52f64816a98518", "d465f916cebd3781", "101ac3b4aea6c796"),
            ("test", 1): ("71b1972ffbdf06df", "e54ff2b660533165", "5bf1bd9f80926cb4", "57efc94167a8da72", "1d9adda8f6a522ec", "d8b99c2d93b0fb99"),
        },
    ),
    # >= 128 px screens layouts on a quarter-resolution preview first: a different code path.
    "default_128": (
        {"resolution": 128},
        {
            ("train", 0): ("02c4be7f6fff6efb", "5bd452ff7731cad0", "09764e41886b6137", "95bf940d9a99a72c", "c273f4a6a320ab47", "6ce96a55773910ea"),
            ("train", 1): ("fb2e6f3cd5f72306", "609f0ceb0e4e2292", "e9c1a01875a142ab", "23a363e7a053c4d6", "5558ec959e8fbd3c", "71759ad939038529"),
            ("train", 2): ("23e4dcdfa91802e9", "70a59d0dd366e1b0", "6ee46a44758cd9aa", "d32fa2848ce1ad95", "1fd687b906296528", "c5bba35bea1b9b4c"),
            ("train", 3): ("0ea7764ae64786ba", "0b496abeed51b040", "5cc80598e1835548", "530d8ee84ab93884", "c7c15c065a5567a1", "3cc3409976593058"),
            ("test", 0): ("c499c095ab6341a3", "3bdf20cdb1d32c65", "129b5f710adff49b", "c66586506cfb5a46", "904cc63985197560", "7f0552d68ed44259"),
            ("test", 1): ("9a69450fdfff2520", "ab864df5bea89be3", "b60d67e5bede6b51", "9a47aea213e58f7b", "eb6ed78c058bf548", "48e3f4417d8142af"),
        },
    ),
    # The default config, default resolution: what the shadow pipeline renders.
    "default_256": (
        {"num_train": 1, "num_test": 1},
        {
            ("train", 0): ("cb63f739ae1f5678", "8cd3091dc76895ab", "b027347c4a2e38d5", "d9ca51c66ba0f9e0", "0c6ef5ac95200e41", "1d62325813e68606"),
            ("test", 0): ("0548a9d14fe07cd9", "0ba4ee993c42308a", "32a778aa54f02085", "dce68e0c966e19aa", "e644563522e882e3", "e23203bdfad71edb"),
        },
    ),
    "procedural_spheres_cones_80": (
        {"resolution": 80, "seed": 3, "object_kinds": ["sphere", "cone"],
         "ground_textures": ["checkerboard", "stripes", "noise"]},
        {
            ("train", 5): ("40c690762406ebe5", "c8153869d08d2061", "d32c6e40d790e97d", "8fe03f5ac6f567f3", "6fd4e5eb68e76023", "a1270a75eed9583d"),
            ("test", 2): ("ee3d8f23d745a6ba", "1574189b9085e9a5", "1e3ae36529e96fb6", "db52824e2341ef3c", "d66b88e02b6c92a8", "c0bce5638d6b45ca"),
        },
    ),
    "hard_64": (
        {"resolution": 64, "penumbra_deg": 0.0, "penumbra_samples": 1},
        {
            ("train", 0): ("21bb0db82559d78f", "a5b59b5cb630938d", "1844deeae7ec324b", "ccd9ed16212fdb79", "dcacf7b2c6279834", "86ecb17144ca12a5"),
        },
    ),
    "wide_penumbra_96": (
        {"resolution": 96, "seed": 7, "penumbra_deg": 6.0, "penumbra_samples": 16, "num_occluders": [3, 4]},
        {
            ("train", 0): ("1062064416bf909b", "28f976ae22e78471", "4f92f9ed46cf9e8e", "3744e0ec8431d603", "cb75b3b20de6f61e", "8a7378b7f6559c0c"),
            ("test", 0): ("556d24ae4c9061c3", "0d23aa1dd1d66868", "680f005497b30191", "57efb3b55ba08ef4", "0a90d45240a11b2a", "b933ffce1fc77ef4"),
        },
    ),
}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(array.tobytes()).hexdigest()[:16]


@pytest.mark.locked_numerics(numpy="2.4.6", **{"scikit-image": "0.26.0"})
@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_same_seeds_same_bytes_as_before_the_refactor(case):
    params, expected = GOLDEN[case]
    params = dict(params)
    for split in ("train", "test"):
        wanted = sorted(index for s, index in expected if s == split)
        params.setdefault(f"num_{split}", max(wanted) + 1 if wanted else 1)
    config = SyntheticConfig.from_params(params, section=SECTION)
    for split in ("train", "test"):
        rendered = dict(render_shadow_ar_split(config, split))
        for (s, index), hashes in expected.items():
            if s != split:
                continue
            images = rendered[scene_name(index)]
            resolution = config.resolution
            assert images["noshadow"].shape == images["shadow"].shape == (resolution, resolution, 3)
            assert images["mask"].shape == (resolution, resolution)
            got = tuple(_digest(images[kind]) for kind in SHADOW_AR_KINDS)
            assert got == hashes, {kind: (g, h) for kind, g, h in zip(SHADOW_AR_KINDS, got, hashes) if g != h}


SMALL = SyntheticConfig.from_params({"resolution": 64, "num_train": 4, "num_test": 2}, section=SECTION)


@pytest.fixture(scope="module")
def samples():
    """``(scene, images)`` for a few default scenes at low resolution."""
    return [(scene, shadow_ar_images(scene)) for _, scene in render_split_scenes(SMALL, "train")]


def test_kinds_formats_and_masks(samples):
    assert SHADOW_AR_KINDS == ("noshadow", "shadow", "mask", "robject", "rshadow", "shadow_mask")
    res = SMALL.resolution
    for _, images in samples:
        assert tuple(images) == SHADOW_AR_KINDS
        for kind in ("noshadow", "shadow"):
            assert images[kind].dtype == np.uint8 and images[kind].shape == (res, res, 3), kind
        for kind in ("mask", "robject", "rshadow", "shadow_mask"):
            mask = images[kind]
            assert mask.dtype == np.uint8 and mask.shape == (res, res), kind
            assert set(np.unique(mask).tolist()) == {0, 255}, kind  # both values: never empty or full


def test_images_are_the_buffers(samples):
    for scene, images in samples:
        b = scene.buffers
        assert np.array_equal(images["noshadow"], b.colour_without_focus_shadow)
        assert np.array_equal(images["shadow"], b.colour)
        assert np.array_equal(images["mask"] > 0, b.object_id == FOCUS_ID)
        assert np.array_equal(images["robject"] > 0, b.object_id > FOCUS_ID)
        assert np.array_equal(images["rshadow"] > 0, b.others_shadow)
        assert np.array_equal(images["shadow_mask"] > 0, b.focus_shadow)


def test_shadow_and_noshadow_differ_exactly_on_shadow_mask(samples):
    for _, images in samples:
        shadow = images["shadow"].astype(int)
        noshadow = images["noshadow"].astype(int)
        inside = images["shadow_mask"] > 0
        assert np.array_equal((shadow != noshadow).any(axis=2), inside)
        assert np.all(shadow <= noshadow) and shadow[inside].mean() < noshadow[inside].mean() - 5
        # The inserted object never shadows itself, and never overlaps the real objects.
        obj = images["mask"] > 0
        assert np.array_equal(shadow[obj], noshadow[obj]) and not np.any(inside & obj)
        assert not np.any(obj & (images["robject"] > 0))


def test_render_shadow_ar_split_names_lazy_and_seeded(monkeypatch):
    from gan_pipelines.synthetic import renderer

    calls = []
    real = renderer.render_scene
    monkeypatch.setattr(renderer, "render_scene", lambda config, seed: calls.append(seed) or real(config, seed))
    split = render_shadow_ar_split(SMALL, "test")
    assert calls == []  # nothing rendered before the first item is asked for
    items = list(split)
    assert [name for name, _ in items] == ["scene_00000", "scene_00001"]
    assert calls == [scene_seed(SMALL, "test", 0), scene_seed(SMALL, "test", 1)]
    alone = shadow_ar_images(real(SMALL, scene_seed(SMALL, "test", 1)))
    for kind in SHADOW_AR_KINDS:
        assert np.array_equal(alone[kind], items[1][1][kind]), kind
    train = dict(render_shadow_ar_split(SMALL, "train"))
    assert not any(np.array_equal(images["noshadow"], train[name]["noshadow"]) for name, images in items)


def test_render_shadow_ar_split_rejects_unknown_split_at_once():
    with pytest.raises(ValueError, match="split"):
        render_shadow_ar_split(SMALL, "val")


def test_config_errors_name_the_shadow_section():
    with pytest.raises(ValueError, match=r"shadow\.ingest\.synthetic\.resolution"):
        SyntheticConfig.from_params({"resolution": 8}, section=SECTION)
    # render_scene is what the split renders: same scene objects for the same seed.
    scene = render_scene(SMALL, scene_seed(SMALL, "train", 0))
    assert scene.focus.role == "focus" and all(obj.role == "other" for obj in scene.others)
