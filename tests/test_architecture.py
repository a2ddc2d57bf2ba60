"""The shape of the house: shared packages know no family, every family's datasets resolve through
the shared dataset factories, and a new family plugs in with one registry line."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from gan_pipelines import pipeline_registry

PACKAGE = Path(pipeline_registry.__file__).resolve().parent
SHARED_FILES = sorted(p for p in PACKAGE.rglob("*.py") if "families" not in p.relative_to(PACKAGE).parts)
# Image kinds that are plain words of the shared vocabulary (a "mask", a cast "shadow"; the
# unpaired families' domains "A" and "B", also an article and a letter), so they cannot be fenced
# off by name; the family-specific kinds can (A_labels).
GENERIC_WORDS = {"mask", "shadow", "A", "B"}


def _family_names(family: str) -> set[str]:
    """Names only one family may use: its image kinds, pipelines, datasets and parameter groups."""
    import importlib

    pipelines = pipeline_registry.family_pipelines(family, pipeline_registry.FAMILIES[family])
    names = {name for name in pipelines if "." in name}
    for pipeline in pipelines.values():
        names |= {d.removeprefix("params:") for d in pipeline.datasets() if d != "parameters"}
    module = importlib.import_module(pipeline_registry.FAMILIES[family])
    names |= set(module.KIND_TYPES) - GENERIC_WORDS
    # The pre-namespace spelling of the same datasets (shadow_raw, shadow_attention_checkpoint, ...).
    names |= {n.replace(".", "_") for n in names if n.startswith(f"{family}.")}
    names.discard(family)  # a whole-namespace parameter group (params:compare_label_to_photo); the registry names it
    return names


def test_shared_packages_import_no_family():
    offenders = []
    for path in SHARED_FILES:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            offenders += [f"{path.relative_to(PACKAGE)}:{node.lineno} imports {m}" for m in modules
                          if m.startswith("gan_pipelines.families")]
    assert not offenders, "\n".join(offenders)


def test_the_demo_is_reached_by_name_and_builds_on_nothing_else():
    """The demo page puts every family's predictors on one page, so it lives under families/ (it
    is no family: the registry names no namespace for it) and the CLI reaches it through the
    registry's module name; no family builds on it."""
    assert pipeline_registry.DEMO_MODULE == "gan_pipelines.families.demo"
    assert importlib_spec(pipeline_registry.DEMO_MODULE) is not None
    assert all(not module.startswith(pipeline_registry.DEMO_MODULE) for module in pipeline_registry.FAMILIES.values())
    assert "demo" not in _family_folders()
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "demo" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PACKAGE)}:{node.lineno} imports {m}" for m in modules
                          if m.startswith(pipeline_registry.DEMO_MODULE)]
    assert not offenders, "\n".join(offenders)


def importlib_spec(name: str):
    import importlib.util

    return importlib.util.find_spec(name)


@pytest.mark.parametrize("family", sorted(pipeline_registry.FAMILIES))
def test_shared_packages_use_none_of_a_familys_names(family):
    names = _family_names(family)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w])")
    offenders = []
    for path in SHARED_FILES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = pattern.search(line)
            if match:
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {match.group(0)!r} in {line.strip()!r}")
    assert not offenders, "\n".join(offenders)


def test_fence_catches_a_family_name(tmp_path, monkeypatch):
    """The fence itself can fail: a shared file that says `robject` is caught."""
    names = _family_names("shadow")
    assert {"noshadow", "robject", "rshadow", "shadow_mask", "shadow.raw", "shadow.ingest", "shadow_raw"} <= names
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in names) + r")(?![\w])")
    assert pattern.search("masks = batch['robject']")
    assert pattern.search('catalog.load("shadow.raw")')
    assert not pattern.search("the focus object's cast shadow and its mask")


FAMILIES_DIR = PACKAGE / "families"
# The file every family folder puts each role in (docs/architecture.md, "Family folders").
ROLE_FILES = ("networks.py", "tasks.py", "bundles.py", "config.py")
# Experiment folders train no model of their own (segsynth trains the paired generators and the
# shared segmenter): no networks, tasks or bundles, no predict or export stage.
EXPERIMENT_FOLDERS = ("segsynth",)
EXPERIMENT_ROLE_FILES = ("config.py",)


def _family_folders() -> list[str]:
    """The family folders the registry names (``families/<folder>/...``)."""
    return sorted({module.split(".")[2] for module in pipeline_registry.FAMILIES.values()
                   if module.startswith("gan_pipelines.families.")})


def _stage_node_modules(folder: str) -> dict[str, set[str]]:
    """stage -> the modules of its nodes' functions, over every namespace the registry builds
    from ``families/<folder>``. A namespace with no stages (only its whole pipeline, e.g.
    ``compare_label_to_photo`` from ``compare_pipeline.py``) is one stage named after its pipeline
    module less ``_pipeline`` (``compare``)."""
    import importlib

    stages: dict[str, set[str]] = {}
    for namespace, module_name in pipeline_registry.FAMILIES.items():
        if not module_name.startswith(f"gan_pipelines.families.{folder}."):
            continue
        pipelines = importlib.import_module(module_name).create_pipelines(namespace)
        named = {stage: pipeline for stage, pipeline in pipelines.items() if stage}
        if not named:
            named = {module_name.rsplit(".", 1)[1].removesuffix("_pipeline"): pipelines[""]}
        for stage, pipeline in named.items():
            stages.setdefault(stage, set()).update(
                getattr(node.func, "__module__", None) or node.func.func.__module__ for node in pipeline.nodes
            )
    return stages


def _misnamed_node_modules(folder: str, node_files: set[str], stages: dict[str, set[str]]) -> list[str]:
    """What breaks "``nodes/`` holds one module per stage, named after the stage": a file of
    ``nodes/`` named after no stage, and a stage whose nodes are not (all) in ``nodes/<stage>.py``."""
    problems = [f"families/{folder}/nodes/{name}.py is named after no stage ({', '.join(sorted(stages))})"
                for name in sorted(node_files - set(stages))]
    for stage, modules in sorted(stages.items()):
        expected = f"gan_pipelines.families.{folder}.nodes.{stage}"
        if modules != {expected}:
            problems.append(f"stage {stage!r}: its nodes come from {', '.join(sorted(modules))}, not {expected}")
    return problems


def test_every_family_folder_is_checked():
    assert _family_folders() == ["paired", "segsynth", "shadow", "unpaired"]


@pytest.mark.parametrize("folder", _family_folders())
def test_node_modules_are_named_after_their_stage(folder):
    node_files = {p.stem for p in (FAMILIES_DIR / folder / "nodes").glob("*.py") if p.stem != "__init__"}
    stages = _stage_node_modules(folder)
    required = {"ingest", "preprocess", "report"} | (set() if folder in EXPERIMENT_FOLDERS else {"evaluate", "predict", "export"})
    assert required <= set(stages)
    assert _misnamed_node_modules(folder, node_files, stages) == []
    assert node_files == set(stages)


def test_node_module_fence_catches_a_misnamed_module():
    """The fence itself can fail: the old paired layout (the train_judge node in nodes/judge.py,
    the judge's training logic in nodes/train_judge.py) is caught, twice."""
    stages = {"train": {"gan_pipelines.families.paired.nodes.train"},
              "train_judge": {"gan_pipelines.families.paired.nodes.judge"}}
    problems = _misnamed_node_modules("paired", {"train", "judge", "train_judge"}, stages)
    assert problems == [
        "families/paired/nodes/judge.py is named after no stage (train, train_judge)",
        "stage 'train_judge': its nodes come from gan_pipelines.families.paired.nodes.judge, not "
        "gan_pipelines.families.paired.nodes.train_judge",
    ]


@pytest.mark.parametrize("folder", _family_folders())
def test_family_folders_put_each_role_in_the_same_file(folder):
    roles = EXPERIMENT_ROLE_FILES if folder in EXPERIMENT_FOLDERS else ROLE_FILES
    present = {name for name in roles if (FAMILIES_DIR / folder / name).is_file()}
    assert sorted(present) == sorted(roles), f"families/{folder} lacks {sorted(set(roles) - present)}"
    assert (FAMILIES_DIR / folder / "pipeline.py").is_file()
    assert (FAMILIES_DIR / folder / "nodes").is_dir()


def _project_catalog(project):
    from kedro.framework.session import KedroSession

    with KedroSession.create(project_path=project) as session:
        return session.load_context().catalog


def test_no_registered_dataset_falls_back_to_memory(project):
    from kedro.io import MemoryDataset

    catalog = _project_catalog(project)
    unresolved = []
    for name, pipeline in pipeline_registry.register_pipelines().items():
        for dataset in sorted(pipeline.datasets()):
            if dataset == "parameters" or dataset.startswith("params:"):
                continue
            resolved = catalog.get(dataset)
            if resolved is None or isinstance(resolved, MemoryDataset):
                unresolved.append(f"{name}: {dataset}")
    assert not unresolved, "datasets without a persisted catalog entry:\n" + "\n".join(unresolved)
    assert catalog.get("shadow.attention_checkpoint")._filepath.as_posix().endswith("data/06_models/shadow_attention.pt")


DUMMY_FAMILY = '''
"""A two-node family that exists only for the registry test."""
import numpy as np
from kedro.pipeline import Node, Pipeline

from gan_pipelines.stages.preprocess import preprocess_image_folder


def make_images(params):
    size = params["size"]
    photo = np.full((size, size, 3), 200, np.uint8)
    labels = np.zeros((size, size), np.uint8)
    labels[: size // 2] = 3
    return {f"{split}/{kind}/{name}.png": image for split, names in (("train", "abc"), ("test", "d"))
            for name in names for kind, image in (("photo", photo), ("labels", labels))}


def preprocess(raw, params):
    return preprocess_image_folder(raw, {"photo": "rgb", "labels": "labels"}, params,
                                   section="dummy.preprocess", multiple=8)


KIND_TYPES = {"photo": "rgb", "labels": "labels"}


def create_pipelines(namespace):
    assert namespace == "dummy"
    stages = {
        "ingest": Pipeline([Node(make_images, "params:ingest", "raw", name="make_images")], namespace="dummy"),
        "preprocess": Pipeline([Node(preprocess, ["raw", "params:preprocess"], ["model_input", "preprocess_summary"],
                                     name="preprocess")], namespace="dummy"),
    }
    stages[""] = stages["ingest"] + stages["preprocess"]
    return stages
'''


def test_a_new_family_needs_only_a_registry_line(project, monkeypatch, kedro_run):
    from kedro.framework.startup import bootstrap_project

    from gan_pipelines.images import read_image

    module_dir = project / "dummy_family_module"
    module_dir.mkdir()
    (module_dir / "dummy_family.py").write_text(DUMMY_FAMILY)
    monkeypatch.syspath_prepend(str(module_dir))
    monkeypatch.setitem(pipeline_registry.FAMILIES, "dummy", "dummy_family")
    bootstrap_project(project)  # reloads the registry

    pipelines = pipeline_registry.register_pipelines()
    assert {"dummy", "dummy.ingest", "dummy.preprocess"} <= set(pipelines)
    assert {n.name for n in pipelines["dummy"].nodes} == {"dummy.make_images", "dummy.preprocess"}
    catalog = _project_catalog(project)
    assert type(catalog.get("dummy.raw")).__name__ == "VersionedImageFolderDataset"

    params = {"dummy": {"ingest": {"size": 20}, "preprocess": {"resolution": 16, "val_fraction": 0.4}}}
    kedro_run(project, "dummy", params)
    (raw_version,) = (project / "data/01_raw/dummy_raw").iterdir()
    assert (raw_version / "dummy_raw/train/photo/a.png").is_file()
    (input_version,) = (project / "data/05_model_input/dummy").iterdir()
    labels = sorted((input_version / "dummy").glob("*/labels/*.png"))
    assert len(labels) == 4
    resized = read_image(labels[0])
    assert resized.shape == (16, 16) and set(resized.ravel().tolist()) == {0, 3}  # labels, never binarised
    assert sys.modules["dummy_family"]
