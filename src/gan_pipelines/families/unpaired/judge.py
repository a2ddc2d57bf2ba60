"""The judges of the unpaired families, trained by ``<family>.train_judge`` (the node:
:mod:`gan_pipelines.families.unpaired.nodes.train_judge`) on the REAL train pictures (the val
split picks the epoch), always in fp32, and applied by ``<family>.evaluate`` to translated test
pictures (:mod:`gan_pipelines.families.unpaired.evaluation`):

* a **domain classifier** (A vs B, :class:`DomainClassifier`): a small CNN, stride-2 3x3
  convolutions with LeakyReLU and no normalisation (a per-picture normalisation would erase the
  global brightness and colour that tell e.g. day from dusk), global average pooling, a linear
  layer to two logits. It is trained blind to recolouring: with probability ``recolour_p`` a
  train picture is shown recoloured towards the other domain (:func:`recolouring_views`: the
  evaluation's two colour baselines) under its own label, so global colour statistics cannot
  tell the domains apart and a translated picture counts as the target domain by its structure.
  The evaluation's target-domain rate is the share of translated pictures
  it calls the target domain, and its pooled features (``channels[-1]`` values) are the feature
  space of the project's own KID. Cross-entropy weighted by inverse domain frequency, so an
  unbalanced train set does not teach it to favour the larger domain;
* per domain with class maps (``<split>/A_labels``, ``B_labels``), a **segmenter** trained on
  that domain's real train pictures and their class maps: the paired families' segmentation
  judge (:func:`gan_pipelines.families.paired.judge.train_judge`: smp U-Net, precise
  BatchNorm, best val mIoU), whose verdict on a translated picture against the source scene's
  class map is the content score (the FCN-score idea of pix2pix / CycleGAN);
* a domain whose pictures ARE colour-coded label images (the ingest summary's
  ``label_colours`` is not null: domain A of the ``labels_photo`` pair) gets no segmenter: its
  class map is read off the colours, each pixel taking the class of the nearest label colour
  (:func:`decode_label_colours`).

The bundle (``<family>_judge`` checkpoint, loadable with ``weights_only=True``):
``state_dicts`` {"classifier", "segmenter_A"?, "segmenter_B"?}; ``model_config`` {"classifier":
{"channels"}, "segmenters": {domain: segmenter config with num_classes}, "num_classes",
"label_colours", "colour_coded_domain", "resolution"}; ``meta`` {"family": <namespace>,
"network": "judge", "precision": "fp32", "seed", "classifier_val_accuracy",
"segmenter_val_miou", "data_hash" (:func:`gan_pipelines.image_folders.content_hash` of the
train/val pictures and class maps the judges learned from), "data_hash_kinds", ...}.
:func:`judge_from_bundle` rebuilds it as an :class:`UnpairedJudge`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from gan_pipelines.families.unpaired.layout import DOMAINS, check_domain, labels_kind

logger = logging.getLogger(__name__)

JUDGE_NETWORK = "judge"  # meta.network of a judge checkpoint
JUDGE_PRECISION = "fp32"
# The domain whose pictures are colour-coded label images when the ingest summary has
# label_colours (labels_photo: label pictures are A, photos are B).
COLOUR_CODED_DOMAIN = "A"
DOMAIN_INDEX = {"A": 0, "B": 1}  # the classifier's logit order


# --------------------------------------------------------------------------------------------
# The domain classifier
# --------------------------------------------------------------------------------------------


class DomainClassifier(nn.Module):
    """A vs B from RGB pictures in [-1, 1] ``(N, 3, H, W)`` (any size: it pools globally):
    ``forward`` gives logits ``(N, 2)`` (index 0 = A, 1 = B), :meth:`features` the pooled
    last-layer activations ``(N, channels[-1])``."""

    def __init__(self, channels: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        widths = [int(c) for c in channels]
        if not widths or any(c < 1 for c in widths):
            raise ValueError(f"channels must be positive widths, one per convolution; got {list(channels)}")
        self.channels = widths
        layers: list[nn.Module] = []
        previous = 3
        for width in widths:
            layers += [nn.Conv2d(previous, width, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            previous = width
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(previous, 2)
        self.feature_size = previous

    def features(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must have shape (N, 3, H, W), got {tuple(images.shape)}")
        return self.body(images).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class _DomainSamples(torch.utils.data.Dataset):
    """Pictures with their domain index: samples ``{"image": uint8 (3, H, W), "domain": int64}``,
    augmented per sample from ``(seed, epoch, index)`` (the project's loader contract).

    ``recoloured`` (optional): alternative views of every picture, each ``(N, H, W, 3)`` like
    ``images`` (:func:`recolouring_views`); with probability ``recolour_p`` a sample shows one of
    them, drawn from ``(seed, epoch, index)`` too, under the picture's own domain label."""

    def __init__(self, images: np.ndarray, domains: np.ndarray, augment: Any = None, seed: int = 0,
                 recoloured: Sequence[np.ndarray] = (), recolour_p: float = 0.0) -> None:
        from gan_pipelines.training import PairedImageDataset

        views = [images, *recoloured]
        self.views = [PairedImageDataset({"image": view}, {"image": "rgb"}, augment=augment, seed=seed) for view in views]
        self.domains = torch.as_tensor(np.asarray(domains), dtype=torch.int64)
        self.seed, self.epoch, self.recolour_p = int(seed), 0, float(recolour_p) if recoloured else 0.0

    def __len__(self) -> int:
        return len(self.views[0])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        for view in self.views:
            view.set_epoch(epoch)

    def _view(self, epoch: int, index: int) -> int:
        if self.recolour_p <= 0.0:
            return 0
        draw = np.random.default_rng([self.seed, epoch, index, _RECOLOUR_SALT])
        return int(draw.integers(1, len(self.views))) if draw.uniform() < self.recolour_p else 0

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        sample = self.views[self._view(epoch, index)][item]
        sample["domain"] = self.domains[index]
        return sample


_RECOLOUR_SALT = 77  # the recolouring draw's own stream, apart from the augmentation's


def recolouring_views(images: np.ndarray, domains: np.ndarray, seed: int = 0) -> list[np.ndarray]:
    """Every picture recoloured towards the OTHER domain, in the two ways the evaluation's
    baselines recolour (:mod:`gan_pipelines.families.unpaired.baselines`): ``[Reinhard colour
    transfer to the other domain's Lab statistics, histogram matching to one of the other
    domain's pictures drawn per picture from seed]``, each ``(N, H, W, 3)`` uint8 like
    ``images``. Shown to the classifier under the picture's OWN domain label, they teach it that
    a recolouring does not change the domain: a picture then counts as the target domain by its
    structure (textures, which object has which colour, shadows), so the target-domain rate tells
    translation from recolouring. ``domains``: ``(N,)`` 0 = A, 1 = B; both must be present."""
    from gan_pipelines.families.unpaired.baselines import colour_transfer, histogram_matching, lab_statistics

    domains = np.asarray(domains)
    members = {d: np.flatnonzero(domains == d) for d in (0, 1)}
    if not all(len(found) for found in members.values()):
        raise ValueError("recolouring views need pictures of both domains")
    rng = np.random.default_rng([seed, _RECOLOUR_SALT])
    transferred, matched = np.empty_like(images), np.empty_like(images)
    for d, own in members.items():
        other = members[1 - d]
        mean, std = lab_statistics(images[other])
        transferred[own] = colour_transfer(images[own], mean, std)
        for index in own:
            matched[index] = histogram_matching(images[index], images[other[rng.integers(len(other))]])
    return [transferred, matched]


def _picture_augmenter(augmentation: Mapping[str, Any] | None):
    """hflip (and optional colour jitter, the paired judge's keys) of a picture, or None."""
    if not augmentation:
        return None
    flip_p, jitter = float(augmentation.get("hflip_p", 0.5)), augmentation.get("colour_jitter")
    if flip_p == 0 and not jitter:
        return None
    import albumentations as A

    from gan_pipelines.training.data import AlbumentationsAugmenter

    steps = [A.HorizontalFlip(p=flip_p)]
    if jitter:
        steps.append(A.ColorJitter(brightness=jitter.get("brightness", 0.0), contrast=0.0,
                                   saturation=jitter.get("saturation", 0.0), hue=jitter.get("hue", 0.0), p=1.0))
        steps.append(A.ToGray(p=jitter.get("grey_p", 0.0)))
    return AlbumentationsAugmenter(A.Compose(steps), {"image": "rgb"})


class DomainClassificationTask:
    """Cross-entropy training of the :class:`DomainClassifier` for the engine
    (:func:`gan_pipelines.training.fit`); ``class_weights`` (2,) weigh the domains' losses.
    Validation: ``loss`` and ``accuracy`` (batch means; the engine's size-weighted mean over the
    batches is the whole val set's)."""

    def __init__(self, net: DomainClassifier, lr: float, class_weights: Sequence[float],
                 settings: Mapping[str, Any] | None = None) -> None:
        self.net = net
        self.modules = {"classifier": net}
        self.optimizers = {"classifier": torch.optim.Adam(net.parameters(), lr=lr)}
        self.class_weights = torch.tensor([float(w) for w in class_weights], dtype=torch.float32)
        self.hparams = {"lr": float(lr), "class_weights": [round(float(w), 6) for w in class_weights],
                        "channels": list(net.channels), **dict(settings or {})}

    def _loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target, weight=self.class_weights.to(logits.device))

    def train_step(self, batch, step) -> dict[str, torch.Tensor]:
        with step.autocast():
            logits = step.module("classifier")(batch["image"])
        loss = self._loss(logits, batch["domain"])
        step.backward_and_step(loss, "classifier")
        return {"ce": loss.detach()}

    def validation_step(self, batch, step) -> dict[str, float]:
        logits = self.net(batch["image"]).float()
        target = batch["domain"]
        return {"loss": self._loss(logits, target).item(),
                "accuracy": (logits.argmax(dim=1) == target).float().mean().item()}

    def sample_images(self, batch) -> torch.Tensor:
        return (batch["image"][:8].float() + 1) / 2


def fit_classifier(train: Mapping[str, np.ndarray], val: Mapping[str, np.ndarray], settings: Mapping[str, Any],
                   config) -> Any:
    """Train the domain classifier (module level: data-parallel workers import it).
    ``train``/``val``: ``{"image": uint8 (N, H, W, 3), "domain": int (N,)}``; ``settings``:
    ``channels``, ``lr``, ``batch_size``, ``num_workers``, ``augmentation`` (plain values);
    ``config``: the :class:`~gan_pipelines.training.TrainerConfig`."""
    from gan_pipelines.training import fit, make_loader, seed_everything
    from gan_pipelines.training.distributed import current_group, per_device_batch_size

    seed_everything(config.seed)  # the initial weights depend on the seed only
    net = DomainClassifier(settings["channels"])
    counts = np.bincount(np.asarray(train["domain"]), minlength=2).astype(np.float64)
    weights = counts.sum() / (2.0 * np.maximum(counts, 1.0))
    group = current_group()
    rank, world = (group.rank, group.world_size) if group is not None else (0, 1)
    batch_size = per_device_batch_size(int(settings["batch_size"]), world, "classifier.batch_size")
    shared = dict(seed=config.seed, num_workers=int(settings["num_workers"]), rank=rank, world_size=world,
                  pin_memory=torch.cuda.is_available() and config.device != "cpu")
    recolour_p = float(settings.get("recolour_p", 0.0))
    recoloured = recolouring_views(train["image"], train["domain"], config.seed) if recolour_p > 0 else []
    train_set = _DomainSamples(train["image"], train["domain"], _picture_augmenter(settings["augmentation"]), config.seed,
                               recoloured, recolour_p)
    train_loader = make_loader(train_set, batch_size, shuffle=True, **shared)
    val_loader = make_loader(_DomainSamples(val["image"], val["domain"]), batch_size, shuffle=False, **shared)
    task = DomainClassificationTask(net, float(settings["lr"]), weights,
                                    settings={"augmentation": settings["augmentation"], "recolour_p": recolour_p})
    return fit(task, train_loader, val_loader, config)


# --------------------------------------------------------------------------------------------
# Colour-coded label pictures
# --------------------------------------------------------------------------------------------


def check_label_colours(colours: Any, num_classes: int | None = None) -> np.ndarray:
    """``colours`` (a list of [r, g, b] per class, 0..255) as int64 ``(C, 3)``; raises
    ValueError for another shape, a value outside 0..255, two classes of one colour, or (with
    ``num_classes``) a count that is not ``num_classes``."""
    array = np.asarray(colours)
    if array.ndim != 2 or array.shape[1] != 3 or len(array) < 1 or not np.issubdtype(array.dtype, np.number):
        raise ValueError(f"label_colours must be a list of [r, g, b] per class, got {colours!r}")
    if not np.array_equal(array, np.rint(array)) or array.min() < 0 or array.max() > 255:
        raise ValueError(f"label_colours must hold integers in 0..255, got {array.tolist()}")
    array = array.astype(np.int64)
    if len(np.unique(array, axis=0)) != len(array):
        raise ValueError(f"label_colours has two classes of the same colour: {array.tolist()}")
    if num_classes is not None and len(array) != num_classes:
        raise ValueError(f"label_colours has {len(array)} colours but label_nc is {num_classes}")
    return array


def decode_label_colours(images: Any, colours: Any) -> np.ndarray:
    """Class maps int64 ``(N, H, W)`` (or ``(H, W)``) of colour-coded label pictures, uint8
    ``(N, H, W, 3)`` (or ``(H, W, 3)``): each pixel gets the class whose colour (``colours``,
    ``(C, 3)`` RGB, row = class index) is nearest in RGB (squared Euclidean distance; ties -> the
    lower class). A translated label picture is seldom exactly on the code, so nearest rather
    than exact."""
    palette = check_label_colours(colours)
    array = np.asarray(images)
    if array.dtype != np.uint8 or array.ndim not in (3, 4) or array.shape[-1] != 3:
        raise ValueError(f"label pictures must be uint8 (N, H, W, 3) or (H, W, 3), got {array.dtype} {array.shape}")
    stack = array[None] if array.ndim == 3 else array
    out = np.empty(stack.shape[:3], np.int64)
    for index, picture in enumerate(stack):  # one picture at a time: (H, W, C) distances stay small
        pixels = picture.reshape(-1, 1, 3).astype(np.int64)
        distances = ((pixels - palette[None]) ** 2).sum(axis=-1)
        out[index] = distances.argmin(axis=1).reshape(picture.shape[:2])
    return out[0] if array.ndim == 3 else out


# --------------------------------------------------------------------------------------------
# Training all judges
# --------------------------------------------------------------------------------------------


def _stack_domain(model_input: Mapping[str, Callable[[], np.ndarray]], split: str, domain: str) -> np.ndarray:
    from gan_pipelines.image_folders import stack_split

    _, arrays = stack_split(model_input, split, [domain], anchor_kind=domain, required=False)
    if not arrays:
        raise ValueError(f"the {split!r} split has no pictures of domain {domain}; the judges need real {split} "
                         f"pictures of both domains (check the ingest/preprocess outputs)")
    images = arrays[domain]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"the {split} pictures of domain {domain} must be uint8 RGB (N, H, W, 3), got {images.dtype} "
                         f"{images.shape}")
    return images


def _has_kind(model_input: Mapping[str, Any], split: str, kind: str) -> bool:
    from gan_pipelines.image_folders import split_key

    return any(split_key(key)[:2] == (split, kind) for key in model_input)


def segmenter_plan(model_input: Mapping[str, Any], ingest_summary: Mapping[str, Any]) -> dict[str, str]:
    """How each domain's class maps are had: ``"decode"`` (colour-coded label pictures),
    ``"segmenter"`` (train class maps present: a segmenter is trained) or ``"none"``."""
    plan = {}
    for domain in DOMAINS:
        if domain == COLOUR_CODED_DOMAIN and ingest_summary.get("label_colours") is not None:
            plan[domain] = "decode"
        elif _has_kind(model_input, "train", labels_kind(domain)):
            plan[domain] = "segmenter"
        else:
            plan[domain] = "none"
    return plan


def _segmenter_params(params, domain: str, num_classes: int, section: str):
    from gan_pipelines.families.paired.config import JudgeParams

    segmenter = params.segmenter
    values = {
        "image_kind": domain, "label_kind": labels_kind(domain), "model": segmenter.model.as_dict(),
        "batch_size": segmenter.batch_size, "lr": segmenter.lr, "num_workers": params.num_workers,
        "augmentation": segmenter.augmentation.model_dump() if segmenter.augmentation is not None else None,
        "training": segmenter.training.as_dict(), "num_classes": num_classes, "ignore_index": None,
    }
    return JudgeParams.parse(values, f"{section}.segmenter_{domain}")


def train_domain_judge(
    model_input: Mapping[str, Callable[[], np.ndarray]], ingest_summary: Mapping[str, Any], params, *,
    section: str, family: str,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train the classifier and the segmenters (see the module docstring); return
    ``(bundle, history)``, the history one row per (network, epoch) with a ``network`` column
    (``classifier``, ``segmenter_A``, ``segmenter_B``). ``params``: validated
    :class:`~gan_pipelines.families.unpaired.config.TrainJudgeParams`; ``ingest_summary``: the
    ingest node's (``label_nc``, ``label_colours``). Raises ValueError naming the key or split
    when a domain lacks train or val pictures, when class maps exist but ``label_nc`` is null, or
    when ``label_colours`` does not fit ``label_nc``."""
    from gan_pipelines.families.paired.judge import train_judge
    from gan_pipelines.image_folders import content_hash, folder_version
    from gan_pipelines.stages.training_setup import checkpoint_bundle, run_training

    classifier = params.classifier
    try:
        net = DomainClassifier(classifier.channels)
    except ValueError as exc:
        raise ValueError(f"{section}.classifier.channels: {exc}") from None
    plan = segmenter_plan(model_input, ingest_summary)
    label_nc = ingest_summary.get("label_nc")
    colours = None
    if "decode" in plan.values():
        colours = check_label_colours(ingest_summary["label_colours"], label_nc)
        label_nc = len(colours) if label_nc is None else label_nc  # the colour code is the class list
    segmented = [labels_kind(domain) for domain, how in plan.items() if how == "segmenter"]
    if segmented and (isinstance(label_nc, bool) or not isinstance(label_nc, int) or label_nc < 2):
        raise ValueError(f"{family}.ingest: the model input holds class maps ({', '.join(segmented)}) but the ingest "
                         f"summary's label_nc is {label_nc!r}; set {family}.ingest.label_nc (>= 2)")

    arrays = {split: {d: _stack_domain(model_input, split, d) for d in DOMAINS} for split in ("train", "val")}
    resolution = [int(v) for v in arrays["train"]["A"].shape[1:3]]
    for split, pair in arrays.items():
        for domain, images in pair.items():
            if list(images.shape[1:3]) != resolution:
                raise ValueError(f"the {split} pictures of domain {domain} are {images.shape[1]}x{images.shape[2]}, "
                                 f"the train pictures of domain A {resolution[0]}x{resolution[1]}: run preprocess")
    if min(resolution) < 2 ** len(net.channels):
        raise ValueError(f"{section}.classifier.channels: {len(net.channels)} stride-2 layers need pictures of at least "
                         f"{2 ** len(net.channels)} px; these are {resolution[0]}x{resolution[1]}")

    def stacked(split: str) -> dict[str, np.ndarray]:
        a, b = arrays[split]["A"], arrays[split]["B"]
        return {"image": np.concatenate([a, b]),
                "domain": np.concatenate([np.zeros(len(a), np.int64), np.ones(len(b), np.int64)])}

    where = f"{section}.classifier"
    config = classifier.training.trainer_config(where, precision=JUDGE_PRECISION)
    settings = {"channels": list(classifier.channels), "lr": classifier.lr, "batch_size": classifier.batch_size,
                "num_workers": params.num_workers, "recolour_p": classifier.recolour_p,
                "augmentation": classifier.augmentation.model_dump() if classifier.augmentation is not None else None}
    logger.info("Judge: domain classifier on %d A + %d B train pictures (val %d + %d)", len(arrays["train"]["A"]),
                len(arrays["train"]["B"]), len(arrays["val"]["A"]), len(arrays["val"]["B"]))
    result = run_training(fit_classifier, (stacked("train"), stacked("val"), settings, config), config)
    accuracy = float(result.best_metrics.get("accuracy", float("nan")))
    logger.info("Judge: classifier best epoch %d, val accuracy %.4f", result.best_epoch, accuracy)

    histories = [result.history.assign(network="classifier")]
    segmenter_states: dict[str, Any] = {}
    segmenter_configs: dict[str, Any] = {}
    segmenter_miou: dict[str, float] = {}
    hash_kinds = ["A", "B"]
    for domain, how in plan.items():
        if how != "segmenter":
            continue
        judge_params = _segmenter_params(params, domain, int(label_nc), section)
        logger.info("Judge: segmenter of domain %s on its train pictures and %s", domain, labels_kind(domain))
        sub_bundle, sub_history = train_judge(model_input, judge_params, section=f"{section}.segmenter_{domain}")
        segmenter_states[domain] = sub_bundle["state_dicts"]["segmenter"]
        segmenter_configs[domain] = dict(sub_bundle["model_config"]["segmenter"])
        segmenter_miou[domain] = float(sub_bundle["val_metrics"].get("miou", float("nan")))
        histories.append(sub_history.assign(network=f"segmenter_{domain}"))
        hash_kinds.append(labels_kind(domain))
    data_hash = content_hash(model_input, hash_kinds, ("train", "val"))
    how_described = {
        "segmenter": "a segmenter trained on this domain's train pictures and class maps",
        "decode": "colour-coded label pictures: class = nearest label colour",
        "none": "no class maps: no content score into this domain",
    }
    bundle = checkpoint_bundle(
        result, modules=("classifier",),
        model_config={
            "classifier": {"channels": list(classifier.channels)},
            "segmenters": segmenter_configs,
            "num_classes": int(label_nc) if isinstance(label_nc, int) and not isinstance(label_nc, bool) else None,
            "label_colours": colours.tolist() if colours is not None else None,
            "colour_coded_domain": COLOUR_CODED_DOMAIN if colours is not None else None,
            "resolution": resolution,
        },
        meta={
            "family": family,
            "network": JUDGE_NETWORK,
            "seed": config.seed,
            "classifier_val_accuracy": accuracy,
            "classifier_best_epoch": int(result.best_epoch),
            "segmenter_val_miou": segmenter_miou,
            "class_maps": {domain: how_described[how] for domain, how in plan.items()},
            "resolution": resolution,
            "data_hash": data_hash,
            "data_hash_kinds": hash_kinds,
            "train_pictures": {d: int(len(arrays["train"][d])) for d in DOMAINS},
            "val_pictures": {d: int(len(arrays["val"][d])) for d in DOMAINS},
            "model_input_version": folder_version(model_input) or "unversioned",
        },
    )
    bundle["meta"]["precision"] = JUDGE_PRECISION  # the segmenters too (the paired judge forces fp32)
    for domain, state in segmenter_states.items():
        bundle["state_dicts"][f"segmenter_{domain}"] = state
    bundle["val_metrics"] = {"classifier_accuracy": accuracy,
                             **{f"segmenter_{d}_miou": v for d, v in segmenter_miou.items()}}
    history = pd.concat(histories, ignore_index=True)
    bundle["history"] = {col: history[col].tolist() for col in history.columns}
    return bundle, history


# --------------------------------------------------------------------------------------------
# The judges at evaluation time
# --------------------------------------------------------------------------------------------


class UnpairedJudge:
    """The trained judges for offline evaluation: uint8 pictures ``(N, H, W, 3)`` of the size
    they were trained at in, numpy out; eval mode, fp32, ``batch_size`` pictures at a time on
    ``device``.

    * :meth:`domain_probabilities`: float64 ``(N, 2)``, P(A), P(B) (softmax of the logits);
    * :meth:`features`: float64 ``(N, D)``, the classifier's pooled features (the project's KID);
    * :meth:`class_maps(domain, images) <class_maps>`: int64 ``(N, H, W)``, the class map that
      ``domain``'s segmenter sees in the pictures, or the decoded label colours of the
      colour-coded domain; :meth:`can_segment` says whether a domain has either.
    """

    def __init__(self, classifier: DomainClassifier, segmenters: Mapping[str, Any], *, resolution: Sequence[int],
                 num_classes: int | None = None, label_colours: Any = None, colour_coded_domain: str | None = None,
                 batch_size: int = 16, device: str | torch.device = "auto", meta: Mapping[str, Any] | None = None):
        from gan_pipelines.training.device import select_device

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.device = device if isinstance(device, torch.device) else select_device(str(device))
        self.classifier = classifier.eval().requires_grad_(False).to(self.device)
        self.segmenters = dict(segmenters)
        self.resolution = tuple(int(v) for v in resolution)
        self.num_classes = num_classes
        self.label_colours = check_label_colours(label_colours, num_classes) if label_colours is not None else None
        self.colour_coded_domain = colour_coded_domain if label_colours is not None else None
        self.batch_size = batch_size
        self.meta = dict(meta or {})

    def _check(self, images: Any) -> np.ndarray:
        array = np.asarray(images)
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"the judges take uint8 RGB pictures (N, H, W, 3), got {array.dtype} {array.shape}")
        if tuple(array.shape[1:3]) != self.resolution:
            raise ValueError(f"the judges were trained on {self.resolution[0]}x{self.resolution[1]} pictures; got "
                             f"{array.shape[1]}x{array.shape[2]} (evaluate at the training resolution)")
        return array

    @torch.inference_mode()
    def probabilities_and_features(self, images: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(domain_probabilities(images), features(images))`` from one pass."""
        array = self._check(images)
        if len(array) == 0:
            return np.zeros((0, 2)), np.zeros((0, self.classifier.feature_size))
        probabilities, features = [], []
        for start in range(0, len(array), self.batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(array[start:start + self.batch_size]))
            batch = chunk.to(self.device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
            pooled = self.classifier.features(batch)
            probabilities.append(torch.softmax(self.classifier.head(pooled).double(), dim=1).cpu().numpy())
            features.append(pooled.double().cpu().numpy())
        return np.concatenate(probabilities), np.concatenate(features)

    def domain_probabilities(self, images: Any) -> np.ndarray:
        return self.probabilities_and_features(images)[0]

    def features(self, images: Any) -> np.ndarray:
        return self.probabilities_and_features(images)[1]

    def can_segment(self, domain: str) -> bool:
        check_domain(domain)
        return domain in self.segmenters or domain == self.colour_coded_domain

    def how(self, domain: str) -> str:
        """How :meth:`class_maps` gets ``domain``'s class maps, in words."""
        if domain == self.colour_coded_domain:
            return "decoded from the label colours (nearest colour)"
        if domain in self.segmenters:
            return f"the segmenter trained on domain {domain}'s real train pictures"
        return "none"

    def class_maps(self, domain: str, images: Any) -> np.ndarray:
        check_domain(domain)
        array = self._check(images)
        if domain == self.colour_coded_domain:
            return decode_label_colours(array, self.label_colours)
        if domain not in self.segmenters:
            raise ValueError(f"domain {domain} has no segmenter (its train pictures had no class maps) and is not "
                             "colour-coded: no class maps can be read from its pictures")
        return self.segmenters[domain].predict(array)


def judge_from_bundle(bundle: Mapping[str, Any], *, batch_size: int = 16, device: str | torch.device = "auto") -> UnpairedJudge:
    """The :class:`UnpairedJudge` of a ``train_judge`` checkpoint of the unpaired families; any
    other checkpoint (``meta.network`` not ``"judge"``, or no classifier) is refused, naming it."""
    from gan_pipelines.library_versions import warn_if_versions_differ
    from gan_pipelines.models.segmenter import SegmentationJudge, build_segmenter

    if not isinstance(bundle, Mapping):
        raise ValueError(f"expected an unpaired judge checkpoint (a dict), got {type(bundle).__name__}")
    meta = bundle.get("meta") or {}
    config = bundle.get("model_config") or {}
    states = bundle.get("state_dicts") or {}
    if meta.get("network") != JUDGE_NETWORK or "classifier" not in states or "classifier" not in config:
        raise ValueError(f"this checkpoint is not an unpaired judge (meta.network {meta.get('network')!r}, networks "
                         f"{sorted(states)}); pass the checkpoint written by <family>.train_judge")
    warn_if_versions_differ(meta, f"the judge checkpoint (trained {meta.get('trained_at', 'at an unknown time')})")
    target_device = device if isinstance(device, torch.device) else None
    if target_device is None:
        from gan_pipelines.training.device import select_device

        target_device = select_device(str(device))
    classifier = DomainClassifier(config["classifier"]["channels"])
    classifier.load_state_dict(states["classifier"])
    resolution = config.get("resolution") or meta.get("resolution")
    segmenters = {}
    for domain, seg_config in (config.get("segmenters") or {}).items():
        seg_config = dict(seg_config)
        num_classes = int(seg_config.pop("num_classes"))
        seg_config["encoder_weights"] = None  # the trained weights replace any pretrained ones
        net = build_segmenter(seg_config, num_classes)
        net.load_state_dict(states[f"segmenter_{domain}"])
        segmenters[domain] = SegmentationJudge(net, resolution=tuple(resolution), batch_size=batch_size,
                                               device=target_device)
    return UnpairedJudge(
        classifier, segmenters, resolution=resolution, num_classes=config.get("num_classes"),
        label_colours=config.get("label_colours"), colour_coded_domain=config.get("colour_coded_domain"),
        batch_size=batch_size, device=target_device, meta=meta,
    )
