"""Using an unpaired model: the Python API translates any size (padded as the generator needs,
cropped back, pixels aligned), the predict node reads a folder through the shared input rules
and never overwrites, and the ONNX export of both generators matches torch and refuses to
overwrite."""

import io
import json

import numpy as np
import onnxruntime  # noqa: F401 (a dependency: without it these tests fail, never skip)
import pytest
import torch
from image_files import jpeg_with_orientation, scene
from kedro.io.core import Version
from PIL import Image

from gan_pipelines.datasets.torch_checkpoint import TorchCheckpointDataset
from gan_pipelines.families.unpaired.export import OnnxUnpairedPredictor, export_generators, export_paths
from gan_pipelines.families.unpaired.networks import build_cyclegan, generator_config
from gan_pipelines.families.unpaired.nodes.export import export_unpaired_onnx
from gan_pipelines.families.unpaired.nodes.predict import predict_unpaired_folder
from gan_pipelines.families.unpaired.predict import UnpairedPredictor, pad_picture, predict_folder
from gan_pipelines.params import ParameterError

TRAINED_AT = "2026-01-02T03:04:05Z"


def make_bundle(family="cyclegan"):
    """A tiny CycleGAN checkpoint in the train node's format (ngf 4, one residual block), with
    PyTorch's default init so the outputs are far from flat grey and the two directions differ."""
    config = generator_config({"ngf": 4, "n_blocks": 1, "init_gain": None}, 16)
    torch.manual_seed(0)
    nets = build_cyclegan(config)
    return {"state_dicts": {name: net.state_dict() for name, net in nets.items()},
            "model_config": {"model": "cyclegan", "generator": config, "resolution": 16},
            "meta": {"family": family, "network": "generator", "trained_at": TRAINED_AT, "resolution": 16}}


@pytest.fixture(scope="module")
def bundle():
    return make_bundle()


def save_png(path, array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())


def test_padding_reaches_the_size_rule_by_reflection_and_keeps_the_corner():
    image = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)
    padded, size = pad_picture(image, 4, 8)
    assert padded.shape == (8, 8) and size == (5, 6)
    np.testing.assert_array_equal(padded[:5, :6], image)
    np.testing.assert_array_equal(padded[5, :6], image[3])  # mirrored about the last row
    np.testing.assert_array_equal(padded[:5, 6], image[:, 4])
    small, _ = pad_picture(np.array([[1, 2], [3, 4]], np.uint8), 4, 8)  # pad >= side: edge repeated
    assert small.shape == (8, 8) and small[7, 7] == 4 and small[0, 7] == 2
    same, _ = pad_picture(np.zeros((8, 12, 3), np.uint8), 4, 8)
    assert same.shape == (8, 12, 3)


@pytest.mark.parametrize("shape", [(5, 7), (17, 9), (30, 33)])
def test_translate_keeps_any_size_and_lines_up_with_the_padded_network_output(bundle, shape):
    predictor = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu")
    picture = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    out = predictor.translate(picture, "a2b")
    assert out.shape == picture.shape and out.dtype == np.uint8
    padded, _ = pad_picture(picture, 4, 8)  # what the network saw, computed independently here
    with torch.no_grad():
        raw = predictor.generators["a2b"](torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 127.5 - 1)
    expected = ((raw[0, :, :shape[0], :shape[1]].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(out, expected)
    assert out.std() > 5  # not a flat picture: the test can tell alignments apart
    assert not np.array_equal(predictor.translate(picture, "b2a"), out)  # G_BA is another network


def test_translate_takes_read_only_pictures_without_a_warning(bundle):
    """Decoded or broadcast pictures can be read-only: translate copies those (torch warns on
    them) and leaves writeable ones alone."""
    import warnings

    from gan_pipelines.families.unpaired.inference import translate

    generator = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu").generators["a2b"]
    pictures = np.random.default_rng(3).integers(0, 256, (2, 12, 16, 3), dtype=np.uint8)
    read_only = pictures.copy()
    read_only.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = translate(generator, read_only, device="cpu")
    np.testing.assert_array_equal(out, translate(generator, pictures, device="cpu"))
    assert not read_only.flags.writeable  # the caller's array is not touched


def test_predictor_refuses_another_family_direction_and_shape(bundle):
    with pytest.raises(ValueError, match="belongs to the 'pix2pix' family, not 'cyclegan'"):
        UnpairedPredictor.from_bundle(make_bundle("pix2pix"), "cyclegan", device="cpu")
    predictor = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu")
    with pytest.raises(ValueError, match="direction must be one of a2b, b2a, not 'a2c'"):
        predictor.translate(np.zeros((8, 8, 3), np.uint8), "a2c")
    with pytest.raises(ValueError, match=r"expected a uint8 \(H, W, 3\) RGB picture; got float32"):
        predictor.translate(np.zeros((8, 8, 3), np.float32))


def test_predictor_from_a_versioned_checkpoint_folder(tmp_path, bundle):
    path = tmp_path / "cyclegan_generator.pt"
    TorchCheckpointDataset(filepath=str(path), version=Version(None, None)).save(bundle)
    predictor = UnpairedPredictor.from_checkpoint(path, "cyclegan", device="cpu")
    assert predictor.trained_at == TRAINED_AT and predictor.resolution == 16
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        UnpairedPredictor.from_checkpoint(tmp_path / "missing.pt", "cyclegan")


def user_folder(root):
    """Odd sizes and the file kinds users bring: PNG, a phone JPEG turned by EXIF, grey, RGBA."""
    root.mkdir()
    save_png(root / "odd.png", np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8))
    (root / "phone.jpg").write_bytes(jpeg_with_orientation(scene(24, 40), 6))  # shown 24x40, stored 40x24
    save_png(root / "grey.png", np.full((9, 10), 77, np.uint8))
    save_png(root / "rgba.png", np.dstack([np.full((11, 8, 3), 50, np.uint8), np.full((11, 8), 128, np.uint8)]))
    (root / ".DS_Store").write_bytes(b"litter")
    return {"odd": [13, 21], "phone": [24, 40], "grey": [9, 10], "rgba": [11, 8]}


def test_predict_node_keeps_each_size_and_never_overwrites(tmp_path, bundle):
    sizes = user_folder(tmp_path / "in")
    params = {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out"), "direction": "b2a",
              "device": "cpu"}
    summary = predict_unpaired_folder(bundle, params, family="cyclegan")
    assert summary["count"] == 4 and summary["direction"] == "b2a" and summary["sizes"] == sizes
    assert summary["generator_trained_at"] == TRAINED_AT and summary["backend"] == "torch"
    assert summary["source_domain"] == "B" and summary["seconds_per_picture"] > 0
    predictor = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu")
    for name, (height, width) in sizes.items():
        written = np.asarray(Image.open(tmp_path / "out" / f"{name}.png"))
        assert written.shape == (height, width, 3)
    odd = np.asarray(Image.open(tmp_path / "in" / "odd.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "odd.png")), predictor.translate(odd, "b2a"))
    before = (tmp_path / "out" / "odd.png").read_bytes()
    with pytest.raises(FileExistsError, match=r"already holds 4 of the output files .*never replace"):
        predict_unpaired_folder(bundle, {**params, "direction": "a2b"}, family="cyclegan")
    assert (tmp_path / "out" / "odd.png").read_bytes() == before


def test_predict_refuses_bad_files_by_name_before_writing(tmp_path, bundle):
    source = tmp_path / "in"
    user_folder(source)
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (source / "notes.txt").write_text("my notes")
    save_png(source / "twice.png", np.zeros((8, 8, 3), np.uint8))
    (source / "twice.jpg").write_bytes(jpeg_with_orientation(scene(8, 8), 1))
    (source / "sub").mkdir()
    params = {"input_dir": str(source), "output_dir": str(tmp_path / "out"), "device": "cpu"}
    with pytest.raises(ValueError) as error:
        predict_unpaired_folder(bundle, params, family="cyclegan")
    message = str(error.value)
    assert message.startswith("cyclegan.predict: 4 invalid input(s)")
    assert "broken.png" in message and "notes.txt: not a PNG or JPEG file (extension .txt)" in message
    assert "twice.jpg and twice.png: two files for the output twice.png" in message and "sub: a folder" in message
    assert ".DS_Store" not in message and not (tmp_path / "out").exists()


def test_predict_parameters_are_checked_by_name(tmp_path, bundle):
    base = {"input_dir": "in", "output_dir": "out"}
    with pytest.raises(ParameterError, match=r"cyclegan\.predict\.direction"):
        predict_unpaired_folder(bundle, {**base, "direction": "x2y"}, family="cyclegan")
    with pytest.raises(ParameterError, match=r"cyclegan\.predict\.onnx_path must name the exported model"):
        predict_unpaired_folder(bundle, {**base, "backend": "onnx"}, family="cyclegan")
    with pytest.raises(ValueError, match=r"cyclegan\.predict: input_dir in is not a folder"):
        predict_unpaired_folder(bundle, {**base, "device": "cpu"}, family="cyclegan")


def test_onnx_export_of_both_generators_matches_torch_and_refuses_to_overwrite(tmp_path, bundle):
    base = tmp_path / "models" / "cyclegan_generator.onnx"
    summary = export_unpaired_onnx(bundle, {"output_path": str(base)}, family="cyclegan")
    paths = export_paths(base)
    assert paths == {"a2b": tmp_path / "models" / "cyclegan_generator_a2b.onnx",
                     "b2a": tmp_path / "models" / "cyclegan_generator_b2a.onnx"}
    assert summary["files"] == {d: str(p) for d, p in paths.items()} and all(p.is_file() for p in paths.values())
    assert not base.exists() and max(summary["parity_max_abs_diff"].values()) < 1e-4
    assert summary["generator_trained_at"] == TRAINED_AT

    torch_predictor = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu")
    onnx_predictor = OnnxUnpairedPredictor(base, device="cpu", family="cyclegan")
    rng = np.random.default_rng(3)
    for direction, shape in (("a2b", (13, 21)), ("b2a", (40, 36)), ("a2b", (3, 5))):
        picture = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        from_onnx = onnx_predictor.translate(picture, direction)
        from_torch = torch_predictor.translate(picture, direction)
        assert from_onnx.shape == picture.shape
        assert np.abs(from_onnx.astype(int) - from_torch.astype(int)).max() <= 1  # 1/255
    assert onnx_predictor.metadata["b2a"]["source_domain"] == "B" and onnx_predictor.trained_at == TRAINED_AT

    stamp = paths["a2b"].stat().st_mtime_ns
    with pytest.raises(FileExistsError, match=r"cyclegan_generator_a2b\.onnx.*cyclegan\.export\.overwrite=true"):
        export_unpaired_onnx(bundle, {"output_path": str(base)}, family="cyclegan")
    assert paths["a2b"].stat().st_mtime_ns == stamp
    again = export_unpaired_onnx(bundle, {"output_path": str(base), "overwrite": True}, family="cyclegan")
    assert again["bytes"] == summary["bytes"]


def test_onnx_backend_of_the_predict_node(tmp_path, bundle):
    base = tmp_path / "g.onnx"
    export_generators(bundle, "cyclegan", base)
    sizes = user_folder(tmp_path / "in")
    params = {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out"), "backend": "onnx",
              "onnx_path": str(base), "device": "cpu", "direction": "b2a"}
    summary = predict_unpaired_folder(None, params, family="cyclegan")  # the checkpoint is not read
    assert summary["sizes"] == sizes and summary["onnx_file"] == str(tmp_path / "g_b2a.onnx")
    assert summary["device"] == "CPUExecutionProvider" and summary["generator_trained_at"] == TRAINED_AT
    (tmp_path / "g_b2a.onnx").unlink()
    with pytest.raises(FileNotFoundError, match=r"cyclegan\.predict \(backend onnx.*no ONNX generator for b2a"):
        predict_unpaired_folder(None, {**params, "output_dir": str(tmp_path / "out2")}, family="cyclegan")


def test_export_refuses_a_parity_failure_and_bad_parameters(tmp_path, bundle, monkeypatch):
    from gan_pipelines.families.unpaired import export as export_module

    monkeypatch.setattr(export_module, "parity_difference", lambda *args, **kwargs: 0.5)
    with pytest.raises(ValueError, match=r"differs from torch by 0\.5 .*nothing was written"):
        export_generators(bundle, "cyclegan", tmp_path / "g.onnx")
    assert not list(tmp_path.iterdir())
    with pytest.raises(ParameterError, match=r"cyclegan\.export\.output_path: must end in \.onnx"):
        export_unpaired_onnx(bundle, {"output_path": str(tmp_path / "g.bin")}, family="cyclegan")


def test_cli_predict_and_export_run_the_stages_on_a_project(tmp_path, bundle, monkeypatch):
    """`gan-pipelines predict cyclegan <folder> --output <dir>` through a real Kedro session on a
    project copy holding a saved checkpoint, the direction through the generic --params (the
    refusal to overwrite is the node's, tested above); `gan-pipelines export cyclegan` writes both files."""
    from click.testing import CliRunner
    from conftest import copy_project

    from gan_pipelines.cli import cli
    from gan_pipelines.pipeline_registry import FAMILIES

    monkeypatch.setitem(FAMILIES, "cyclegan", "gan_pipelines.families.unpaired.pipeline")  # registered or not yet
    project = copy_project(tmp_path / "project")
    checkpoint = project / "data" / "06_models" / "cyclegan_generator.pt"  # the catalog's path
    TorchCheckpointDataset(filepath=str(checkpoint), version=Version(None, None)).save(bundle)
    sizes = user_folder(tmp_path / "mine")
    output = tmp_path / "translated"
    result = CliRunner().invoke(cli, ["predict", "cyclegan", str(tmp_path / "mine"), "--output", str(output),
                                      "--params", "cyclegan.predict.direction=b2a,cyclegan.predict.device=cpu",
                                      "--project", str(project)])
    assert result.exit_code == 0, result.output
    assert f"Wrote 4 file(s) to {output}" in result.output
    odd = np.asarray(Image.open(tmp_path / "mine" / "odd.png"))
    expected = UnpairedPredictor.from_bundle(bundle, "cyclegan", device="cpu").translate(odd, "b2a")
    np.testing.assert_array_equal(np.asarray(Image.open(output / "odd.png")), expected)
    assert {p.stem: list(np.asarray(Image.open(p)).shape[:2]) for p in output.iterdir()} == sizes
    version = next(checkpoint.iterdir()).name  # the one saved version
    summary_files = list((project / "data" / "07_model_output").glob("cyclegan_predict_summary.json/*/*.json"))
    summary = json.loads(summary_files[0].read_text())
    assert summary["checkpoint_version"] == version and summary["direction"] == "b2a" and summary["count"] == 4

    exported = CliRunner().invoke(cli, ["export", "cyclegan", "--project", str(project)])
    assert exported.exit_code == 0, exported.output
    models = project / "data" / "06_models"
    # the two files the export summary names, not output_path itself (which is never written)
    assert f"ONNX model (a2b): {models / 'cyclegan_generator_a2b.onnx'}" in exported.output
    assert f"ONNX model (b2a): {models / 'cyclegan_generator_b2a.onnx'}" in exported.output
    assert f"ONNX model: {models / 'cyclegan_generator.onnx'}" not in exported.output
    assert (project / "data" / "06_models" / "cyclegan_generator_a2b.onnx").stat().st_size > 1000
    assert (project / "data" / "06_models" / "cyclegan_generator_b2a.onnx").stat().st_size > 1000
