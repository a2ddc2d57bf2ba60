"""The segsynth experiment: for each paired seed, every arm trained and scored on the same test set.

Per seed ``s`` (numbers drawn from ``numpy.random.default_rng([s, ...])``):

1. N labelled pairs drawn from the train split; its other pictures are the unlabelled ones (their
   labels are never read);
2. the label map -> photo generator trained on those N pairs only (``segsynth.generator``,
   seed ``s``), :func:`train_generator`;
3. arm A's segmenter (N real, E epochs) trained first: it also predicts the label maps of the
   unlabelled pictures, the second source of synthetic maps;
4. K synthetic maps: ``1 - predicted_share`` of them pasted from the object bank of the N pairs
   onto empty canvases (:mod:`.masks`), the rest A's predicted maps; the generator paints them;
   K copy-paste pictures (bank objects pasted onto the N real pictures) for arm C;
5. the other arms (:data:`~.layout.ARMS`), all from the same initial weights (seed ``s``);
6. each arm's segmenter scored on the whole test split: mIoU, foreground IoU, object precision,
   recall and F1 (:mod:`gan_pipelines.metrics.objects`) and recall per object size.

Arm D pre-trains on K scenes rendered fresh by the embedded renderer (another seed than the
ingest's, the same settings); they are rendered once per run and shared by the seeds.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gan_pipelines.families.segsynth.config import ExperimentParams, IngestParams
from gan_pipelines.families.segsynth.layout import ARMS, INSTANCE_KIND, LABEL_KIND, TARGET_KIND
from gan_pipelines.families.segsynth.masks import BankObject, empty_canvas, instance_ids, object_bank, paste_objects

logger = logging.getLogger(__name__)

SECTION = "segsynth.experiment"
GENERATOR_SECTION = "segsynth.generator"
UNPAIRED_GENERATOR_SECTION = "segsynth.unpaired_generator"
# Object size bins as shares of the picture's area: < 0.25 %, 0.25-1 %, 1-4 %, >= 4 %.
SIZE_BIN_SHARES = (0.0025, 0.01, 0.04)
SIZE_BIN_NAMES = ("< 0.25%", "0.25-1%", "1-4%", ">= 4%")
FRESH_SEED_OFFSET = 1_000_003  # arm D's renderer seed: the ingest's plus this (never one of its scenes)


@dataclass
class Pairs:
    """Stacked pairs: ``pictures`` uint8 ``(N, H, W, 3)``, ``labels`` int64 ``(N, H, W)``,
    ``objects`` int32 ``(N, H, W)`` object ids (0 = none)."""

    pictures: np.ndarray
    labels: np.ndarray
    objects: np.ndarray

    def subset(self, index: np.ndarray) -> "Pairs":
        return Pairs(self.pictures[index], self.labels[index], self.objects[index])

    def arrays(self) -> dict[str, np.ndarray]:
        return {"image": self.pictures, "target": self.labels}

    def __len__(self) -> int:
        return len(self.pictures)


@dataclass
class ExperimentData:
    """What every seed shares: the train pool, the val pictures (logged only), the test set,
    arm D's fresh scenes (or None), the class count, don't-care value and object classes."""

    pool: Pairs
    val: Pairs
    test: Pairs
    fresh: Pairs | None
    num_classes: int
    ignore_index: int | None
    background_classes: tuple[int, ...]

    @property
    def object_classes(self) -> list[int]:
        return [c for c in range(self.num_classes) if c not in self.background_classes]


def split_pairs(model_input: Mapping[str, Callable[[], np.ndarray]], split: str, background: tuple[int, ...],
                *, required: bool = True) -> Pairs | None:
    """The pairs of ``split`` of the model input folder (instance maps when every sample has one)."""
    from gan_pipelines.image_folders import sample_names, stack_split

    names = sample_names(model_input, split, LABEL_KIND)
    if not names:
        if required:
            raise ValueError(f"segsynth: the model input has no {split} samples")
        return None
    has_instances = all(f"{split}/{INSTANCE_KIND}/{name}.png" in model_input for name in names)
    kinds = [LABEL_KIND, TARGET_KIND] + ([INSTANCE_KIND] if has_instances else [])
    _, arrays = stack_split(model_input, split, kinds, anchor_kind=LABEL_KIND)
    labels = arrays[LABEL_KIND].astype(np.int64)
    instances = arrays.get(INSTANCE_KIND)
    objects = np.stack([instance_ids(labels[i], None if instances is None else instances[i], background)
                        for i in range(len(labels))])
    return Pairs(np.ascontiguousarray(arrays[TARGET_KIND]), labels, objects)


def fresh_scenes(ingest: IngestParams, count: int, background: tuple[int, ...]) -> Pairs:
    """Arm D's ``count`` scenes from the embedded renderer with the ingest's settings and another seed."""
    from tqdm.auto import tqdm

    from gan_pipelines.families.paired.synthetic import render_split, synthetic_config
    from gan_pipelines.families.segsynth.layout import DATA_FAMILY

    config, _ = synthetic_config(dict(ingest.synthetic), "segsynth.ingest.synthetic")
    config = replace(config, seed=config.seed + FRESH_SEED_OFFSET, num_train=count)
    samples = [sample for _, sample in tqdm(render_split(config, DATA_FAMILY, "train"), total=count,
                                            desc="render arm D's scenes", unit="scene", leave=False)]
    labels = np.stack([s[LABEL_KIND] for s in samples]).astype(np.int64)
    objects = np.stack([instance_ids(s[LABEL_KIND], s[INSTANCE_KIND], background) for s in samples])
    return Pairs(np.stack([s[TARGET_KIND] for s in samples]), labels, objects)


# ---------------------------------------------------------------------------------------------
# scoring
# ---------------------------------------------------------------------------------------------


def size_bin_edges(height: int, width: int) -> list[float]:
    """Object-area bin edges in pixels for pictures of ``height x width``."""
    return [share * height * width for share in SIZE_BIN_SHARES]


def true_objects_per_size(test: Pairs) -> list[int]:
    """How many true objects of the test pairs fall in each size bin (the denominators of
    ``recall_size_<k>``)."""
    from gan_pipelines.metrics.objects import ObjectCounts, match_objects

    edges = size_bin_edges(*test.labels.shape[1:])
    counts = ObjectCounts(0, 0, 0)
    for ids in test.objects:
        counts = counts + match_objects(ids, np.zeros_like(ids), size_bins=edges)
    return [int(n) for n in counts.true_by_size]


def score_predictions(predicted: np.ndarray, test: Pairs, data: ExperimentData) -> dict[str, float | None]:
    """mIoU, foreground IoU, object precision / recall / F1 and ``recall_size_<k>`` of predicted
    class maps ``(N, H, W)`` against the test pairs."""
    from gan_pipelines.metrics.objects import ObjectCounts, match_objects, object_scores, predicted_objects
    from gan_pipelines.metrics.segmentation import class_confusion_matrix, segmentation_scores

    confusion = class_confusion_matrix(predicted, test.labels, data.num_classes, data.ignore_index)
    counted = np.ones(test.labels.shape, bool) if data.ignore_index is None else test.labels != data.ignore_index
    true_fg = ~np.isin(test.labels, data.background_classes) & counted
    pred_fg = ~np.isin(predicted, data.background_classes) & counted
    union = (true_fg | pred_fg).sum()
    edges = size_bin_edges(*test.labels.shape[1:])
    counts = ObjectCounts(0, 0, 0)
    for index in range(len(predicted)):
        counts = counts + match_objects(test.objects[index], predicted_objects(predicted[index], data.object_classes),
                                        size_bins=edges)
    return {"miou": segmentation_scores(confusion)["miou"],
            "fg_iou": float((true_fg & pred_fg).sum() / union) if union else None,
            **object_scores(counts)}


# ---------------------------------------------------------------------------------------------
# one seed
# ---------------------------------------------------------------------------------------------


def train_generator(labelled: Pairs, val: Pairs, generator_params: Any, num_classes: int, seed: int):
    """The label map -> photo generator (a paired family's ``train`` block) trained on the
    labelled pairs with ``seed``; returns ``(net, style_dim, seconds)``: the
    :class:`~gan_pipelines.families.paired.networks.PairedGenerator` in eval mode on CPU, and
    its style code size (SPADE+VAE) or None."""
    from gan_pipelines.families.paired.networks import PairedGenerator, build_paired_generator, encoder_from_config
    from gan_pipelines.families.paired.nodes.train import fit_generator, parse_train_params, train_settings

    train, _ = parse_train_params(generator_params, GENERATOR_SECTION)
    resolution = int(labelled.pictures.shape[1])
    settings = train_settings(train, num_classes, GENERATOR_SECTION, resolution)
    # no state file or TensorBoard folder: one short training per seed, nothing to resume
    config = train.training.trainer_config(GENERATOR_SECTION, seed=seed, state_path=None, log_dir=None, resume=False)

    def arrays(pairs: Pairs) -> dict[str, np.ndarray]:
        out = {settings["input"]["kind"]: pairs.labels, settings["target_kind"]: pairs.pictures}
        if settings["input"]["instance_kind"]:
            out[settings["input"]["instance_kind"]] = pairs.objects
        return out

    started = time.perf_counter()
    result, _ = fit_generator(arrays(labelled), arrays(val), settings, GENERATOR_SECTION, None, config)
    net = PairedGenerator(encoder_from_config(settings["input"]), build_paired_generator(settings["generator"]))
    net.generator.load_state_dict(result.best_state_dicts["generator"])
    return net.eval(), getattr(net, "z_dim", None), time.perf_counter() - started


def paint(net, maps: np.ndarray, objects: np.ndarray, seed: int, device: str = "auto") -> np.ndarray:
    """uint8 pictures of label maps by a trained generator (random style codes for SPADE+VAE) on
    ``device`` (``auto``: CUDA > MPS > CPU)."""
    from gan_pipelines.families.paired.inference import generate
    from gan_pipelines.families.paired.networks import style_codes
    from gan_pipelines.training.device import select_device

    z_dim = getattr(net, "z_dim", None)
    z = None if z_dim is None else style_codes(len(maps), z_dim, [seed, 7])
    return generate(net, "labels", maps, objects if net.encoder.instance_edges else None, batch_size=32, z=z,
                    device=select_device(device, setting="segsynth.experiment.segmenter.device"))


def colour_maps(labels: np.ndarray) -> np.ndarray:
    """Class maps ``(N, H, W)`` -> uint8 RGB ``(N, H, W, 3)`` in the paired report's class colours:
    the unpaired generator's domain A (it takes pictures, not class indices)."""
    from gan_pipelines.families.paired.nodes.report import LABEL_COLOURS

    return LABEL_COLOURS[np.asarray(labels, np.int64) % len(LABEL_COLOURS)]


def train_unpaired_generator(labelled: Pairs, val: Pairs, unpaired_params: Any, seed: int):
    """U-GAT-IT (``segsynth.unpaired_generator``: ``ugatit.train``'s block) trained with ``seed``
    on the labelled pairs as two unpaired domains, A = the class maps in colour
    (:func:`colour_maps`), B = the pictures; each domain is shuffled on its own, so the model never
    learns which map belongs to which picture. Returns ``(G_AB in eval mode on CPU, seconds)``."""
    from gan_pipelines.families.unpaired.config import UGATITTrainParams
    from gan_pipelines.families.unpaired.networks import generators_from_config
    from gan_pipelines.families.unpaired.nodes.train import fit_unpaired

    train = UGATITTrainParams.parse(unpaired_params, UNPAIRED_GENERATOR_SECTION)
    config = train.training.trainer_config(UNPAIRED_GENERATOR_SECTION, seed=seed, state_path=None, log_dir=None,
                                           resume=False)

    def domains(pairs: Pairs) -> dict[str, np.ndarray]:
        return {"A": colour_maps(pairs.labels), "B": pairs.pictures}

    started = time.perf_counter()
    result, info = fit_unpaired("ugatit", domains(labelled), domains(val), train.model_dump(),
                                UNPAIRED_GENERATOR_SECTION, config)
    generator = generators_from_config({"model": "ugatit", "generator": info["generator"]})["G_AB"]
    generator.load_state_dict(result.best_state_dicts["G_AB"])
    return generator.eval(), time.perf_counter() - started


def paint_unpaired(generator, maps: np.ndarray, device: str = "auto") -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` pictures of class maps ``(N, H, W)`` by an unpaired map -> picture
    generator (:func:`train_unpaired_generator`) on ``device``."""
    from gan_pipelines.families.unpaired.inference import translate
    from gan_pipelines.training.device import select_device

    return translate(generator, colour_maps(maps), batch_size=32,
                     device=select_device(device, setting="segsynth.experiment.segmenter.device"))


def synthetic_maps(labelled: Pairs, bank: list[BankObject], count: int, params: ExperimentParams,
                   rng: np.random.Generator, background: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pasted maps: ``(labels int64 (K, H, W), object ids int32 (K, H, W))``."""
    masks = params.masks
    canvases = [empty_canvas(labels, background) for labels in labelled.labels]
    maps, objects = [], []
    for _ in range(count):
        canvas = canvases[int(rng.integers(len(canvases)))]
        labels, ids, _, _ = paste_objects(canvas, bank, rng, count_range=tuple(masks.objects_per_map),
                                          scale_range=tuple(masks.scale), flip_p=masks.flip_p, max_hidden=masks.max_hidden)
        maps.append(labels)
        objects.append(ids)
    return np.stack(maps).astype(np.int64), np.stack(objects).astype(np.int32)


def copy_paste_pairs(labelled: Pairs, bank: list[BankObject], count: int, params: ExperimentParams,
                     rng: np.random.Generator) -> Pairs:
    """``count`` Simple Copy-Paste pairs: bank objects (picture crops and masks) pasted onto the
    labelled real pictures, their label maps updated."""
    masks = params.masks
    pictures, maps, objects = [], [], []
    for _ in range(count):
        base = int(rng.integers(len(labelled)))
        labels, ids, picture, _ = paste_objects(
            labelled.labels[base], bank, rng, count_range=tuple(masks.objects_per_map), scale_range=tuple(masks.scale),
            flip_p=masks.flip_p, max_hidden=masks.max_hidden, canvas_instances=labelled.objects[base],
            canvas_picture=labelled.pictures[base])
        pictures.append(picture)
        maps.append(labels)
        objects.append(ids)
    return Pairs(np.stack(pictures), np.stack(maps).astype(np.int64), np.stack(objects))


def _steps(count: int, batch_size: int) -> int:
    return math.ceil(count / batch_size)


def run_seed(seed: int, data: ExperimentData, params: ExperimentParams, generator_params: Any,
             unpaired_params: Any = None) -> tuple[list[dict[str, Any]], dict[str, np.ndarray], dict[str, Any]]:
    """Every arm of one seed: ``(rows, examples, info)``; the GAN is ``generator_params``' paired
    model or, with ``params.generator == "ugatit"``, ``unpaired_params``' U-GAT-IT. ``rows``: one dict per arm (``seed``,
    ``arm``, the scores, ``train_seconds``, ``steps``); ``examples``: the first
    ``params.num_examples`` made pairs of each kind (for the report); ``info``: sizes and times."""
    from gan_pipelines.families.segsynth.segmenter import predict_classes, train_phase

    arms = [arm for arm in (params.arms or list(ARMS)) if arm != "D" or data.fresh is not None]
    seg = params.segmenter
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(data.pool))
    n = min(params.num_labelled, len(data.pool))
    labelled = data.pool.subset(np.sort(order[:n]))
    unlabelled = data.pool.pictures[np.sort(order[n:])]
    info: dict[str, Any] = {"seed": seed, "num_labelled": n, "num_unlabelled": int(len(unlabelled))}
    common = dict(num_classes=data.num_classes, ignore_index=data.ignore_index, seed=seed)
    val = data.val.arrays()
    states: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    steps: dict[str, int] = {}
    real_steps = _steps(n, seg.batch_size)

    def phase(name: str, pairs: Pairs | dict[str, np.ndarray], epochs: int, init: str | None = None,
              augment: bool = False, batches: int | None = None) -> None:
        arrays = pairs.arrays() if isinstance(pairs, Pairs) else pairs
        started = time.perf_counter()
        logger.info("%s: seed %d, %s (%d pictures, %d epochs)", SECTION, seed, name, len(arrays["image"]), epochs)
        states[name], _ = train_phase(arrays, val, seg, epochs=epochs, init_state=states.get(init) if init else None,
                                      augment=augment, **common)
        seconds[name] = seconds.get(init, 0.0) + time.perf_counter() - started if init else time.perf_counter() - started
        steps[name] = steps.get(init, 0) + epochs * (batches or _steps(len(arrays["image"]), seg.batch_size))

    # 1. the generator and arm A (A's segmenter makes the second source of maps)
    if params.generator == "ugatit":
        generator, generator_seconds = train_unpaired_generator(labelled, data.val, unpaired_params, seed)

        def painted(maps: np.ndarray, objects: np.ndarray) -> np.ndarray:
            return paint_unpaired(generator, maps, seg.device)
    else:
        generator, _, generator_seconds = train_generator(labelled, data.val, generator_params, data.num_classes, seed)

        def painted(maps: np.ndarray, objects: np.ndarray) -> np.ndarray:
            return paint(generator, maps, objects, seed, seg.device)
    info["generator"] = params.generator
    info["generator_seconds"] = round(generator_seconds, 1)
    phase("A", labelled, seg.epochs)
    # 2. the synthetic maps and the made pictures
    started = time.perf_counter()
    bank = object_bank(labelled.labels, labelled.pictures, labelled.objects, data.background_classes)
    k = params.num_synthetic
    k_predicted = min(round(k * params.masks.predicted_share), len(unlabelled))
    maps, objects = synthetic_maps(labelled, bank, k - k_predicted, params, rng, data.background_classes)
    if k_predicted:
        chosen = np.sort(rng.choice(len(unlabelled), size=k_predicted, replace=False))
        predicted = predict_classes(states["A"], seg, data.num_classes, unlabelled[chosen])
        predicted_objects = np.stack([instance_ids(m, None, data.background_classes) for m in predicted])
        maps, objects = np.concatenate([maps, predicted]), np.concatenate([objects, predicted_objects])
    gan = Pairs(painted(maps, objects), maps, objects)
    copy_paste = copy_paste_pairs(labelled, bank, k, params, rng) if "C" in arms else None
    info.update({"bank_objects": len(bank), "maps_pasted": int(k - k_predicted), "maps_predicted": int(k_predicted),
                 "make_seconds": round(time.perf_counter() - started, 1)})
    # 3. the other arms; B's steps set A_steps' and B_mix's length
    b_steps = seg.pretrain_epochs * _steps(k, seg.batch_size) + seg.epochs * real_steps
    if {"B", "G"} & set(arms):
        phase("G", gan, seg.pretrain_epochs)
        if "B" in arms:
            phase("B", labelled, seg.epochs, init="G")
    if "A_steps" in arms:
        phase("A_steps", labelled, max(1, round(b_steps / real_steps)))
    if "A_aug" in arms:
        phase("A_aug", labelled, seg.epochs, augment=True)
    if copy_paste is not None:
        phase("C_pre", copy_paste, seg.pretrain_epochs)
        phase("C", labelled, seg.epochs, init="C_pre")
    if "B_mix" in arms:
        share = seg.mix_real_share
        repeats = max(1, round(share * k / ((1 - share) * n)))
        mixed = {"image": np.concatenate([gan.pictures] + [labelled.pictures] * repeats),
                 "target": np.concatenate([gan.labels] + [labelled.labels] * repeats)}
        info["mix_real_share"] = round(repeats * n / (repeats * n + k), 3)
        phase("B_mix", mixed, max(1, round(b_steps / _steps(len(mixed["image"]), seg.batch_size))))
    if "D" in arms:
        phase("D_pre", data.fresh, seg.pretrain_epochs)
        phase("D", labelled, seg.epochs, init="D_pre")
    # 4. every arm on the test split
    rows = []
    for arm in arms:
        predicted = predict_classes(states[arm], seg, data.num_classes, data.test.pictures)
        rows.append({"seed": seed, "arm": arm, **score_predictions(predicted, data.test, data),
                     "train_seconds": round(seconds[arm], 1), "steps": steps[arm]})
    shown = params.num_examples
    examples = {"gan_picture": gan.pictures[:shown], "synthetic_map": maps[:shown],
                "real_picture": labelled.pictures[:shown], "real_map": labelled.labels[:shown]}
    if k_predicted:
        examples.update({"predicted_gan_picture": gan.pictures[-min(shown, k_predicted):],
                         "predicted_map": maps[-min(shown, k_predicted):]})
    if copy_paste is not None:
        examples.update({"copy_paste_picture": copy_paste.pictures[:shown], "copy_paste_map": copy_paste.labels[:shown]})
    return rows, examples, info
