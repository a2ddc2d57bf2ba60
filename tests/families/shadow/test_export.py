"""ONNX export of the shadow model and the onnxruntime prediction path, on a tiny random model."""

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_pipelines.families.shadow.export import export_shadow_model, read_onnx_metadata
from gan_pipelines.images import encode_png, read_image
from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
from gan_pipelines.families.shadow.projection import projected_shadow_hint
from gan_pipelines.families.shadow.bundles import shadow_inference_from_bundles
from gan_pipelines.families.shadow.nodes.export import export_shadow_onnx
from gan_pipelines.families.shadow.nodes.predict import predict_shadow_folder, predictor_settings
from gan_pipelines.families.shadow.predict import OnnxShadowPredictor, ShadowPredictor, predict_folder

SMALL = {"encoder": "resnet18", "decoder_channels": [16, 16, 16, 16, 16]}
# The shipped generator's options: the projection hint and the multiplicative layer must export too.
GENERATOR = {**SMALL, "projection_hint": True, "composition": "multiplicative"}
RESOLUTION = 64
# Bounds for ONNX Runtime vs eager PyTorch, both fp32 on CPU. Measured on the tiny model: about
# 1e-6 on images in [-1, 1]; the bound leaves room for other CPUs' kernels.
MAX_ABS_DIFF = 1e-4
# Full-resolution uint8 outputs may differ by one grey level where a value lands on a .5.
MAX_PIXEL_DIFF = 1

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _bundles():
    torch.manual_seed(0)
    attention, generator = build_attention_net(SMALL), build_shadow_generator(GENERATOR)
    # The generator's output heads start at zero (identity); give the refined head weights so the
    # shadow layer depends on the input, plus a darkening bias so the layer is active.
    with torch.no_grad():
        torch.nn.init.normal_(generator.refined_head.weight, std=0.05)
        generator.refined_head.bias.fill_(-0.2)
    attention_bundle = {
        "state_dicts": {"attention": attention.state_dict()},
        "model_config": {"attention": SMALL},
        "meta": {"resolution": RESOLUTION, "trained_at": "2026-01-01T00:00:00Z", "model_input_version": "v-att"},
    }
    generator_bundle = {
        "state_dicts": {"generator": generator.state_dict()},
        "model_config": {"generator": GENERATOR},
        "meta": {"resolution": RESOLUTION, "trained_at": "2026-01-02T00:00:00Z", "model_input_version": "v-gen"},
    }
    return attention_bundle, generator_bundle


class _Loaded:
    """What the catalog's lazy checkpoint (``<name>@lazy``) hands the predict node, for a bundle
    already in memory; ``None`` stands for a project without that checkpoint."""

    def __init__(self, bundle):
        self.bundle = bundle

    def exists(self):
        return self.bundle is not None

    def load(self):
        if self.bundle is None:
            raise AssertionError("the node read a checkpoint it must not need")
        return self.bundle


@pytest.fixture(scope="module")
def bundles():
    return _bundles()


@pytest.fixture(scope="module")
def exported(bundles, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "shadow_model.onnx"
    summary = export_shadow_model(*bundles, path)
    print(f"\nexport: {summary['export_seconds']:.2f} s, {summary['bytes'] / 1e6:.2f} MB")
    return path, summary


@pytest.fixture(scope="module")
def onnx_predictor(exported):
    return OnnxShadowPredictor(exported[0], device="cpu", num_threads=1)


@pytest.fixture(scope="module")
def torch_model(bundles):
    model, _ = shadow_inference_from_bundles(*bundles)
    return model


def _random_inputs(batch, seed=0):
    rng = np.random.default_rng(seed)
    noshadow = rng.uniform(-1, 1, (batch, 3, RESOLUTION, RESOLUTION)).astype(np.float32)
    mask = -np.ones((batch, 1, RESOLUTION, RESOLUTION), np.float32)
    for index in range(batch):
        top, left = rng.integers(0, RESOLUTION // 2, 2)
        mask[index, 0, top : top + 20, left : left + 16] = 1.0
    return noshadow, mask


def _run_both(torch_model, onnx_predictor, noshadow, mask):
    with torch.no_grad():
        expected = [t.numpy() for t in torch_model(torch.from_numpy(noshadow), torch.from_numpy(mask))]
    got = onnx_predictor.session.run(None, {"noshadow": noshadow, "mask": mask})
    return expected, got


def test_onnxruntime_matches_eager_pytorch(torch_model, onnx_predictor):
    noshadow, mask = _random_inputs(3)
    expected, got = _run_both(torch_model, onnx_predictor, noshadow, mask)
    for name, want, have in zip(("result", "shadow_layer", "attention"), expected, got):
        assert have.shape == want.shape and have.dtype == np.float32, name
        difference = float(np.abs(have - want).max())
        print(f"\n{name}: max abs difference {difference:.3g}")
        assert difference <= MAX_ABS_DIFF, f"{name}: max abs difference {difference} > {MAX_ABS_DIFF}"
    # Thresholded attention masks: identical except, at most, where a probability sits on the
    # threshold itself (within the bound), where either side is right.
    want_masks, have_masks = expected[2] > 0.5, got[2] > 0.5
    differing = want_masks != have_masks
    print(f"attention mask pixels that differ: {int(differing.sum())} of {differing.size}")
    assert np.all(np.abs(expected[2][differing] - 0.5) <= MAX_ABS_DIFF)
    assert 0 < want_masks.mean() < 1  # the test sees both sides of the threshold


class _MapsFromImage(torch.nn.Module):
    """Stands in for the attention net: robject / rshadow logits read off the image's red and
    green channels, so a test decides the maps the projection hint is fitted to."""

    def forward(self, noshadow, mask):
        return 20.0 * noshadow[:, 0:2]


def test_projection_hint_exports_and_matches_eager_pytorch():
    from gan_pipelines.families.shadow.inference import ShadowInference
    from gan_pipelines.families.shadow.onnx_export import shadow_inference_to_onnx
    from gan_pipelines.families.shadow.projection import cast_shadow
    import onnxruntime

    torch.manual_seed(0)
    generator = build_shadow_generator(GENERATOR).eval()
    with torch.no_grad():
        torch.nn.init.normal_(generator.refined_head.weight, std=0.05)
    occluders = torch.zeros(2, 1, RESOLUTION, RESOLUTION)
    occluders[:, :, 20:32, 10:14] = 1
    shadows = torch.cat([cast_shadow(occluders[:1], torch.tensor([a]), torch.tensor([1.0])) for a in (20.0, 150.0)]).float()
    noshadow = torch.cat([occluders, shadows, torch.zeros_like(shadows)], dim=1) * 2 - 1
    mask = -torch.ones(2, 1, RESOLUTION, RESOLUTION)
    mask[:, :, 40:48, 30:34] = 1
    hint = projected_shadow_hint(mask, noshadow[:, 0:1], noshadow[:, 1:2])
    assert (hint > 0).flatten(1).any(dim=1).all()  # the hint is drawn for both images
    model = ShadowInference(_MapsFromImage(), generator).eval()
    session = onnxruntime.InferenceSession(shadow_inference_to_onnx(model, RESOLUTION))
    with torch.no_grad():
        expected = [t.numpy() for t in model(noshadow, mask)]
    got = session.run(None, {"noshadow": noshadow.numpy(), "mask": mask.numpy()})
    for name, want, have in zip(("result", "shadow_layer", "attention"), expected, got):
        assert float(np.abs(have - want).max()) <= MAX_ABS_DIFF, name


def test_batch_axis_is_dynamic(torch_model, onnx_predictor):
    graph_input = onnx_predictor.session.get_inputs()[0]
    assert graph_input.name == "noshadow" and graph_input.shape[1:] == [3, RESOLUTION, RESOLUTION]
    assert isinstance(graph_input.shape[0], str)  # symbolic
    noshadow, mask = _random_inputs(3, seed=1)
    three = onnx_predictor.session.run(None, {"noshadow": noshadow, "mask": mask})
    one = onnx_predictor.session.run(None, {"noshadow": noshadow[:1], "mask": mask[:1]})
    assert [a.shape[0] for a in three] == [3, 3, 3] and [a.shape[0] for a in one] == [1, 1, 1]
    for single, batched in zip(one, three):
        assert np.abs(single[0] - batched[0]).max() <= MAX_ABS_DIFF


def test_metadata_round_trip(exported, onnx_predictor, bundles):
    path, summary = exported
    metadata = read_onnx_metadata(path)
    assert metadata["resolution"] == RESOLUTION and metadata["threshold"] == 0.5
    assert metadata["attention_trained_at"] == "2026-01-01T00:00:00Z"
    assert metadata["generator_trained_at"] == "2026-01-02T00:00:00Z"
    assert metadata["generator_model_input_version"] == "v-gen"
    assert metadata["torch_version"] == torch.__version__
    assert '"decoder_channels": [16, 16, 16, 16, 16]' in metadata["model_config"]
    assert onnx_predictor.metadata == metadata  # what onnxruntime reads is what onnx reads
    assert onnx_predictor.resolution == RESOLUTION
    assert summary["path"] == str(path) and summary["bytes"] == path.stat().st_size


def test_model_without_metadata_is_refused(exported, tmp_path):
    import onnx

    proto = onnx.load(str(exported[0]))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    with pytest.raises(ValueError, match="no gan_pipelines.model=shadow_inference metadata"):
        OnnxShadowPredictor(bare, device="cpu", num_threads=1)


def test_existing_file_is_not_overwritten_without_the_flag(exported, bundles, tmp_path):
    path = tmp_path / "models/shadow_model.onnx"
    path.parent.mkdir()
    shutil.copy(exported[0], path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists and is not overwritten.*overwrite=True"):
        export_shadow_model(*bundles, path)
    params = {"output_path": str(path), "overwrite": False}
    with pytest.raises(FileExistsError, match="shadow.export.overwrite=true"):
        export_shadow_onnx(*bundles, params)
    assert path.read_bytes() == before
    summary = export_shadow_onnx(*bundles, {**params, "overwrite": True})
    assert summary["bytes"] == path.stat().st_size
    assert read_onnx_metadata(path)["exported_at"] == summary["metadata"]["gan_pipelines.exported_at"]
    assert [p.name for p in path.parent.iterdir()] == ["shadow_model.onnx"]  # no temporary file left


@pytest.mark.parametrize(
    "params, error",
    [
        ({"output_path": "x.onnx", "overwrite": "yes"}, "shadow.export.overwrite: Input should be a valid boolean"),
        ({"output_path": "x.onnx", "overwrte": True}, "shadow.export.overwrte: unknown parameter"),
        ({"overwrite": False}, "shadow.export.output_path: Field required"),
    ],
)
def test_bad_export_params_are_named(bundles, params, error):
    with pytest.raises(ValueError, match=error):
        export_shadow_onnx(*bundles, params)


def _write(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(array))


def _photo_folder(root, count=3):
    """640x480 pictures with smooth gradients, noise and a pasted object + its mask."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    for index in range(count):
        base = 60 + 120 * (x / 640) * (index + 1) / count + 40 * (y / 480)
        image = np.clip(base[..., None] + rng.normal(0, 12, (480, 640, 3)), 0, 255).astype(np.uint8)
        mask = np.zeros((480, 640), np.uint8)
        top, left = 120 + 40 * index, 200 + 60 * index
        mask[top : top + 180, left : left + 140] = 255
        image[mask > 0] = (200, 60 + 40 * index, 40)
        _write(root / f"noshadow/photo_{index}.png", image)
        _write(root / f"mask/photo_{index}.jpg" if index == 1 else root / f"mask/photo_{index}.png", mask)
    return root


def test_onnx_backend_writes_the_same_images_as_the_torch_backend(bundles, exported, onnx_predictor, tmp_path):
    photos = _photo_folder(tmp_path / "photos")
    torch_predictor = ShadowPredictor(*bundles, device="cpu", precision="fp32")
    predict_folder(torch_predictor, photos, tmp_path / "torch_out")
    summary = predict_folder(onnx_predictor, photos, tmp_path / "onnx_out")
    assert summary["num_images"] == 3 and set(summary["sizes"].values()) == {"640x480"}
    # The same through the Kedro node with shadow.predict.backend: onnx.
    params = {"input_dir": str(photos), "output_dir": str(tmp_path / "node_out"), "device": "cpu",
              "backend": "onnx", "onnx_path": str(exported[0])}
    node_summary = predict_shadow_folder(*map(_Loaded, bundles), params)
    assert node_summary["backend"] == "onnx" and node_summary["generator_trained_at"] == "2026-01-02T00:00:00Z"

    worst, changed, mask_differences = 0, 0, 0
    for name in sorted(summary["sizes"]):
        want = read_image(tmp_path / f"torch_out/shadow/{name}.png").astype(int)
        for out in ("onnx_out", "node_out"):
            have = read_image(tmp_path / f"{out}/shadow/{name}.png").astype(int)
            assert have.shape == (480, 640, 3)
            worst = max(worst, int(np.abs(have - want).max()))
            changed += int((have != want).any(axis=2).sum())
            for kind in ("robject", "rshadow"):
                mask_differences += int((read_image(tmp_path / f"{out}/{kind}/{name}.png")
                                         != read_image(tmp_path / f"torch_out/{kind}/{name}.png")).sum())
        photo = read_image(photos / f"noshadow/{name}.png").astype(int)
        assert (want != photo).any()  # the model did add something
    print(f"\nuint8 max difference onnx vs torch: {worst} ({changed} pixels differ); attention mask pixels differing: {mask_differences}")
    assert worst <= MAX_PIXEL_DIFF
    assert mask_differences == 0


def test_bad_backend_and_missing_onnx_file_are_named(tmp_path):
    base = {"input_dir": "in", "output_dir": "out"}
    with pytest.raises(ValueError, match=r"shadow.predict.backend: Input should be 'torch' or 'onnx' \(got 'tensorrt'\)"):
        predictor_settings({**base, "backend": "tensorrt"})
    with pytest.raises(FileNotFoundError, match=r"shadow.predict.onnx_path '.*missing.onnx' does not exist"):
        predictor_settings({**base, "backend": "onnx", "onnx_path": str(tmp_path / "missing.onnx")})
    with pytest.raises(ValueError, match="shadow.predict.onnx_path must name the exported model when backend is onnx"):
        predictor_settings({**base, "backend": "onnx", "onnx_path": None})
    assert predictor_settings(base)["backend"] == "torch"  # the default; onnx_path not needed


def test_onnx_backend_warns_when_the_file_is_from_other_checkpoints(bundles, exported, tmp_path, caplog):
    _write(tmp_path / "in/noshadow/a.png", np.full((40, 50, 3), 120, np.uint8))
    _write(tmp_path / "in/mask/a.png", np.full((40, 50), 255, np.uint8))
    attention_bundle, generator_bundle = bundles
    newer = {**generator_bundle, "meta": {**generator_bundle["meta"], "trained_at": "2026-02-01T00:00:00Z"}}
    params = {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out"), "device": "cpu",
              "backend": "onnx", "onnx_path": str(exported[0])}
    with caplog.at_level("WARNING"):
        summary = predict_shadow_folder(_Loaded(attention_bundle), _Loaded(newer), params)
    assert "trained at 2026-01-02T00:00:00Z" in caplog.text and "re-export" in caplog.text
    assert summary["generator_trained_at"] == "2026-01-02T00:00:00Z"  # what actually ran


def test_onnx_backend_needs_no_checkpoints(exported, tmp_path, caplog):
    _write(tmp_path / "in/noshadow/a.png", np.full((40, 50, 3), 120, np.uint8))
    _write(tmp_path / "in/mask/a.png", np.full((40, 50), 255, np.uint8))
    params = {"input_dir": str(tmp_path / "in"), "output_dir": str(tmp_path / "out"), "device": "cpu",
              "backend": "onnx", "onnx_path": str(exported[0])}
    with caplog.at_level("INFO"):
        summary = predict_shadow_folder(_Loaded(None), _Loaded(None), params)
    assert summary["num_images"] == 1 and "No generator checkpoint" in caplog.text
    assert read_image(tmp_path / "out/shadow/a.png").shape == (40, 50, 3)


def test_onnx_device_errors():
    from gan_pipelines.families.shadow.predict import onnx_providers

    assert onnx_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert onnx_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    with pytest.raises(ValueError, match="no CUDAExecutionProvider"):
        onnx_providers("cuda", ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="'mps' is not understood by the onnx backend"):
        onnx_providers("mps", ["CPUExecutionProvider"])


def test_registry_has_shadow_export_outside_shadow():
    from gan_pipelines.pipeline_registry import register_pipelines

    pipelines = register_pipelines()
    assert {n.name for n in pipelines["shadow.export"].nodes} == {"shadow.export_shadow_onnx"}
    assert "shadow.export_shadow_onnx" not in {n.name for n in pipelines["shadow"].nodes}


def test_kedro_run_shadow_export_then_shadow_predict_with_onnx(bundles, tmp_path, monkeypatch):
    """The documented commands through a real Kedro session on a throwaway copy of conf/."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro.io.core import Version

    from gan_pipelines.datasets import TorchCheckpointDataset

    for name in ("conf", "pyproject.toml", ".telemetry"):
        source = PROJECT_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / name)
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    for kind, bundle in zip(("attention", "generator"), bundles):
        TorchCheckpointDataset(filepath=f"data/06_models/shadow_{kind}.pt", version=Version(None, None)).save(bundle)
    _write(tmp_path / "photos/noshadow/a.png", np.full((48, 64, 3), 150, np.uint8))
    mask = np.zeros((48, 64), np.uint8)
    mask[16:32, 20:36] = 255
    _write(tmp_path / "photos/mask/a.png", mask)

    with KedroSession.create(project_path=tmp_path) as session:
        session.run(pipeline_names=["shadow.export"])
    onnx_file = tmp_path / "data/06_models/shadow_model.onnx"
    assert read_onnx_metadata(onnx_file)["resolution"] == RESOLUTION
    with KedroSession.create(project_path=tmp_path) as session, pytest.raises(Exception, match="already exists"):
        session.run(pipeline_names=["shadow.export"])
    # An ONNX-only deployment: the checkpoints are gone, the exported file is all there is.
    shutil.rmtree(tmp_path / "data/06_models/shadow_attention.pt")
    shutil.rmtree(tmp_path / "data/06_models/shadow_generator.pt")
    params = {"shadow": {"predict": {"input_dir": "photos", "output_dir": "photos_out", "backend": "onnx", "device": "cpu"}}}
    with KedroSession.create(project_path=tmp_path, runtime_params=params) as session:
        session.run(pipeline_names=["shadow.predict"])
    assert read_image(tmp_path / "photos_out/shadow/a.png").shape == (48, 64, 3)
