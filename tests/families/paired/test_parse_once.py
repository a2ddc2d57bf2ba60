"""Each stage's parameters are parsed once into their typed model; the code below reads the
validated values and never runs the key checker on the stage's keys again."""

import numpy as np

import gan_pipelines.params as params_module
from gan_pipelines.families.paired.config import TrainParams

TRAIN = {"input_kind": "label_map", "batch_size": 2, "augmentation": None,
         "model": {"type": "unet", "num_downs": 3, "ngf": 4}, "discriminator": {"type": "patchgan", "ndf": 4, "n_layers": 1},
         "training": {"epochs": 1, "device": "cpu", "precision": "fp32", "progress": False, "cpu_threads": 1,
                      "scheduler": "none", "monitor": None, "sample_every": 1000}}
INGEST = {"source": "aligned", "path": "x", "label_nc": 3}


def _model_input():
    labels = np.random.default_rng(0).integers(0, 3, (4, 32, 32)).astype(np.uint8)
    pictures = np.random.default_rng(1).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    return {f"{split}/{kind}/s{k}.png": (lambda a=array[k]: a) for split in ("train", "val") for k in range(2)
            for kind, array in (("label_map", labels), ("picture", pictures))}


def count_checks(monkeypatch, model):
    """``(sections, parses)``, filled while the test runs: the section of every
    ``check_known_keys`` call in gan_pipelines, and of every parse by ``model`` (a StageParams)."""
    import sys

    sections, parses = [], []
    original = params_module.check_known_keys

    def counting(params, allowed, section):
        sections.append(section)
        return original(params, allowed, section)

    for name, loaded in list(sys.modules.items()):
        if name.startswith("gan_pipelines") and getattr(loaded, "check_known_keys", None) is original:
            monkeypatch.setattr(loaded, "check_known_keys", counting)
    validate = params_module.StageParams.model_validate.__func__

    def counting_validate(cls, obj, *args, **kwargs):
        if issubclass(cls, model):
            parses.append(cls.section)
        return validate(cls, obj, *args, **kwargs)

    monkeypatch.setattr(params_module.StageParams, "model_validate", classmethod(counting_validate))
    return sections, parses


def test_the_train_node_parses_its_parameters_once_and_never_rechecks_their_keys(monkeypatch, tmp_path):
    import sys

    import torch

    from gan_pipelines.families.paired.nodes import train as module

    monkeypatch.chdir(tmp_path)  # the stage's training state and TensorBoard folder
    sections, parses = count_checks(monkeypatch, TrainParams)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        bundle, _ = module.train_generator(_model_input(), TRAIN, INGEST, family="pix2pix")
    finally:
        torch.set_num_threads(threads)
    assert bundle["model_config"]["input"]["label_nc"] == 3
    assert [s for s in sections if s == "pix2pix.train" or s.startswith("pix2pix.train.")] == []
    assert parses == ["pix2pix.train"]


def test_the_judge_node_parses_its_parameters_once_and_never_rechecks_their_keys(monkeypatch, tmp_path):
    import sys

    from gan_pipelines.families.paired.config import TrainJudgeParams
    from gan_pipelines.families.paired.nodes.train_judge import train_paired_judge

    from .judge_data import JUDGE_PARAMS, make_folder

    monkeypatch.chdir(tmp_path)
    sections, parses = count_checks(monkeypatch, TrainJudgeParams)
    params = {k: v for k, v in JUDGE_PARAMS.items() if k not in ("num_classes", "ignore_index")}
    params = {**params, "augmentation": {"hflip_p": 0.5, "colour_jitter": {"hue": 0.1}},
              "training": {**params["training"], "epochs": 1}}
    bundle, _ = train_paired_judge(make_folder({"train": 4, "val": 2}), params, {"source": "aligned", "path": "x",
                                                                                "label_nc": 3}, family="pix2pix")
    assert bundle["meta"]["num_classes"] == 3
    assert [s for s in sections if s.startswith("pix2pix.train_judge")] == []
    assert parses == ["pix2pix.train_judge"]
