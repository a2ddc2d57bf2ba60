import numpy as np
import pytest
import torch

from gan_pipelines.images import encode_png, resize_image, resize_mask
from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
from gan_pipelines.families.shadow.predict import (
    LAYER_EPSILON, ShadowPredictor, composite_full_resolution, find_input_pairs, predict_folder,
)

SMALL = {"encoder": "resnet18", "decoder_channels": [16, 16, 16, 16, 16]}


def _bundles():
    torch.manual_seed(0)
    attention, generator = build_attention_net(SMALL), build_shadow_generator(SMALL)
    # The generator's output heads start at zero (identity); give the refined head a constant
    # darkening so the test can see where the layer lands.
    with torch.no_grad():
        generator.refined_head.bias.fill_(-0.3)
    attention_bundle = {"state_dicts": {"attention": attention.state_dict()}, "model_config": {"attention": SMALL}}
    generator_bundle = {
        "state_dicts": {"generator": generator.state_dict()},
        "model_config": {"generator": SMALL},
        "meta": {"resolution": 32},
    }
    return attention_bundle, generator_bundle


@pytest.fixture(scope="module")
def predictor():
    return ShadowPredictor(*_bundles(), device="cpu")


def test_compiled_predictor_gives_the_eager_pictures():
    """compile=True: the convolutional parts through torch.compile with freezing (norms folded
    into the convolutions): the same shadow to rounding, at the photo's own size."""
    attention_bundle, generator_bundle = _bundles()
    with torch.no_grad():  # a refined head that varies over the picture, not only its bias
        generator_bundle["state_dicts"]["generator"]["refined_head.weight"].normal_(0, 0.05)
    eager = ShadowPredictor(attention_bundle, generator_bundle, device="cpu", precision="fp32")
    compiled = ShadowPredictor(attention_bundle, generator_bundle, device="cpu", precision="fp32", compile=True)
    from conftest import compile_status_is_right

    assert eager.compiled == "off" and compile_status_is_right(compiled.compiled), compiled.compiled
    rng = np.random.default_rng(1)
    image = rng.integers(50, 200, (40, 56, 3), dtype=np.uint8)
    mask = np.zeros((40, 56), np.uint8)
    mask[8:24, 16:32] = 255
    expected, got = eager.predict(image, mask), compiled.predict(image, mask)
    assert np.abs(expected.shadow_layer).max() > 0.05, "the test needs a visible shadow"
    np.testing.assert_allclose(got.shadow_layer, expected.shadow_layer, atol=1e-3)
    assert np.abs(got.image.astype(int) - expected.image).max() <= 1
    assert np.array_equal(got.robject, expected.robject) and np.array_equal(got.rshadow, expected.rshadow)
    with pytest.raises(ValueError, match="compile must be true or false, got 'yes'"):
        ShadowPredictor(attention_bundle, generator_bundle, device="cpu", compile="yes")


def test_full_resolution_output_keeps_size_and_applies_the_layer(predictor):
    rng = np.random.default_rng(0)
    image = rng.integers(50, 200, (48, 80, 3), dtype=np.uint8)
    mask = np.zeros((48, 80), np.uint8)
    mask[10:30, 20:40] = 255
    result = predictor.predict(image, mask)
    assert result.image.shape == image.shape and result.image.dtype == np.uint8
    assert result.robject.shape == mask.shape and result.rshadow.shape == mask.shape
    changed = np.abs(result.image.astype(int) - image).max(axis=2) > 0
    active = np.abs(result.shadow_layer).max(axis=2) > 0
    # Pixels change only where the shadow layer is active, and become darker there.
    assert not (changed & ~active).any()
    assert result.image[active].astype(int).mean() < image[active].astype(int).mean()


def test_full_resolution_shadow_scales_the_texture_under_it():
    # A 60 / 180 checkerboard at 8x8 that the model saw at 2x2 as flat 120 grey, darkened there
    # by 0.3 in [-1, 1] units (38.25 grey levels): a shadow ratio of (120 - 38.25) / 120.
    image = np.full((8, 8, 3), 60, np.uint8)
    image[(np.add.outer(np.arange(8), np.arange(8)) % 2).astype(bool)] = 180
    small_image = np.full((2, 2, 3), 120, np.uint8)
    layer = np.full((2, 2, 3), -0.3, np.float32)
    empty = np.zeros((2, 2), np.uint8)
    result = composite_full_resolution(image, small_image, layer, empty, empty)
    ratio = (120 - 38.25) / 120
    assert set(np.unique(result.image)) == {round(60 * ratio), round(180 * ratio)}  # 41, 123: texture kept
    assert np.allclose(result.shadow_layer, (result.image.astype(np.float32) - image) / 127.5)
    # A change below LAYER_EPSILON leaves every pixel exactly as it was.
    faint = composite_full_resolution(image, small_image, np.full_like(layer, -LAYER_EPSILON / 2), empty, empty)
    assert np.array_equal(faint.image, image) and not faint.shadow_layer.any()


def test_sharp_full_resolution_keeps_the_models_place_and_takes_the_scenes_darkness():
    # The model saw a 128x128 photo at 32x32 and darkened a 4x8 patch right of the object by a
    # ratio of 0.8; the photo's own shadow (an occluder's, which the attention maps mark) is half
    # as bright as the ground around it.
    image = np.full((128, 128, 3), 200, np.uint8)
    image[8:40, 80:112] = 100  # the scene's shadow: darkening 0.5 against its lit ring
    mask = np.zeros((128, 128), np.uint8)
    mask[40:72, 40:56] = 255
    small_image = resize_image(image, (32, 32))
    small_mask = resize_mask(mask, (32, 32))
    layer = np.zeros((32, 32, 3), np.float32)
    layer[12:20, 14:18] = -0.2 * small_image[12:20, 14:18] / 255.0 * 2.0  # ratio 0.8
    robject = np.zeros((32, 32), np.uint8)
    robject[0:2, 20:28] = 255
    rshadow = np.zeros((32, 32), np.uint8)
    rshadow[2:10, 20:28] = 255
    common = dict(mask=mask, small_mask=small_mask, full_resolution="sharp")
    model = composite_full_resolution(image, small_image, layer, robject, rshadow, strength="model", **common)
    scene = composite_full_resolution(image, small_image, layer, robject, rshadow, **common)  # strength: scene
    assert model.sharpened and scene.sharpened
    core = (slice(52, 76), slice(58, 70))  # inside the patch, away from its edge
    assert set(np.unique(model.image[core])) == {160}  # 200 x 0.8: the model's own darkness
    assert set(np.unique(scene.image[core])) == {100}  # 200 x 0.5: the scene's shadows' darkness
    near = np.zeros((128, 128), bool)
    near[44:84, 52:76] = True  # the patch at full size, 48:80 x 56:72, and 4 pixels around it
    for result in (model, scene):  # the model's place, whatever the darkness
        changed = (result.image != image).any(axis=2)
        assert not (changed & ~near).any() and changed[core].all() and not changed[mask > 0].any()
    blob = composite_full_resolution(image, small_image, layer, robject, rshadow)  # upsampled
    assert not blob.sharpened and set(np.unique(blob.image[core])) == {160}
    with pytest.raises(ValueError, match="full_resolution must be one of"):
        composite_full_resolution(image, small_image, layer, robject, rshadow, full_resolution="shaped")
    with pytest.raises(ValueError, match="needs the object's mask"):
        composite_full_resolution(image, small_image, layer, robject, rshadow, full_resolution="sharp")
    with pytest.raises(ValueError, match="steepness must be >= 1"):
        composite_full_resolution(image, small_image, layer, robject, rshadow, steepness=0.5, **common)


def test_mask_size_mismatch_is_refused(predictor):
    with pytest.raises(ValueError, match="80x48 but its mask is 40x24"):
        predictor.predict(np.zeros((48, 80, 3), np.uint8), np.zeros((24, 40), np.uint8))


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))


def test_predict_folder_writes_full_size_outputs_and_never_overwrites(predictor, tmp_path):
    image = np.full((60, 90, 3), 120, np.uint8)
    mask = np.zeros((60, 90), np.uint8)
    mask[20:40, 30:50] = 255
    _write(tmp_path / "in/noshadow/a.png", image)
    _write(tmp_path / "in/mask/a.png", mask)
    summary = predict_folder(predictor, tmp_path / "in", tmp_path / "out")
    assert summary["num_images"] == 1
    # The shadow strength beside light consistency: a plain grey picture has no scene shadow to
    # compare with, so the ratio is null with the reason, never 0.
    from gan_pipelines.families.shadow.shadow_strength import STRENGTH_KEYS

    strength = summary["shadow_strength"]["a"]
    assert list(strength) == list(STRENGTH_KEYS) and "shadow_strength_definition" in summary
    assert strength["shadow_strength"] is None and strength["strength_note"]
    from gan_pipelines.images import read_image

    assert read_image(tmp_path / "out/shadow/a.png").shape == (60, 90, 3)
    with pytest.raises(FileExistsError, match="nothing is overwritten"):
        predict_folder(predictor, tmp_path / "in", tmp_path / "out")


def test_input_folder_problems_are_listed(tmp_path):
    _write(tmp_path / "noshadow/a.png", np.zeros((8, 8, 3), np.uint8))
    _write(tmp_path / "noshadow/b.png", np.zeros((8, 8, 3), np.uint8))
    _write(tmp_path / "mask/a.png", np.zeros((8, 8), np.uint8))
    (tmp_path / "noshadow/notes.txt").write_text("hello")
    with pytest.raises(ValueError) as error:
        find_input_pairs(tmp_path)
    message = str(error.value)
    assert "notes.txt: not a PNG or JPEG file" in message
    assert "b: missing mask" in message
    with pytest.raises(ValueError, match="missing"):
        find_input_pairs(tmp_path / "noshadow")


def test_corrupt_and_mismatched_inputs_stop_before_writing(predictor, tmp_path):
    _write(tmp_path / "in/noshadow/a.png", np.zeros((10, 12, 3), np.uint8))
    _write(tmp_path / "in/mask/a.png", np.full((10, 10), 255, np.uint8))
    (tmp_path / "in/noshadow/b.png").write_bytes(b"not an image")
    _write(tmp_path / "in/mask/b.png", np.full((10, 10), 255, np.uint8))
    with pytest.raises(ValueError) as error:
        predict_folder(predictor, tmp_path / "in", tmp_path / "out")
    assert "a: size mismatch: noshadow 12x10, mask 10x10" in str(error.value)
    assert "b: noshadow/b.png: not a readable image" in str(error.value)
    assert not (tmp_path / "out").exists()
