"""<family>.ingest: the embedded two-domain data (rendered, seeded: ``families.unpaired.synthetic``)
or a user's folder or .zip in the CycleGAN layout (``families.unpaired.user_data``), validated
before anything is written; one image folder out (kinds A, B, A_labels, B_labels; splits train
and test) and a summary that every later stage reads (domains, classes, counts, what the data
cannot give)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.config import IngestParams

logger = logging.getLogger(__name__)


def ingest_unpaired_data(params: IngestParams, *, family: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return ``(raw, ingest_summary)`` for ``<family>.ingest``.

    ``raw``: ``{"<split>/<kind>/<name>.png": uint8 array}``, splits ``train`` (A and B from
    different scenes, different names) and ``test`` (a name holding both A and B is a hidden
    pair). ``ingest_summary`` (JSON-able): ``source``, ``pair`` (synthetic pair or None),
    ``domains`` {"A", "B"} in words, ``label_nc`` and ``class_names`` (None without class maps /
    names), ``label_colours`` (``labels_photo``: the colour of each class in domain A, else None),
    ``counts`` {"train": {"A", "B"}, "test": {"A", "B", "pairs"}}, ``test_pairs``,
    ``unavailable`` {metric: reason}, ``seconds``; plus the source's own facts (synthetic: seed,
    resolution, render time; folders: path, class-map folders, ``resized``). Raises ValueError
    (see the readers) naming ``<family>.ingest.<key>`` or listing every problem of a user's data."""
    section = f"{family}.ingest"
    params = IngestParams.parse(params, section)
    started = time.perf_counter()
    if params.source == "synthetic":
        from gan_pipelines.families.unpaired.synthetic import render_unpaired

        raw, summary = render_unpaired(params.synthetic, f"{section}.synthetic")
    else:
        raw, summary = _read_folders(params, family, section)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    counts = summary["counts"]
    logger.info("%s: %s data, train A %d / B %d, test A %d / B %d (%d hidden pairs), %d images in %.1f s", section,
                params.source if summary["pair"] is None else f"{params.source} {summary['pair']}",
                counts["train"]["A"], counts["train"]["B"], counts["test"]["A"], counts["test"]["B"],
                counts["test"]["pairs"], len(raw), summary["seconds"])
    for metric, reason in summary["unavailable"].items():
        logger.info("%s: %s unavailable: %s", section, metric, reason)
    return raw, summary


def _read_folders(params: IngestParams, family: str, section: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    from gan_pipelines.families.unpaired.user_data import read_unpaired_folder

    data = read_unpaired_folder(params.path, test_pairs=params.test_pairs, label_nc=params.label_nc, section=section)
    if not data.label_folders:
        logger.warning("%s: no class maps (<folder>_labels/ with %s.label_nc): the content metric of %s.evaluate is "
                       "unavailable", section, section, family)
    summary = {
        "source": "folders",
        "pair": None,
        "domains": {"A": f"the pictures of trainA/ and testA/ in {params.path}",
                    "B": f"the pictures of trainB/ and testB/ in {params.path}"},
        "label_nc": params.label_nc,
        "class_names": None,
        "label_colours": None,
        "counts": data.counts,
        "test_pairs": params.test_pairs,
        "unavailable": data.unavailable,
        "path": str(params.path),
        "label_folders": data.label_folders,
        "resized": data.resized,
    }
    return data.images, summary
