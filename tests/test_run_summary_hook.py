"""The run summary hook (gan_pipelines.hooks.RunSummaryHooks, registered in settings.HOOKS): the
end of a run names the files the run actually wrote, with their version folders, and says which
optional parts were off only when they were."""

import logging
from pathlib import Path

import pytest

from gan_pipelines.hooks import RunSummaryHooks, off_parts
from gan_pipelines.settings import HOOKS

TINY = {
    "ingest": {"synthetic": {"resolution": 32, "num_train": 8, "num_test": 2}},
    "preprocess": {"resolution": 32, "val_fraction": 0.25},
    "train": {"batch_size": 4, "augmentation": None, "model": {"num_downs": 5, "ngf": 8},
              "training": {"epochs": 1, "lr_constant_epochs": 0, "progress": False, "cpu_threads": 1}},
}


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def clear(self):
        self.records = []


@pytest.fixture
def hook_log(monkeypatch):
    """The hook's log records, on a logger of the test's own: Kedro's logging setup (dictConfig of
    conf/logging.yml) resets the handlers of the project's loggers when a session starts."""
    import gan_pipelines.hooks

    logger, handler = logging.Logger("run_summary_hook_test", logging.INFO), _Records()
    logger.addHandler(handler)
    monkeypatch.setattr(gan_pipelines.hooks, "logger", logger)
    return handler


def _summary(log):
    records = log.records
    written = [r.getMessage() for r in records if r.getMessage().startswith("Run finished")]
    off = [r.getMessage() for r in records if r.getMessage().startswith("Off in this run")]
    assert len(written) == 1, [r.getMessage() for r in records]
    lines = written[0].splitlines()[1:]
    return {line.split(": ", 1)[0].split()[-1]: line.split(": ", 1)[1] for line in lines}, off


def test_registered():
    assert any(isinstance(hook, RunSummaryHooks) for hook in HOOKS)


def test_names_the_files_the_run_wrote_and_only_those(tmp_path, kedro_run, hook_log):
    from conftest import copy_project

    project = copy_project(tmp_path / "p")
    kedro_run(project, "pix2pix.ingest", {"pix2pix": TINY})
    kedro_run(project, "pix2pix.preprocess", {"pix2pix": TINY})
    hook_log.clear()
    kedro_run(project, "pix2pix.train", {"pix2pix": TINY})
    written, off = _summary(hook_log)
    # one stage: only what train wrote
    assert set(written) == {"pix2pix.generator_checkpoint", "pix2pix.generator_history"}
    checkpoint = Path(written["pix2pix.generator_checkpoint"])
    assert checkpoint.is_file() and checkpoint.name == "pix2pix_generator.pt"
    versions = list((project / "data" / "06_models" / "pix2pix_generator.pt").iterdir())
    assert [checkpoint.parent] == versions  # the version folder the run created
    assert Path(written["pix2pix.generator_history"]) == project / "data" / "08_reporting" / "pix2pix_generator_history.csv"
    assert off == []  # pix2pix's recipe has no optional weights (perceptual weight 0 is not "off")
    last = hook_log.records[-1].getMessage()
    assert last.splitlines()[-1].strip().startswith("checkpoint  pix2pix.generator_checkpoint:")


def test_missing_vgg16_weights_are_reported_off(tmp_path, kedro_run, hook_log, monkeypatch):
    """Sketch2Color's VGG16 feature loss with no weights anywhere (an empty torch hub): the
    checkpoint records it disabled and the run's end says so."""
    from conftest import copy_project

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty_torch_home"))
    project = copy_project(tmp_path / "p")
    params = {"sketch2color": {**TINY, "train_plain": TINY["train"]}}
    kedro_run(project, "sketch2color.ingest", params)
    kedro_run(project, "sketch2color.preprocess", params)
    hook_log.clear()
    kedro_run(project, "sketch2color.train", params)
    written, off = _summary(hook_log)
    assert {"sketch2color.generator_checkpoint", "sketch2color.plain_generator_checkpoint"} <= set(written)
    assert len(off) == 1
    lines = off[0].splitlines()[1:]
    assert len(lines) == 1  # the plain comparison model has the term at weight 0: not "off"
    assert lines[0].startswith("  - sketch2color.generator_checkpoint: VGG16 perceptual loss off (disabled: weights not found")
    assert "empty_torch_home" in lines[0] and "the generator trained without that term" in lines[0]


@pytest.mark.parametrize("meta, expected", [
    ({"vgg19_perceptual": "disabled: weights not found (looked in /hub/vgg19-dcbb9e9d.pth)"}, ["VGG19 perceptual loss off"]),
    ({"vgg19_perceptual": "loaded /hub/vgg19-dcbb9e9d.pth"}, []),
    ({"perceptual": "off (loss_weights.perceptual is 0)"}, []),
    ({"weights_status": "random: ImageNet weights for encoder 'resnet18' not found locally (looked in: /x)"},
     ["ImageNet encoder weights missing"]),
    ({"weights_status": "random init (encoder_weights: null)"}, []),
    ({"unavailable": {"fid_inception": "no Inception weights (looked in /hub)", "kid_inception": "same",
                      "real.judge_fd": "the real test pictures are the reference set of this distance"}},
     ["FID/KID are null (no Inception weights)"]),
    ({"unavailable": {"lpips": "no LPIPS weights"}}, ["LPIPS is null"]),
    ({"unavailable": {}}, []),
])
def test_off_parts_from_what_the_outputs_record(meta, expected):
    lines = off_parts("x.metrics", {"meta": meta})
    assert len(lines) == len(expected)
    for line, what in zip(lines, expected):
        assert line.startswith(f"x.metrics: {what}")


def test_metrics_with_null_fid_end_the_run_with_an_off_line(tmp_path, hook_log):
    """A saved metrics dict (as the paired evaluation writes it) through the hook itself."""
    from kedro.io import DataCatalog
    from kedro_datasets.json import JSONDataset

    path = tmp_path / "m.json"
    catalog = DataCatalog({"pix2pix.metrics": JSONDataset(filepath=str(path))})
    hook = RunSummaryHooks()
    hook.before_pipeline_run(run_params={}, pipeline=None, catalog=catalog)
    data = {"model": {"fid_inception": None}, "meta": {"unavailable": {"fid_inception": "Inception weights not found",
                                                                       "kid_inception": "Inception weights not found"}}}
    catalog.save("pix2pix.metrics", data)
    hook.after_dataset_saved(dataset_name="pix2pix.metrics", data=data, node=None)
    hook.after_pipeline_run(run_params={"pipeline_names": ["pix2pix.evaluate"]}, run_result={}, pipeline=None, catalog=catalog)
    written, off = _summary(hook_log)
    assert written == {"pix2pix.metrics": str(path)}
    assert off and "FID/KID are null (no Inception weights): Inception weights not found" in off[0]
    assert "judge_fd / judge_kid" in off[0]


def test_an_export_of_several_files_names_each_file(tmp_path, hook_log):
    """An export summary that lists ``files`` (the unpaired families: one ONNX file per direction
    beside ``output_path``, which itself is not written) is named by those files."""
    from kedro.io import DataCatalog
    from kedro_datasets.json import JSONDataset

    path = tmp_path / "s.json"
    catalog = DataCatalog({"cyclegan.export_summary": JSONDataset(filepath=str(path))})
    hook = RunSummaryHooks()
    hook.before_pipeline_run(run_params={}, pipeline=None, catalog=catalog)
    data = {"output_path": "m/g.onnx", "files": {"a2b": "m/g_a2b.onnx", "b2a": "m/g_b2a.onnx"}}
    catalog.save("cyclegan.export_summary", data)
    hook.after_dataset_saved(dataset_name="cyclegan.export_summary", data=data, node=None)
    hook.after_pipeline_run(run_params={"pipeline_names": ["cyclegan.export"]}, run_result={}, pipeline=None,
                            catalog=catalog)
    written, _ = _summary(hook_log)
    assert written == {"cyclegan.export_summary": f"{path} -> m/g_a2b.onnx, m/g_b2a.onnx"}
