"""Issue 24's defects in the paired families' training, comparison, reports and devices, each
checked with values: pix2pixHD's adversarial term summed over discriminator scales; instance maps
loaded only for the models that use them; the active losses in every table; one device rule;
the last epoch kept by pix2pixhd and spade."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gan_pipelines.families.paired.networks import build_paired_generator
from gan_pipelines.families.paired.nodes.train import check_train_params

from .test_label_to_photo_models import _arrays

PROJECT = Path(__file__).resolve().parents[3]
TRAINING = {"epochs": 1, "device": "cpu", "precision": "fp32", "progress": False, "cpu_threads": 1,
            "scheduler": "none", "monitor": None, "sample_every": 1000}


def _multiscale(num_d: int, spectral_norm: bool = False) -> dict:
    return {"type": "multiscale", "num_D": num_d, "discriminator": {
        "ndf": 8, "n_layers": 2, "norm": "instance", "spectral_norm": spectral_norm, "return_features": True}}


COMMON = {"input_kind": "label_map", "label_nc": 3, "instance_kind": "instance_map", "batch_size": 4,
          "augmentation": None, "training": TRAINING}
RECIPES = {  # conf/base's recipes, scaled down
    "pix2pix": {**COMMON, "model": {"type": "unet", "num_downs": 4, "ngf": 8},
                "discriminator": {"type": "patchgan", "ndf": 8, "n_layers": 2}},
    "pix2pixhd": {**COMMON, "instance_edges": True,
                  "model": {"type": "pix2pixhd", "ngf": 8, "n_downsampling": 2, "n_blocks": 1},
                  "discriminator": _multiscale(3), "gan_mode": "lsgan",
                  "loss_weights": {"l1": 0.0, "feature_matching": 10.0, "vgg19": 10.0}},
    "spade": {**COMMON, "model": {"type": "spade", "ngf": 8, "num_upsampling_layers": 3, "spade_hidden": 16},
              "discriminator": _multiscale(3, True), "gan_mode": "hinge",
              "loss_weights": {"l1": 0.0, "feature_matching": 10.0, "vgg19": 10.0}, "betas": [0.0, 0.9]},
}


def _bundle(recipe: str, family: str, meta: dict | None = None, resolution: int = 32) -> dict:
    """A checkpoint bundle of an untrained generator of a recipe, as the train node writes it."""
    settings = check_train_params(RECIPES[recipe], f"{family}.train", resolution)
    torch.manual_seed(0)
    net = build_paired_generator(settings["generator"])
    return {"state_dicts": {"generator": net.state_dict()},
            "model_config": {"generator": settings["generator"], "input": settings["input"], "target_kind": "picture"},
            "meta": {"family": family, "network": "generator", "resolution": resolution,
                     "trained_at": "2026-01-01T00:00:00Z", **(meta or {})}}


# ---------------------------------------------------------------------------------------------
# 1. pix2pixHD sums the adversarial losses of its discriminator scales
# ---------------------------------------------------------------------------------------------


def _known_outputs(num_d: int = 3) -> list[list[torch.Tensor]]:
    """Per-scale feature lists (one feature map, then the logits) with known logits: scale k
    has logits all equal to 0.5 * k, on maps of 6x6, 3x3, 2x2."""
    sizes = (6, 3, 2)
    return [[torch.zeros(1, 4, sizes[k], sizes[k]), torch.full((1, 1, sizes[k], sizes[k]), 0.5 * k)]
            for k in range(num_d)]


@pytest.mark.parametrize("recipe", ["pix2pixhd", "spade"])
def test_pix2pixhd_sums_the_adversarial_term_over_its_three_scales_and_spade_averages(recipe, monkeypatch, one_thread):
    """The loss the train node builds (captured from the task it hands the engine), on known
    discriminator outputs at num_D = 3 (logits 0, 0.5, 1): pix2pixHD's LSGAN sums the scales
    (NVIDIA/pix2pixHD), SPADE's hinge averages them (NVlabs/SPADE)."""
    import gan_pipelines.training as training
    from gan_pipelines.families.paired.nodes.train import fit_generator

    captured = {}

    def fake_fit(task, *args, **kwargs):
        captured["task"] = task
        raise RuntimeError("captured")

    monkeypatch.setattr(training, "fit", fake_fit)
    with pytest.raises(RuntimeError, match="captured"):
        fit_generator(_arrays(), _arrays(), copy.deepcopy(RECIPES[recipe]), f"{recipe}.train")
    gan_loss = captured["task"].gan_loss
    outputs = _known_outputs(3)
    logits = [0.0, 0.5, 1.0]
    if recipe == "pix2pixhd":
        # LSGAN: G aims at 1; D's real target 1, fake target 0; each scale a mean over its map
        g = sum((x - 1.0) ** 2 for x in logits)  # 1 + 0.25 + 0 = 1.25
        d_real = sum((x - 1.0) ** 2 for x in logits)
        d_fake = sum(x ** 2 for x in logits)  # 0 + 0.25 + 1 = 1.25
        assert g == pytest.approx(1.25) and d_fake == pytest.approx(1.25)
    else:
        # hinge, averaged: G -mean(x); D relu(1 - x) on real, relu(1 + x) on fake
        g = sum(-x for x in logits) / 3  # -0.5
        d_real = sum(max(0.0, 1 - x) for x in logits) / 3  # 0.5
        d_fake = sum(max(0.0, 1 + x) for x in logits) / 3  # 1.5
    assert gan_loss(outputs, True, for_discriminator=False).item() == pytest.approx(g, abs=1e-6)
    assert gan_loss(outputs, True, for_discriminator=True).item() == pytest.approx(d_real, abs=1e-6)
    assert gan_loss(outputs, False, for_discriminator=True).item() == pytest.approx(d_fake, abs=1e-6)


def test_gan_loss_scale_reduction_by_hand():
    from gan_pipelines.models.gan_losses import GANLoss

    outputs = _known_outputs(3)
    summed, averaged = GANLoss("lsgan", scale_reduction="sum"), GANLoss("lsgan")
    assert summed(outputs, False).item() == pytest.approx(0.0 + 0.25 + 1.0)
    assert averaged(outputs, False).item() == pytest.approx((0.0 + 0.25 + 1.0) / 3)
    one = torch.full((2, 1, 3, 3), 0.5)  # one scale: both reductions agree
    assert summed(one, True, for_discriminator=False).item() == pytest.approx(0.25)
    assert averaged(one, True, for_discriminator=False).item() == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"scale_reduction must be one of \['mean', 'sum'\], got 'max'"):
        GANLoss("lsgan", scale_reduction="max")


# ---------------------------------------------------------------------------------------------
# 12. pix2pixhd and spade keep the last epoch, as their references and spade_vae
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["pix2pixhd", "spade", "spade_vae"])
def test_conf_base_keeps_the_last_epoch_for_pix2pixhd_and_spade(family):
    """conf/base as Kedro loads it: ``training.monitor`` is null, which the engine reads as "keep
    the last epoch" (tests/training/test_engine.py::test_monitor_null_keeps_the_last_epoch); a
    missing key would mean the engine's default monitor ``loss`` instead."""
    from kedro.config import OmegaConfigLoader

    from gan_pipelines.families.paired.nodes.train import check_train_params, with_ingest_class_count
    from gan_pipelines.stages.training_setup import trainer_config

    loader = OmegaConfigLoader(str(PROJECT / "conf"), base_env="base", default_run_env="base",
                               merge_strategy={"parameters": "soft"})
    params, _ = with_ingest_class_count(loader["parameters"][family]["train"],
                                        loader["parameters"][family]["ingest"], family)  # as the node does
    assert "monitor" in params["training"] and params["training"]["monitor"] is None
    assert trainer_config(params, f"{family}.train").monitor is None
    check_train_params(params, f"{family}.train")  # the rest of the config stays valid


# ---------------------------------------------------------------------------------------------
# 4. compare_label_to_photo loads instance maps only for the models that use them
# 9. the comparison table and every report say which losses were active
# ---------------------------------------------------------------------------------------------

VGG19_MISSING = "disabled: weights not found (looked in /nowhere/vgg19-*.pth)"
LOSS_META = {
    "pix2pix": {"loss_weights": {"adversarial": 1.0, "l1": 100.0}, "perceptual": "off (loss_weights.perceptual is 0)"},
    "pix2pixhd": {"loss_weights": {"adversarial": 1.0, "feature_matching": 10.0},
                  "perceptual": "off (loss_weights.perceptual is 0)", "vgg19_perceptual": VGG19_MISSING},
    "spade": {"loss_weights": {"adversarial": 1.0, "feature_matching": 10.0},
              "perceptual": "off (loss_weights.perceptual is 0)", "vgg19_perceptual": VGG19_MISSING},
}


def _folder(with_instances: bool) -> dict:
    """A model input (pix2pix's layout) with train/val/test, instance maps only if asked."""
    folder = {}
    for split, seed in (("train", 0), ("val", 1), ("test", 2)):
        arrays = _arrays(4, seed=seed)
        for kind, stack in arrays.items():
            if kind == "instance_map" and not with_instances:
                continue
            for index, array in enumerate(stack):
                folder[f"{split}/{kind}/s{index}.png"] = (lambda a=array: a)
    return folder


@pytest.fixture
def fake_protocol(monkeypatch):
    """The evaluation protocol replaced by fixed numbers (the judge is not what is tested here)."""
    import gan_pipelines.families.paired.evaluation as evaluation

    def evaluate_methods(outputs, targets, labels, judge, params, section="", **kwargs):
        assert all(output.shape == targets.shape for output in outputs.values())
        metrics = {method: {"l1": 0.1, "seg_miou": 0.5} for method in [*outputs, "real"]}
        per_image = pd.DataFrame({"method": ["real"], "image": [0], "l1": [0.0]})
        return metrics, per_image, {"judge": {"num_classes": 3}}

    monkeypatch.setattr(evaluation, "evaluate_methods", evaluate_methods)


def _compare(folder, **bundles):
    from gan_pipelines.families.paired.nodes.compare import compare_label_to_photo_models

    from gan_pipelines.image_folders import content_hash

    params = {"device": "cpu", "diversity_samples": 2, "num_examples": 1, "batch_size": 4}
    judge = {"meta": {"num_classes": 3, "image_kind": "picture", "label_kind": "label_map",
                      "judge": {"data_hash": content_hash(folder, ["picture", "label_map"])}}}
    return compare_label_to_photo_models(folder, judge, params, **bundles)


def test_compare_without_instance_maps_scores_the_others_and_refuses_pix2pixhd_by_name(fake_protocol, one_thread):
    folder = _folder(with_instances=False)
    pix2pix = _bundle("pix2pix", "pix2pix", LOSS_META["pix2pix"])
    hd = _bundle("pix2pixhd", "pix2pixhd", LOSS_META["pix2pixhd"])
    spade = _bundle("spade", "spade", LOSS_META["spade"])
    metrics, html, markdown = _compare(folder, pix2pix=pix2pix, pix2pixhd=hd, spade=spade)
    assert {"pix2pix", "spade"} <= set(metrics) and "pix2pixhd" not in metrics
    refused = metrics["meta"]["refused"]
    assert set(refused) == {"pix2pixhd"}
    assert "instance_map" in refused["pix2pixhd"] and "0 of 4 test samples" in refused["pix2pixhd"]
    assert "pix2pixhd" in html and "instance_map" in html  # said in the report, not only in the JSON
    # only pix2pixhd needs the instance maps: alone, it is refused with its name
    with pytest.raises(ValueError, match=r"compare_label_to_photo: no model can be compared.*pix2pixhd.*instance_map"):
        _compare(folder, pix2pixhd=hd)
    # with the instance maps pix2pixhd is scored
    metrics, _, _ = _compare(_folder(with_instances=True), pix2pix=pix2pix, pix2pixhd=hd)
    assert {"pix2pix", "pix2pixhd"} <= set(metrics) and not metrics["meta"]["refused"]


def test_compare_table_says_which_losses_each_model_trained_with(fake_protocol, one_thread):
    folder = _folder(with_instances=True)
    bundles = {family: _bundle(family, family, LOSS_META[family]) for family in ("pix2pix", "pix2pixhd", "spade")}
    metrics, html, markdown = _compare(folder, **bundles)
    rows = {line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
            for line in markdown.splitlines() if line.startswith("|")}
    header = rows["metric"]
    losses = dict(zip(header, rows["losses in training"]))
    assert losses["pix2pix"] == "adversarial 1 + l1 100"
    assert losses["pix2pixhd"] == "adversarial 1 + feature_matching 10; OFF: vgg19 (weights not found)"
    assert losses["spade"] == losses["pix2pixhd"]
    assert losses["class_mean_painter"] == losses["real"] == ""
    models = metrics["meta"]["models"]
    assert models["pix2pixhd"]["losses"] == {"active": {"adversarial": 1.0, "feature_matching": 10.0},
                                             "off": {"vgg19": VGG19_MISSING}}
    assert models["pix2pix"]["losses"]["off"] == {}
    assert "OFF: vgg19 (weights not found)" in html and VGG19_MISSING in html


def test_every_paired_report_says_which_losses_were_active():
    from gan_pipelines.families.paired.nodes.report import build_paired_report

    arrays = _arrays(2)
    model_input = {f"test/{kind}/s{i}.png": (lambda a=stack[i]: a) for kind, stack in arrays.items() for i in range(2)}
    predictions = {f"test/model/s{i}.png": (lambda a=arrays["picture"][i]: a) for i in range(2)}
    per_image = pd.DataFrame({"method": ["model"] * 2, "name": ["s0", "s1"], "l1": [0.1, 0.2]})
    metrics = {"model": {"l1": 0.15}, "real": {"l1": 0.0},
               "meta": {"input_kind": "label_map", "num_test_images": 2, "resolution": 32, **LOSS_META["spade"]}}
    history = pd.DataFrame({"epoch": [1, 2], "train_g_loss": [1.0, 0.5], "val_l1": [0.3, 0.2]})
    html, markdown = build_paired_report(model_input, predictions, per_image, metrics, history, pd.DataFrame(),
                                         {}, {}, {"input_kind": "label_map"}, {"num_examples": 1}, family="spade")
    line = next(row for row in markdown.splitlines() if row.startswith("| losses in training"))
    assert "adversarial 1 + feature_matching 10; OFF: vgg19 (weights not found)" in line
    assert "OFF: vgg19 (weights not found)" in html and VGG19_MISSING in html
    # a checkpoint from before the losses were recorded says so instead of showing nothing
    old = {**metrics, "meta": {"input_kind": "label_map"}}
    _, markdown = build_paired_report(model_input, predictions, per_image, old, history, pd.DataFrame(),
                                      {}, {}, {"input_kind": "label_map"}, {"num_examples": 1}, family="spade")
    assert "not recorded in the checkpoint" in markdown


# ---------------------------------------------------------------------------------------------
# 10. one device rule (CUDA > MPS > CPU) everywhere; ONNX providers from the device
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def accelerators(monkeypatch):
    """Set which accelerators torch reports: ``accelerators(cuda=..., mps=...)``."""
    import gan_pipelines.training.device as device_module

    def set_available(cuda: bool, mps: bool) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
        monkeypatch.setattr(device_module, "_mps_available", lambda: mps)

    return set_available


@pytest.mark.parametrize("cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_every_paired_device_choice_follows_the_engine_rule(accelerators, monkeypatch, cuda, mps, expected):
    """``auto`` in evaluate / compare, the evaluation protocol's LPIPS and the torch predictor
    picks what the training engine picks (select_device: CUDA > MPS > CPU)."""
    import gan_pipelines.models.pretrained as pretrained
    from gan_pipelines.families.paired.networks import PairedGenerator
    from gan_pipelines.families.paired.nodes.evaluate import resolve_device
    from gan_pipelines.families.paired.predict import PairedPredictor
    from gan_pipelines.metrics.diversity import lpips_distance
    from gan_pipelines.training.device import select_device

    accelerators(cuda, mps)
    assert str(select_device("auto")) == expected
    assert resolve_device("auto") == expected
    moved = []
    monkeypatch.setattr(PairedGenerator, "to", lambda self, device: moved.append(str(device)) or self)
    assert PairedPredictor(_bundle("pix2pix", "pix2pix"), "pix2pix").device == expected
    assert moved == [expected]
    # LPIPS (the protocol's and the diversity figures'), with no device given, moves to the same device
    seen = []

    class Recorder(torch.nn.Module):
        def to(self, device):
            seen.append(str(device))
            return self

    monkeypatch.setattr(pretrained, "find_lpips_weights", lambda path=None: (Path("lpips_weights.pt"), "local"))
    monkeypatch.setattr(pretrained, "find_vgg16_weights", lambda path=None: Path("vgg16.pth"))
    monkeypatch.setattr(pretrained, "load_lpips", lambda lpips_path, vgg16_path: Recorder())
    assert lpips_distance(None)[1] == "local"
    assert seen == [expected]


def test_an_explicit_device_this_machine_lacks_is_refused(accelerators):
    from gan_pipelines.families.paired.nodes.evaluate import resolve_device

    accelerators(False, False)
    assert resolve_device("cpu") == "cpu"
    for device in ("cuda", "mps"):
        with pytest.raises(ValueError, match=rf"device={device!r} was requested but .* not available here"):
            resolve_device(device)


def test_onnx_providers_follow_the_device():
    from gan_pipelines.families.shadow.predict import onnx_providers as shadow_providers
    from gan_pipelines.onnx_runtime import onnx_providers

    assert shadow_providers is onnx_providers  # one helper, shared by the families
    gpu = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    cpu = ["AzureExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("auto", gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert onnx_providers("auto", cpu) == ["CPUExecutionProvider"]
    assert onnx_providers("cpu", gpu) == ["CPUExecutionProvider"]
    assert onnx_providers("cuda:1", gpu) == [("CUDAExecutionProvider", {"device_id": 1}), "CPUExecutionProvider"]
    with pytest.raises(ValueError, match=r"device 'cuda' was requested but this onnxruntime has no CUDAExecutionProvider"):
        onnx_providers("cuda", cpu)
    with pytest.raises(ValueError, match=r"device 'mps' is not understood by the onnx backend"):
        onnx_providers("mps", gpu)


def test_onnx_predictor_uses_the_requested_device(tmp_path, monkeypatch):
    import onnxruntime

    from gan_pipelines.families.paired.export import OnnxPairedPredictor, export_generator

    export_generator(_bundle("pix2pix", "pix2pix"), "pix2pix", tmp_path / "g.onnx", overwrite=False)
    assert "CUDAExecutionProvider" not in onnxruntime.get_available_providers()  # a CPU build of onnxruntime
    with pytest.raises(ValueError, match=r"device 'cuda' was requested but this onnxruntime has no CUDAExecutionProvider"):
        OnnxPairedPredictor(tmp_path / "g.onnx", device="cuda")
    predictor = OnnxPairedPredictor(tmp_path / "g.onnx", device="cpu")
    assert predictor.providers == ["CPUExecutionProvider"]
    assert predictor.predict(np.zeros((16, 16), np.uint8)).shape == (16, 16, 3)
    # an onnxruntime with CUDA: auto asks for it first, and a session that cannot start it is refused, not silent
    asked = []

    class Session(onnxruntime.InferenceSession):
        def __init__(self, path, sess_options=None, providers=None, **kwargs):
            asked.append(providers)
            super().__init__(path, sess_options=sess_options, providers=["CPUExecutionProvider"])

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(onnxruntime, "InferenceSession", Session)
    with pytest.raises(ValueError, match=r"device 'cuda' was requested but onnxruntime runs .*CPUExecutionProvider"):
        OnnxPairedPredictor(tmp_path / "g.onnx", device="cuda")
    assert asked[-1][0] == ("CUDAExecutionProvider", {"device_id": 0})
    predictor = OnnxPairedPredictor(tmp_path / "g.onnx", device="auto")  # auto: CPU is an allowed outcome
    assert asked[-1] == ["CUDAExecutionProvider", "CPUExecutionProvider"] and predictor.providers == ["CPUExecutionProvider"]


# ---------------------------------------------------------------------------------------------
# 14. the VGG19 term is on when its weights are on disk, and recorded as off when not
# ---------------------------------------------------------------------------------------------


def test_vgg19_term_trains_with_local_weights_and_is_recorded_off_without(tmp_path, monkeypatch, one_thread):
    """pix2pixHD's recipe for one epoch: with a VGG19 file (random weights, torchvision's layout)
    the term is in the generator loss (history ``train_vgg19`` > 0, ``loss_weights.vgg19`` 10);
    without weights it is off and the losses summary says so."""
    from torchvision.models.vgg import cfgs, make_layers

    from gan_pipelines.families.paired.nodes.report import losses_text, training_losses
    from gan_pipelines.families.paired.nodes.train import fit_generator

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    torch.manual_seed(0)
    path = tmp_path / "vgg19-test.pth"
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}, path)
    params = copy.deepcopy(RECIPES["pix2pixhd"])
    params["discriminator"] = _multiscale(2)
    params["vgg19"] = {"weights_path": str(path)}
    result, info = fit_generator(_arrays(), _arrays(), params, "pix2pixhd.train")
    assert info["vgg19_perceptual"] == f"loaded {path}" and info["loss_weights"]["vgg19"] == 10.0
    assert result.history["train_vgg19"].iloc[0] > 0
    assert training_losses(info)["off"] == {} and "vgg19 10" in losses_text(training_losses(info))

    params["vgg19"] = {"weights_path": str(tmp_path / "absent.pth")}
    result, info = fit_generator(_arrays(), _arrays(), params, "pix2pixhd.train")
    assert "vgg19" not in info["loss_weights"] and "train_vgg19" not in result.history
    assert info["vgg19_perceptual"].startswith("disabled: weights not found")
    assert losses_text(training_losses(info)).endswith("; OFF: vgg19 (weights not found)")
