"""segsynth.experiment: every arm of every paired seed (:mod:`gan_pipelines.families.segsynth.experiment`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from gan_pipelines.families.paired.config import TrainParams
from gan_pipelines.families.unpaired.config import UGATITTrainParams
from gan_pipelines.families.segsynth.config import ExperimentParams, IngestParams

logger = logging.getLogger(__name__)


def run_segsynth_experiment(
    model_input: Mapping[str, Callable[[], np.ndarray]], params: ExperimentParams, generator_params: TrainParams,
    ingest_params: IngestParams, unpaired_generator_params: UGATITTrainParams | None = None, *, family: str,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, Any]]:
    """``(seed_results, examples, summary)``.

    ``seed_results``: one row per seed and arm (``seed``, ``arm``, ``miou``, ``fg_iou``,
    ``object_precision``, ``object_recall``, ``object_f1``, ``recall_size_0..3``,
    ``train_seconds``, ``steps``); ``examples``: an image folder ``examples/<kind>/<seed>_<i>.png``
    of the first seed's made pairs; ``summary``: sizes, times, the arms run and why any was left out.
    """
    from tqdm.auto import tqdm

    from gan_pipelines.families.segsynth.experiment import (
        SIZE_BIN_NAMES, ExperimentData, fresh_scenes, run_seed, size_bin_edges, split_pairs, true_objects_per_size,
    )
    from gan_pipelines.families.segsynth.layout import ARMS
    from gan_pipelines.image_folders import image_key

    from gan_pipelines.families.paired.nodes.ingest import ingested_class_count

    params = ExperimentParams.parse(params, f"{family}.experiment")
    ingest = IngestParams.parse(ingest_params, f"{family}.ingest")
    label_nc, ignore_value = ingested_class_count(ingest.as_dict(), family)
    background = ingest.backgrounds()
    started = time.perf_counter()
    pool = split_pairs(model_input, "train", background)
    test = split_pairs(model_input, "test", background)
    val = split_pairs(model_input, "val", background)
    arms = list(params.arms or ARMS)
    left_out = {}
    fresh = None
    if "D" in arms:
        if ingest.source == "synthetic":
            fresh = fresh_scenes(ingest, params.num_synthetic, background)
        else:
            left_out["D"] = "needs freshly rendered scenes: embedded data only (segsynth.ingest.source: synthetic)"
    if params.num_labelled >= len(pool):
        logger.warning("%s.experiment.num_labelled is %d but the train split holds %d pairs: every seed uses all of "
                       "them (the seeds then differ only in the generator, the made maps and the inits), and no "
                       "unlabelled pictures are left for the predicted maps", family, params.num_labelled, len(pool))
    data = ExperimentData(pool, val, test, fresh, label_nc, ignore_value, background)
    rows, infos, examples = [], [], {}
    seeds = range(params.first_seed, params.first_seed + params.seeds)
    for seed in tqdm(seeds, desc="segsynth seeds", unit="seed"):
        seed_rows, seed_examples, info = run_seed(seed, data, params, generator_params, unpaired_generator_params)
        rows += seed_rows
        infos.append(info)
        logger.info("%s: seed %d done: %s", family, seed,
                    ", ".join(f"{r['arm']} F1 {r['object_f1']:.3f}" for r in seed_rows if r["object_f1"] is not None))
        if not examples:
            for kind, arrays in seed_examples.items():
                for index, array in enumerate(arrays):
                    examples[image_key("examples", kind, f"{seed}_{index:02d}")] = np.asarray(array, np.uint8)
    height, width = test.labels.shape[1:]
    summary = {
        "arms": {arm: ARMS[arm] for arm in arms if arm not in left_out}, "arms_left_out": left_out,
        "seeds": list(seeds), "num_pool": len(pool), "num_val": len(val), "num_test": len(test),
        "test_objects": int(sum(len(np.unique(ids[ids > 0])) for ids in test.objects)),
        "resolution": [int(height), int(width)], "label_nc": label_nc, "background_classes": list(background),
        "size_bins": {f"recall_size_{i}": name for i, name in enumerate(SIZE_BIN_NAMES)},
        "size_bin_edges_px": size_bin_edges(height, width), "test_objects_per_size": true_objects_per_size(test),
        "per_seed": infos,
        "fresh_scenes": None if fresh is None else len(fresh),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return pd.DataFrame(rows), examples, summary
