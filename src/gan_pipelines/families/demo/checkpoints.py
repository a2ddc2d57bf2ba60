"""Which trained model each demo tab uses: the latest checkpoint of each family, found through
the project's Kedro catalog (the versioned ``<family>.<net>_checkpoint`` datasets the predict
pipelines load), exactly as ``kedro run --pipelines <family>.predict`` would pick it.

Nothing is written: the catalog is only read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Tab -> families it offers, in the order shown. Label -> photo: the paired families, then the
# unpaired models trained on label pictures -> photos (their A -> B direction).
SHADOW_FAMILY = "shadow"
PAIRED_LABEL_FAMILIES = ("pix2pix", "pix2pixhd", "spade", "spade_vae")
UNPAIRED_LABEL_FAMILIES = ("cyclegan_labels", "ugatit_labels", "munit_labels")
LABEL_TO_PHOTO_FAMILIES = PAIRED_LABEL_FAMILIES + UNPAIRED_LABEL_FAMILIES
SKETCH_FAMILIES = ("sketch2color",)
# The networks each family's predictor needs, as catalog datasets ``<family>.<net>_checkpoint``.
NETWORKS = {SHADOW_FAMILY: ("attention", "generator")}


def train_command(family: str) -> str:
    """The command that trains ``family`` (what an untrained tab tells the user to run)."""
    return f"kedro run --pipeline {family}"


@dataclass
class TrainedModel:
    """One family's checkpoint as the demo found it.

    ``version``: the Kedro version (UTC timestamp folder) of the generator checkpoint, None when
    the family is not trained; ``trained_at`` and ``resolution`` from the checkpoint's ``meta``;
    ``predictor``: a ready predictor (``ShadowPredictor`` / ``PairedPredictor`` /
    ``UnpairedPredictor`` for the unpaired label -> photo namespaces), None when
    untrained or unloadable (``problem`` then says why)."""

    family: str
    version: str | None = None
    trained_at: str | None = None
    resolution: int | None = None
    predictor: Any = None
    problem: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def trained(self) -> bool:
        return self.predictor is not None

    def describe(self) -> str:
        """One markdown line: family, version, training date and resolution, or how to train it."""
        if self.predictor is None:
            why = self.problem or "not trained yet"
            return f"**{self.family}**: {why}. Train it with `{train_command(self.family)}`, then restart the demo."
        return (f"**{self.family}**: checkpoint version `{self.version}`, trained {self.trained_at}, "
                f"resolution {self.resolution} px")


def _meta(bundle: Any) -> Mapping[str, Any]:
    meta = bundle.get("meta") if isinstance(bundle, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


def _load(catalog: Any, name: str) -> tuple[Any, str | None]:
    """``(bundle, version)`` of the catalog dataset ``name``'s latest version; ``(None, None)``
    when it has no saved version."""
    from kedro.io.core import VersionNotFoundError

    dataset = catalog.get(name)
    if dataset is None:
        return None, None
    try:
        version = dataset.resolve_load_version() if hasattr(dataset, "resolve_load_version") else None
    except VersionNotFoundError:
        return None, None
    if not dataset.exists():
        return None, None
    return dataset.load(), version


def find_models(project: str | Path, env: str | None = None, device: str = "cpu",
                families: tuple[str, ...] | None = None) -> dict[str, TrainedModel]:
    """family -> :class:`TrainedModel` for the shadow, label -> photo and sketch families of the
    Kedro project at ``project`` (its catalog under ``env``). A family without a saved checkpoint
    is returned untrained; one whose checkpoint cannot be used gets ``problem`` (logged)."""
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from gan_pipelines.families.paired.predict import PairedPredictor
    from gan_pipelines.families.shadow.predict import ShadowPredictor
    from gan_pipelines.families.unpaired.predict import UnpairedPredictor

    project = Path(project).resolve()
    families = families or (SHADOW_FAMILY, *LABEL_TO_PHOTO_FAMILIES, *SKETCH_FAMILIES)
    bootstrap_project(project)
    models = {}
    with KedroSession.create(project_path=project, env=env) as session:
        catalog = session.load_context().catalog
        for family in families:
            model = TrainedModel(family)
            models[family] = model
            nets = NETWORKS.get(family, ("generator",))
            try:
                loaded = {net: _load(catalog, f"{family}.{net}_checkpoint") for net in nets}
                if any(bundle is None for bundle, _ in loaded.values()):
                    continue
                generator, model.version = loaded["generator"]
                meta = _meta(generator)
                model.trained_at = meta.get("trained_at", "at an unknown time")
                if family == SHADOW_FAMILY:
                    model.predictor = ShadowPredictor(loaded["attention"][0], generator, device=device)
                    model.resolution = int(model.predictor.resolution)
                elif family in UNPAIRED_LABEL_FAMILIES:
                    model.predictor = UnpairedPredictor(generator, family, device=device)
                    model.resolution = model.predictor.resolution or None
                else:
                    model.predictor = PairedPredictor(generator, family, device=device)
                    model.resolution = model.predictor.resolution or None
            except Exception as exc:  # a broken checkpoint disables its tab, never the demo
                model.predictor = None
                model.problem = f"its checkpoint {model.version} cannot be used ({type(exc).__name__}: {exc})"
                logger.warning("demo: %s: %s", family, model.problem)
    return models
