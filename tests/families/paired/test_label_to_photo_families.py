"""pix2pixHD, SPADE and SPADE+VAE end to end on a tiny config through a real Kedro session: each
namespace reuses the paired pipeline module with its own generator (``train.model.type``) and
files; the metrics hold the model, both baselines and the real ceiling; the checkpoint rebuilds
without flags; predict and export use it (instance maps for pix2pixHD, seeded styles for
SPADE+VAE)."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gan_pipelines.families.paired.bundles import generator_from_bundle
from gan_pipelines.families.paired.networks import StyleVAEGenerator
from gan_pipelines.models.pix2pixhd import GlobalGenerator
from gan_pipelines.models.spade import SPADEGenerator
from gan_pipelines.pipeline_registry import register_pipelines

NAMESPACES = ("pix2pixhd", "spade", "spade_vae")


def _tiny(family):
    """32 px, 24 train+val and 4 test scenes, a few epochs on one thread; D 2 scales of 2 layers
    (32 and 16 px: 6x6 and 2x2 maps)."""
    training = {"progress": False, "cpu_threads": 1}
    discriminator = {"discriminator": {"n_layers": 2, "ndf": 8}}
    models = {
        "pix2pixhd": {"ngf": 8, "n_downsampling": 2, "n_blocks": 1},
        "spade": {"ngf": 4, "num_upsampling_layers": 3, "spade_hidden": 8},
        "spade_vae": {"ngf": 4, "num_upsampling_layers": 3, "spade_hidden": 8, "z_dim": 8,
                      "encoder": {"ndf": 4, "n_downsampling": 3}},
    }
    params = {
        "ingest": {"synthetic": {"resolution": 32, "num_train": 24, "num_test": 4}},
        "preprocess": {"resolution": 32, "val_fraction": 0.2},
        "train_judge": {"batch_size": 8, "training": {**training, "epochs": 2, "lr_constant_epochs": 1}},
        "train": {"batch_size": 8, "model": models[family], "discriminator": discriminator,
                  "training": {**training, "epochs": 2, "lr_constant_epochs": 1}},
        "evaluate": {"diversity_samples": 3} if family.startswith("spade") else {},
        "report": {"num_examples": 1},
    }
    return {family: params}


def test_the_three_namespaces_reuse_the_paired_module():
    pipelines = register_pipelines()
    for family in NAMESPACES:
        assert {f"{family}.{stage}" for stage in ("ingest", "preprocess", "train_judge", "train", "evaluate",
                                                  "report", "predict", "export")} <= set(pipelines)
        assert all(d.startswith((f"{family}.", f"params:{family}.")) for d in pipelines[family].datasets())
        assert {n.name for n in pipelines[f"{family}.train"].nodes} == {f"{family}.train_generator"}


@pytest.mark.parametrize("family", NAMESPACES)
def test_family_end_to_end(tmp_path, kedro_run, family, one_thread):
    from conftest import copy_project

    project = copy_project(tmp_path / family)
    kedro_run(project, family, _tiny(family))
    metrics = json.loads((project / f"data/08_reporting/{family}_metrics.json").read_text())
    assert set(metrics) == {"model", "class_mean_painter", "nearest_neighbour", "real", "meta"}
    assert metrics["meta"]["resolution"] == 32 and metrics["meta"]["num_test_images"] == 4
    assert metrics["meta"]["generator_type"] == ("pix2pixhd" if family == "pix2pixhd" else "spade")
    assert metrics["meta"]["vgg19_perceptual"].startswith(("loaded", "disabled"))  # recorded either way
    for method in ("model", "class_mean_painter", "nearest_neighbour", "real"):
        assert metrics[method]["seg_miou"] is not None and 0 <= metrics[method]["l1"] <= 1
    if family.startswith("spade"):
        assert metrics["meta"]["diversity"]["samples_per_map"] == 3
        assert metrics["meta"]["diversity"]["feature_space"].startswith("the paired judge's segmenter features")
        assert metrics["real"]["diversity"] > 0  # the scale: real pictures of different scenes
        lpips = metrics["model"]["diversity_lpips"]  # null with the reason unless LPIPS weights are local
        assert lpips >= 0 if lpips is not None else "diversity_lpips" in metrics["meta"]["unavailable"]
    if family == "spade":
        assert metrics["model"]["diversity"] == 0 == metrics["model"]["diversity_l1"]  # deterministic: measured
    if family == "spade_vae":
        assert metrics["model"]["diversity"] > 0
        assert metrics["model"]["style_reconstruction_psnr"] > 0 and -1 <= metrics["model"]["style_reconstruction_ssim"] <= 1
        ingest = json.loads(next((project / "data/01_raw").glob("spade_vae_ingest_summary.json/*/*.json")).read_text())
        assert ingest["palette"] == "random_objects"

    checkpoint = list((project / "data/06_models").glob(f"{family}_generator.pt/*/{family}_generator.pt"))
    assert len(checkpoint) == 1
    bundle = torch.load(checkpoint[0], weights_only=True)
    net, input_cfg = generator_from_bundle(bundle, family)
    expected = {"pix2pixhd": GlobalGenerator, "spade": SPADEGenerator, "spade_vae": StyleVAEGenerator}[family]
    assert isinstance(net.generator, expected)
    assert input_cfg["instance_edges"] == (family == "pix2pixhd")

    inputs, instance_dir = project / "own_inputs", project / "own_instances"
    inputs.mkdir()
    instance_dir.mkdir()
    size = (32, 32) if family == "spade_vae" else (40, 50)  # the VAE takes its training size only
    label_map = np.full(size, 0, np.uint8)
    label_map[10:25, 12:30] = 2
    Image.fromarray(label_map).save(inputs / "map.png")
    Image.fromarray((label_map > 0).astype(np.uint8)).save(instance_dir / "map.png")
    use = {family: {"predict": {"input_dir": "own_inputs", "output_dir": "own_outputs", "instance_dir": "own_instances",
                                "num_samples": 2 if family == "spade_vae" else 1},
                    "export": {"output_path": "model.onnx"}}}
    kedro_run(project, f"{family}.predict", use)
    names = ["map_s0.png", "map_s1.png"] if family == "spade_vae" else ["map.png"]
    assert sorted(p.name for p in (project / "own_outputs").iterdir()) == names
    assert np.asarray(Image.open(project / "own_outputs" / names[0])).shape == (*size, 3)
    with pytest.raises(Exception, match="never replace"):
        kedro_run(project, f"{family}.predict", use)
    kedro_run(project, f"{family}.export", use)
    onnx = {family: {"predict": {**use[family]["predict"], "output_dir": "onnx_outputs", "backend": "onnx",
                                 "onnx_path": "model.onnx"}}}
    kedro_run(project, f"{family}.predict", onnx)
    for name in names:
        torch_picture = np.asarray(Image.open(project / "own_outputs" / name)).astype(int)
        onnx_picture = np.asarray(Image.open(project / "onnx_outputs" / name)).astype(int)
        assert np.abs(torch_picture - onnx_picture).max() <= 1  # both fp32: rounding only
