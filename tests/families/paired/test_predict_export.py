"""Prediction at any size (padded to the generator's multiple, cropped back), never overwriting,
and ONNX export with parity against PyTorch."""

import numpy as np
import onnxruntime  # noqa: F401 (a dependency: without it these tests fail, never skip)
import pytest
import torch
from PIL import Image

from gan_pipelines.families.paired.export import OnnxPairedPredictor, export_generator
from gan_pipelines.families.paired.config import input_config, network_configs
from gan_pipelines.families.paired.layout import KIND_TYPES
from gan_pipelines.families.paired.predict import PairedPredictor, pad_to_multiple, predict_folder
from gan_pipelines.models.generators import build_generator


def _bundle(family="pix2pix", input_kind="label_map"):
    params = {"input_kind": input_kind, "label_nc": 6, "model": {"type": "unet", "num_downs": 4, "ngf": 8},
              "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 2}}
    cfg = input_config(params, KIND_TYPES, "p")
    generator, _ = network_configs(params, cfg, "p")
    torch.manual_seed(0)
    net = build_generator(generator)
    with torch.no_grad():  # non-trivial BatchNorm statistics, as after training
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return {"state_dicts": {"generator": net.state_dict()},
            "model_config": {"generator": generator, "input": cfg, "target_kind": "picture"},
            "meta": {"family": family, "network": "generator", "resolution": 32, "trained_at": "2026-01-01T00:00:00Z"}}


def test_padding_reaches_the_multiple_and_keeps_the_original_corner():
    array = np.arange(5 * 7).reshape(5, 7)
    padded, size = pad_to_multiple(array, 4, "edge")
    assert padded.shape == (8, 8) and size == (5, 7) and np.array_equal(padded[:5, :7], array)
    image = np.zeros((3, 3, 3), np.uint8)
    assert pad_to_multiple(image, 16, "reflect")[0].shape == (16, 16, 3)


@pytest.mark.parametrize("shape", [(32, 32), (37, 50), (9, 70)])
def test_predict_any_size_label_map(shape):
    predictor = PairedPredictor(_bundle(), "pix2pix", device="cpu")
    labels = np.random.default_rng(0).integers(0, 6, shape).astype(np.uint8)
    picture = predictor.predict(labels)
    assert picture.shape == (*shape, 3) and picture.dtype == np.uint8
    assert np.array_equal(picture, predictor.predict(labels)), "eval mode: the same output every run"


def test_compiled_and_bf16_predictors_give_the_fp32_picture():
    """compile=True (torch.compile with freezing: BatchNorm folded) matches eager fp32 to one grey
    level at any size; precision auto/bf16 runs the forward pass in bf16, close to fp32."""
    bundle = _bundle()
    with torch.no_grad():  # weights of a trained size (the 0.02 init gives a flat grey picture)
        for value in bundle["state_dicts"]["generator"].values():
            if value.dim() == 4:
                value.mul_(5)
    eager = PairedPredictor(bundle, "pix2pix", device="cpu")
    compiled = PairedPredictor(bundle, "pix2pix", device="cpu", compile=True)
    assert eager.precision.name == "fp32" and compiled.compiled == "not compiled yet"
    labels = np.random.default_rng(0).integers(0, 6, (37, 50)).astype(np.uint8)
    expected = eager.predict(labels)
    assert expected.std() > 3, "the test needs a picture that is not flat"
    assert np.abs(compiled.predict(labels).astype(int) - expected).max() <= 1
    from conftest import compile_status_is_right

    assert compile_status_is_right(compiled.compiled), compiled.compiled
    bf16 = PairedPredictor(bundle, "pix2pix", device="cpu", precision="bf16")
    difference = np.abs(bf16.predict(labels).astype(int) - expected)
    assert bf16.precision.name == "bf16" and 0 < difference.max() <= 12 and difference.mean() < 2
    with pytest.raises(ValueError, match="compile must be true or false, got 1"):
        PairedPredictor(bundle, "pix2pix", device="cpu", compile=1)
    from gan_pipelines.families.paired.config import PredictParams

    settings = {"input_dir": "maps", "output_dir": "out"}
    with pytest.raises(ValueError, match=r"pix2pix.predict.compile: Input should be a valid boolean \(got 'yes'\)"):
        PredictParams.parse({**settings, "compile": "yes"}, "pix2pix.predict")
    with pytest.raises(ValueError, match=r"pix2pix.predict.precision: Input should be 'auto', 'bf16', 'fp16' or 'fp32'"):
        PredictParams.parse({**settings, "precision": "half"}, "pix2pix.predict")


def test_predict_refuses_another_family_and_wrong_inputs():
    with pytest.raises(ValueError, match="belongs to the 'pix2pix' family, not 'sketch2color'"):
        PairedPredictor(_bundle(), "sketch2color", device="cpu")
    predictor = PairedPredictor(_bundle("sketch2color", "line_art"), "sketch2color", device="cpu")
    with pytest.raises(ValueError, match="expected a uint8 \\(H, W, 3\\) sketch"):
        predictor.predict(np.zeros((8, 8), np.uint8))


def test_predict_folder_validates_first_and_never_overwrites(tmp_path):
    predictor = PairedPredictor(_bundle(), "pix2pix", device="cpu")
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(np.full((20, 30), 2, np.uint8)).save(source / "a.png")
    Image.fromarray(np.full((20, 30), 9, np.uint8)).save(source / "b.png")
    with pytest.raises(ValueError, match="b.png: label value\\(s\\) out of range 0..5: 9 \\(600 px\\)"):
        predict_folder(predictor, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (source / "b.png").unlink()
    summary = predict_folder(predictor, source, tmp_path / "out")
    assert summary["sizes"] == {"a": [20, 30]}
    assert np.asarray(Image.open(tmp_path / "out" / "a.png")).shape == (20, 30, 3)
    with pytest.raises(FileExistsError, match="never replace"):
        predict_folder(predictor, source, tmp_path / "out")


def test_predict_folder_follows_the_shared_input_rules(tmp_path):
    predictor = PairedPredictor(_bundle(), "pix2pix", device="cpu")
    source = tmp_path / "in"
    source.mkdir()
    Image.fromarray(np.full((20, 30), 2, np.uint8)).save(source / "a.png")
    Image.fromarray(np.full((20, 30), 3, np.uint8)).save(source / "a.jpg", quality=100)
    (source / "Thumbs.db").write_bytes(b"litter")
    (source / "readme.txt").write_text("notes")
    with pytest.raises(ValueError) as error:
        predict_folder(predictor, source, tmp_path / "out")
    assert "a.jpg and a.png: two files for the output a.png" in str(error.value)
    assert "readme.txt: not a PNG or JPEG file" in str(error.value) and "Thumbs.db" not in str(error.value)
    (source / "a.jpg").unlink()
    (source / "readme.txt").unlink()
    assert predict_folder(predictor, source, tmp_path / "out")["sizes"] == {"a": [20, 30]}  # litter ignored


@pytest.mark.parametrize("family, kind", [("pix2pix", "label_map"), ("sketch2color", "line_art")])
def test_onnx_export_matches_torch(tmp_path, family, kind):
    bundle = _bundle(family, kind)
    summary = export_generator(bundle, family, tmp_path / "g.onnx", overwrite=False)
    assert summary["family"] == family and summary["size_multiple"] == 16
    with pytest.raises(FileExistsError):
        export_generator(bundle, family, tmp_path / "g.onnx", overwrite=False)
    onnx_predictor = OnnxPairedPredictor(tmp_path / "g.onnx")
    torch_predictor = PairedPredictor(bundle, family, device="cpu")
    rng = np.random.default_rng(1)
    if kind == "label_map":
        inputs = rng.integers(0, 6, (40, 24)).astype(np.uint8)
        network_input = rng.integers(0, 6, (3, 1, 32, 48)).astype(np.int64)
        expected = torch_predictor.net(torch.from_numpy(network_input)).detach().numpy()
    else:
        inputs = rng.integers(0, 256, (40, 24, 3)).astype(np.uint8)
        network_input = rng.uniform(-1, 1, (3, 3, 32, 48)).astype(np.float32)
        expected = torch_predictor.net(torch.from_numpy(network_input)).detach().numpy()
    np.testing.assert_allclose(onnx_predictor.run(network_input), expected, atol=1e-4)
    difference = np.abs(onnx_predictor.predict(inputs).astype(int) - torch_predictor.predict(inputs).astype(int))
    assert difference.max() <= 1
