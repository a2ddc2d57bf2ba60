"""Kedro hooks of the project (registered in ``settings.HOOKS``).

:class:`RunSummaryHooks` ends every run (``kedro run``, ``gan-pipelines``) with log lines that say
where its outputs went and which optional parts were off:

```
Run finished (pipelines: <family>.train). Written:
  checkpoint  <family>.generator_checkpoint: /abs/data/06_models/<family>_generator.pt/<version>/<family>_generator.pt
  metrics     <family>.metrics: /abs/data/08_reporting/<family>_metrics.json
  report      <family>.report_html: /abs/data/08_reporting/<family>_report.html
Off in this run:
  - <family>.generator_checkpoint: VGG19 perceptual loss off (disabled: weights not found (looked in ...)). ...
```

Paths are the resolved save paths of the datasets the run saved (a versioned dataset's path
includes the version folder it was written to), never paths assumed here; a run of one stage
names only what that stage wrote. The "off" lines come from what the run's own outputs record:
the checkpoint ``meta`` statuses written by the training nodes (``perceptual``, ``vgg19_perceptual``,
``weights_status``) and the metrics ``meta["unavailable"]`` written by the evaluation
(``fid_inception``, ``kid_inception``, ``lpips``). They are absent when nothing was off.

Before a run: :class:`ParameterCheckHooks` checks the parameter pairs that span two stages, and
:class:`OtherNodeHooks` makes the run of node K > 0 of a training across machines save nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kedro.framework.hooks import hook_impl

logger = logging.getLogger(__name__)

# What a saved dataset is, by the last part of its name (after the family namespace); shown
# in this order, the most looked-for last so it ends the log.
ROLES = (
    ("predictions", lambda name: name == "predict_summary"),
    ("onnx export", lambda name: name == "export_summary"),
    ("checkpoint", lambda name: name.endswith("_checkpoint")),
    ("metrics", lambda name: name == "metrics"),
    ("report", lambda name: name in ("report_html", "report_summary")),
)
OTHER_ROLE = "output"

# Checkpoint meta statuses (written by the training nodes) that mean an optional part was off:
# (meta key, status prefix, what was off, what that changes).
CHECKPOINT_OFF = (
    ("perceptual", "disabled", "VGG16 perceptual loss off",
     "the generator trained without that term (its weight counted as 0): expect blurrier textures; scores "
     "are not comparable with a run that had it. Put the weights where the status says it looked to turn it on"),
    ("vgg19_perceptual", "disabled", "VGG19 perceptual loss off",
     "the generator trained without pix2pixHD/SPADE's VGG feature loss (adversarial + feature matching only): "
     "expect less detailed textures; scores are not comparable with a run that had it. Put the weights where "
     "the status says it looked to turn it on"),
    ("weights_status", "random:", "ImageNet encoder weights missing",
     "the encoder started from random weights instead of ImageNet ones: it needs more epochs to reach the "
     "same quality"),
)
# Metrics meta["unavailable"] keys (written by the evaluation) and what their absence changes.
METRICS_OFF = (
    (("fid_inception", "kid_inception"), "FID/KID are null (no Inception weights)",
     "compare models on judge_fd / judge_kid (the judge's own feature space) instead; never read the nulls as 0"),
    (("lpips",), "LPIPS is null (no LPIPS/VGG weights)",
     "per-pixel l1 / psnr / ssim remain; diversity, where measured, uses L1 instead of LPIPS"),
)


def dataset_path(dataset: Any, version: str | None) -> str | None:
    """The file or folder of ``dataset`` (a Kedro dataset with a ``_filepath``), inside the
    ``version`` folder when the dataset is versioned; ``<protocol>://...`` for remote storage.
    None for datasets without a path (memory datasets, parameters)."""
    from kedro.io.core import AbstractVersionedDataset, get_filepath_str

    filepath = getattr(dataset, "_filepath", None)
    if filepath is None:
        return None
    if isinstance(dataset, AbstractVersionedDataset) and getattr(dataset, "_version", None) is not None and version:
        filepath = dataset._get_versioned_path(version)
    protocol = getattr(dataset, "_protocol", None) or "file"
    path = get_filepath_str(filepath, protocol)
    return path if protocol == "file" else f"{protocol}://{path}"


def saved_path(dataset: Any) -> str | None:
    """Where ``dataset`` saved in this run: its save version's path when versioned."""
    version = dataset.resolve_save_version() if hasattr(dataset, "resolve_save_version") else None
    return dataset_path(dataset, version)


def latest_path(dataset: Any) -> str | None:
    """Where ``dataset`` loads from: its latest (or pinned) version's path when versioned.
    Raises kedro's ``VersionNotFoundError`` when a versioned dataset has no version yet."""
    version = dataset.resolve_load_version() if hasattr(dataset, "resolve_load_version") else None
    return dataset_path(dataset, version)


def role_of(dataset_name: str) -> str:
    """The role of a saved dataset (see :data:`ROLES`) from its name, e.g. ``<family>.metrics`` ->
    ``metrics``; :data:`OTHER_ROLE` for the rest."""
    short = dataset_name.split("@")[0].rsplit(".", 1)[-1]
    return next((role for role, matches in ROLES if matches(short)), OTHER_ROLE)


def off_parts(dataset_name: str, data: Any) -> list[str]:
    """One line per optional part that ``data`` (a saved checkpoint bundle or metrics dict)
    records as off: ``"<dataset>: <what> (<recorded status>). <what that changes>."``; [] when
    nothing was off or ``data`` records nothing."""
    if not isinstance(data, Mapping) or not isinstance(data.get("meta"), Mapping):
        return []
    meta = data["meta"]
    lines = []
    for key, prefix, what, consequence in CHECKPOINT_OFF:
        status = meta.get(key)
        if isinstance(status, str) and status.startswith(prefix):
            lines.append(f"{dataset_name}: {what} ({status}). {consequence}.")
    unavailable = meta.get("unavailable")
    if isinstance(unavailable, Mapping):
        for keys, what, consequence in METRICS_OFF:
            reasons = [str(unavailable[key]) for key in keys if key in unavailable]
            if reasons:
                lines.append(f"{dataset_name}: {what}: {reasons[0]}. {consequence}.")
    return lines


@dataclass
class SavedOutput:
    name: str
    role: str
    path: str
    note: str = ""


class RunSummaryHooks:
    """Collects what a run saves and logs, at its end, where each output went and what was off.

    Only small facts are kept from the saved data (paths, statuses), never the data itself."""

    def __init__(self) -> None:
        self._saved: list[tuple[str, str]] = []  # (dataset name, note)
        self._off: list[str] = []

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._saved, self._off = [], []

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        note = ""
        if isinstance(data, Mapping):
            # predict / export summaries name what they wrote outside the catalog
            written = data.get("output_dir") or data.get("output_path") or data.get("path")
            files = data.get("files")  # several files beside output_path (one ONNX file per direction)
            if isinstance(files, Mapping) and files and all(isinstance(f, str) for f in files.values()):
                written = ", ".join(files.values())
            if isinstance(written, str) and role_of(dataset_name) in ("predictions", "onnx export"):
                note = f" -> {written}"
        self._saved.append((dataset_name, note))
        self._off.extend(off_parts(dataset_name, data))

    @hook_impl
    def after_pipeline_run(self, run_params: dict[str, Any], run_result: Any, pipeline: Any, catalog: Any) -> None:
        outputs = self.saved_outputs(catalog)
        pipelines = ", ".join(run_params.get("pipeline_names") or ["__default__"])
        if not outputs:
            logger.info("Run finished (pipelines: %s); it saved no file.", pipelines)
        else:
            order = [role for role, _ in ROLES]
            outputs.sort(key=lambda o: (-1 if o.role == OTHER_ROLE else order.index(o.role)))
            width = max(len(o.role) for o in outputs)
            lines = [f"  {o.role:<{width}}  {o.name}: {o.path}{o.note}" for o in outputs]
            logger.info("Run finished (pipelines: %s). Written:\n%s", pipelines, "\n".join(lines))
        if self._off:
            logger.warning("Off in this run:\n%s", "\n".join(f"  - {line}" for line in self._off))
        self._saved, self._off = [], []

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        self._saved, self._off = [], []

    def saved_outputs(self, catalog: Any) -> list[SavedOutput]:
        """The saved datasets that have a path, in save order, each with its resolved save path."""
        outputs = []
        for name, note in self._saved:
            dataset = catalog.get(name) if catalog is not None else None
            path = saved_path(dataset) if dataset is not None else None
            if path is not None:
                outputs.append(SavedOutput(name, role_of(name), path, note))
        return outputs


class ParameterCheckHooks:
    """Checks the parameter pairs that span two stages (e.g. ``<family>.preprocess.resolution``
    against ``<family>.train.augmentation.crop_size``) before any node of a run starts, so a
    late stage's bad value fails in seconds instead of after earlier stages have trained.
    Single-stage checks (unknown keys, types, ranges) are Kedro's own, from the typed node
    inputs; this adds what no one stage can see. Raises
    :class:`gan_pipelines.params.ParameterError` naming both keys."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        from gan_pipelines.params import check_run_parameters  # pydantic models; kept out of import time

        check_run_parameters(pipeline, catalog)


class OtherNodeHooks:
    """Node K > 0 of a training across machines saves nothing (see
    :mod:`gan_pipelines.training.distributed`): when a ``training`` block that the run reads has
    ``nodes`` > 1 and ``node_rank`` > 0, every dataset the pipeline writes is replaced, before any
    node runs, by a :class:`~gan_pipelines.datasets.NotSavedDataset` (saving to it only logs), the
    hooks of installed Kedro plugins are switched off for the run (kedro-viz would write its run
    statistics to ``.viz/`` at the end), and the log says so. Node 0 writes the checkpoint, the
    history, the training state and TensorBoard, so the machines may share one project folder."""

    def __init__(self) -> None:
        self._hook_manager: Any = None

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        # The run's plugin manager (Kedro keeps it on the context; no public accessor).
        self._hook_manager = getattr(context, "_hook_manager", None)

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Any, catalog: Any) -> None:
        from gan_pipelines.params import other_node_trainings

        found = other_node_trainings(pipeline, catalog)
        if not found:
            return
        from gan_pipelines.datasets.not_saved import NotSavedDataset

        where = ", ".join(f"{key}.node_rank={rank} of nodes={nodes}" for key, rank, nodes in found)
        outputs = sorted(pipeline.all_outputs())
        for name in outputs:
            catalog[name] = NotSavedDataset(name=name, reason=f"{where}; node 0 saves")
        plugins = []
        if self._hook_manager is not None:
            for plugin, dist in self._hook_manager.list_plugin_distinfo():  # entry-point plugins only
                self._hook_manager.unregister(plugin=plugin)
                plugins.append(dist.project_name)
        logger.info("This run saves nothing (%s): it trains together with node 0, which writes the checkpoint, "
                    "the history, the training state and TensorBoard. Not saved here: %s. Kedro plugin hooks off "
                    "for this run: %s.", where, ", ".join(outputs) or "(no outputs)",
                    ", ".join(sorted(set(plugins))) or "none installed")
