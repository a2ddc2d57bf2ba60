"""Shadows for a user's own images: load the trained model once, predict at full resolution.

```python
from gan_pipelines.families.shadow.predict import ShadowPredictor
predictor = ShadowPredictor.from_project(".")          # latest checkpoints from the catalog
result = predictor.predict(image, mask)                # uint8 (H, W, 3), (H, W) 0/255, any size
result.image                                           # same size as the input, shadow added

from gan_pipelines.families.shadow.predict import OnnxShadowPredictor  # the same, from the exported .onnx file
predictor = OnnxShadowPredictor("data/06_models/shadow_model.onnx")   # onnxruntime, no checkpoint
```

The model runs at its training resolution. What it did to each low-resolution pixel is turned into
a shadow ratio (output / input: a cast shadow scales the light a surface gets) and multiplied into
the full-resolution image; pixels the shadow does not reach are left exactly as they were. So a
640x480 photo keeps its detail everywhere, its texture included inside the shadow, which a
low-resolution difference added at full size would flatten. How the ratio reaches full size is
``full_resolution``:

* ``sharp`` (default): the model's shadow with a sharp edge (the iso-line where it reaches half
  its own darkness) and, with ``strength: scene`` (default), the darkness of the scene's own
  shadows where the attention block finds a measurable one
  (:mod:`gan_pipelines.families.shadow.full_resolution`).
* ``upsampled``: the low-resolution ratio upsampled bilinearly (a soft blob at large sizes).
"""

from __future__ import annotations

import logging
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from gan_pipelines.families.shadow import layout
from gan_pipelines.families.shadow.full_resolution import sharpened_shadow, upsample_bilinear
from gan_pipelines.image_inputs import (
    SampleFiles, SampleIndex, check_files, check_sample, format_problems, is_litter, log_notes, read_kind,
)
from gan_pipelines.images import MASK_RULE, MASK_THRESHOLD, encode_png, resize_image, resize_mask, to_binary_mask, to_rgb
from gan_pipelines.onnx_runtime import check_session_providers, onnx_providers  # shared with the paired predictor

if TYPE_CHECKING:
    from gan_pipelines.families.shadow.shadow_direction import LightConsistency
    from gan_pipelines.families.shadow.shadow_strength import StrengthCheck

logger = logging.getLogger(__name__)

# The setting that names the input folder, in the messages about the folder itself.
INPUT_PARAMETER = "shadow.predict.input_dir"

# A layer smaller than this (in [-1, 1] image units, about 1.5 grey levels) is treated as "no
# change", so upsampling noise does not touch pixels away from the shadow.
LAYER_EPSILON = 3.0 / 255.0
# The shadow ratio of a low-resolution pixel is (input + change) / input on [0, 1] images; near
# black inputs make it meaningless, so the input is floored here (0..1) and the ratio clipped.
RATIO_FLOOR = 8.0 / 255.0
RATIO_RANGE = (0.0, 2.0)
FULL_RESOLUTION_MODES = ("sharp", "upsampled")
STRENGTH_MODES = ("scene", "model")  # the sharp shadow's darkness: the scene's shadows', or the model's own


@dataclass
class FullResolutionPrediction:
    """``image``: the input with the shadow added (uint8, input size); ``robject``/``rshadow``:
    predicted attention masks (0/255, input size); ``shadow_layer``: float32 (H, W, 3) change."""

    image: np.ndarray
    robject: np.ndarray
    rshadow: np.ndarray
    shadow_layer: np.ndarray
    sharpened: bool = False  # True when the shadow was sharpened at full size (``full_resolution: sharp``)


def composite_full_resolution(
    image: np.ndarray, small_image: np.ndarray, layer: np.ndarray, robject: np.ndarray, rshadow: np.ndarray, *,
    mask: np.ndarray | None = None, small_mask: np.ndarray | None = None, full_resolution: str = "upsampled",
    steepness: float = 2.0, strength: str = "scene",
) -> FullResolutionPrediction:
    """Apply a shadow predicted at the model's resolution to the full-size ``image``.

    ``small_image`` uint8 (h, w, 3) is what the model saw and ``layer`` float32 (h, w, 3) in
    [-1, 1] image units what it changed there. Their ratio ``(small + change) / small`` (on
    [0, 1] images, the input floored at :data:`RATIO_FLOOR`, the ratio clipped to
    :data:`RATIO_RANGE`) reaches full size by ``full_resolution`` (module docstring):
    ``upsampled`` interpolates it bilinearly and multiplies ``image`` where the upsampled layer is
    above :data:`LAYER_EPSILON`; ``sharp`` (needs ``mask`` (H, W) and ``small_mask`` (h, w), the
    inserted object, 0/255) uses
    :func:`~gan_pipelines.families.shadow.full_resolution.sharpened_shadow` with ``steepness``
    and, for ``strength: scene``, the darkening of the scene's own shadows where ``rshadow`` finds
    a measurable one (:func:`~gan_pipelines.families.shadow.shadow_strength.scene_darkening`;
    else the model's), and falls back to ``upsampled`` when the model darkened nothing. The
    object's own pixels and every pixel the shadow does not reach are returned unchanged.
    ``robject``/``rshadow`` (h, w) 0/255 masks are resized nearest-neighbour. The returned
    ``shadow_layer`` is the change applied at full size, in [-1, 1] image units. Raises
    ValueError for unknown modes or ``sharp`` without the masks."""
    _check_full_resolution(full_resolution, steepness, strength)
    height, width = image.shape[:2]
    small = small_image.astype(np.float32) / 255.0
    ratio = np.clip((small + layer / 2.0) / np.maximum(small, RATIO_FLOOR), *RATIO_RANGE)
    sharp = None
    if full_resolution == "sharp":
        if mask is None or small_mask is None:
            raise ValueError("full_resolution 'sharp' needs the object's mask at both sizes (mask, small_mask)")
        target = (lambda: _scene_darkening(image, robject, rshadow, mask)) if strength == "scene" else (lambda: None)
        sharp = _sharp_ratio(ratio, layer, small_mask, (height, width), steepness, target)
    if sharp is not None:
        unchanged = (mask >= MASK_THRESHOLD) | (sharp >= 1.0).all(axis=2)
        shaded = np.clip(image.astype(np.float32) * sharp, 0, 255).round().astype(np.uint8)
        shaded = np.where(unchanged[..., None], image, shaded)
    else:
        # One interpolation for both: channels 0-2 the ratio, 3-5 the layer.
        upsampled = upsample_bilinear(np.concatenate([ratio, layer], axis=2), height, width)
        active = np.abs(upsampled[..., 3:]).max(axis=2) > LAYER_EPSILON
        shaded = np.clip(image.astype(np.float32) * upsampled[..., :3], 0, 255).round().astype(np.uint8)
        shaded = np.where(active[..., None], shaded, image)
    return FullResolutionPrediction(
        image=shaded,
        robject=resize_mask(robject, (height, width)),
        rshadow=resize_mask(rshadow, (height, width)),
        shadow_layer=((shaded.astype(np.float32) - image.astype(np.float32)) / 127.5).astype(np.float32),
        sharpened=sharp is not None,
    )


def _scene_darkening(image: np.ndarray, robject: np.ndarray, rshadow: np.ndarray, mask: np.ndarray) -> float | None:
    """The scene's own shadows' darkening at full size, or None when it cannot be measured or is
    too faint to copy (the strength measure's own rules)."""
    from gan_pipelines.families.shadow.shadow_strength import MIN_SCENE_DARKENING, scene_darkening

    size = image.shape[:2]
    value, _, reason = scene_darkening(image, resize_mask(robject, size), resize_mask(rshadow, size), mask >= MASK_THRESHOLD)
    return None if reason or not MIN_SCENE_DARKENING <= value < 1.0 else float(value)


def _sharp_ratio(ratio: np.ndarray, layer: np.ndarray, small_mask: np.ndarray, size: tuple[int, int], steepness: float,
                 darkening: Callable[[], float | None]) -> np.ndarray | None:
    """:func:`sharpened_shadow` of the model's shadow region: the evaluation's rule at its
    resolution (grey ``|change|`` above the evaluation's threshold, 0..255, darker, outside the
    object). ``darkening`` is asked only when that region is not empty (the scene's measure runs
    distance transforms on the full-size photo)."""
    from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD

    outside = small_mask < MASK_THRESHOLD
    darkened = (np.abs(layer).mean(axis=2) * 127.5 > SHADOW_DIFF_THRESHOLD) & (layer.mean(axis=2) < 0) & outside
    if not darkened.any():
        return None
    return sharpened_shadow(ratio, darkened, size, steepness=steepness, darkening=darkening())


class _FullResolutionPredictor:
    """``predict`` for any backend: check the pair, resize it to the model's resolution, run
    :meth:`_predict_small`, composite at full resolution (``full_resolution``, ``steepness``,
    ``strength``: see :func:`composite_full_resolution`). Subclasses set ``resolution``."""

    resolution: int
    full_resolution: str = "sharp"
    steepness: float = 2.0
    strength: str = "scene"

    def _predict_small(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 (r, r, 3) image + 0/255 (r, r) mask -> (float32 (r, r, 3) shadow layer,
        0/255 (r, r) robject, 0/255 (r, r) rshadow)."""
        raise NotImplementedError

    def predict(self, image: np.ndarray, mask: np.ndarray, *, name: str = "image") -> FullResolutionPrediction:
        """Add a shadow for the object in ``mask`` to ``image`` (any size, same size as the mask).

        ``image``: uint8 (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA; ``mask``: uint8 (H, W),
        (H, W, 3) or (H, W, 4), read by the project's one mask rule
        (:data:`gan_pipelines.images.MASK_RULE`). Raises ValueError when the sizes differ or the
        mask marks nothing (no object: no shadow to add)."""
        image = to_rgb(np.asarray(image), name=name)
        mask, _ = to_binary_mask(np.asarray(mask), name=f"{name} mask")
        if image.shape[:2] != mask.shape:
            raise ValueError(
                f"{name}: image is {image.shape[1]}x{image.shape[0]} but its mask is {mask.shape[1]}x{mask.shape[0]}"
            )
        if not mask.any():
            raise ValueError(f"{name}: the mask is empty: no pixel marks the object ({MASK_RULE})")
        size = (self.resolution, self.resolution)
        small_image, small_mask = resize_image(image, size), resize_mask(mask, size)
        layer, robject, rshadow = self._predict_small(small_image, small_mask)
        return composite_full_resolution(image, small_image, layer, robject, rshadow, mask=mask, small_mask=small_mask,
                                         full_resolution=self.full_resolution, steepness=self.steepness, strength=self.strength)


def _check_full_resolution(full_resolution: str, steepness: float, strength: str) -> tuple[str, float, str]:
    if full_resolution not in FULL_RESOLUTION_MODES:
        raise ValueError(f"full_resolution must be one of {FULL_RESOLUTION_MODES}, got {full_resolution!r}")
    if not steepness >= 1:
        raise ValueError(f"steepness must be >= 1 (the sharp edge's slope; 1 = the upsampled fade), got {steepness!r}")
    if strength not in STRENGTH_MODES:
        raise ValueError(f"strength must be one of {STRENGTH_MODES}, got {strength!r}")
    return full_resolution, float(steepness), strength


class ShadowPredictor(_FullResolutionPredictor):
    """The trained attention + generator pair in PyTorch, ready to predict on arrays.

    ``precision``: ``"auto"`` (bf16 where the device has it, else fp32), ``"fp32"``, ``"bf16"``
    or ``"fp16"`` (CUDA only), as for training. ``full_resolution``: ``"sharp"`` (default) or
    ``"upsampled"``, ``steepness`` (>= 1) and ``strength`` (``"scene"`` or ``"model"``): how the
    shadow reaches the photo's size (:func:`composite_full_resolution`). Raises ValueError for
    other values.

    ``compile``: run both blocks' convolutional parts (encoder, decoder, refinement) through
    ``torch.compile`` with freezing (:mod:`gan_pipelines.training.compiled_inference`), compiled
    here on a blank picture (15-25 s on 2 cores for the default model, once per process and model,
    cached on disk), then faster on every picture; where compiling fails they run eagerly.
    ``compiled`` says which: ``"off"``, ``"compiled"`` or ``"eager: <why>"``."""

    def __init__(
        self, attention_bundle: Mapping[str, Any], generator_bundle: Mapping[str, Any], device: str = "auto", precision: str = "auto",
        *, full_resolution: str = "sharp", steepness: float = 2.0, strength: str = "scene", compile: bool = False,
    ) -> None:
        from gan_pipelines.families.shadow.bundles import shadow_inference_from_bundles
        from gan_pipelines.training import ready_for_inference, select_device, select_precision
        from gan_pipelines.training.compiled_inference import check_compile_setting

        self.full_resolution, self.steepness, self.strength = _check_full_resolution(full_resolution, steepness, strength)
        check_compile_setting(compile)
        self.model, self.resolution = shadow_inference_from_bundles(attention_bundle, generator_bundle)
        self.device = select_device(device)
        self.precision = select_precision(self.device, precision)
        ready_for_inference(self.model, self.device)  # once, here: predict_shadows then finds it ready
        self._compiled_parts = None
        if compile:
            self._compile()

    @property
    def compiled(self) -> str:
        """``"off"``, ``"compiled"`` or ``"eager: <why compiling failed>"``."""
        from gan_pipelines.training.compiled_inference import combined_status

        return combined_status(self._compiled_parts)

    def _compile(self) -> None:
        from gan_pipelines.training.compiled_inference import compile_for_inference

        # The convolutional parts, where the time goes; the input checks, the projection hint
        # and the thresholding between the blocks stay eager (they would split the graph).
        parts = [(block, name) for block in (self.model.attention, self.model.generator)
                 for name in ("encoder", "decoder", "refinement") if hasattr(block, name)]
        for block, name in parts:
            setattr(block, name, compile_for_inference(getattr(block, name)))
        side = self.resolution
        blank_mask = np.zeros((side, side), np.uint8)
        blank_mask[side // 2 :, side // 2 :] = 255
        self._compiled_parts = [getattr(block, name) for block, name in parts]
        self._predict_small(np.full((side, side, 3), 128, np.uint8), blank_mask)  # compiles, at the one size the model sees

    @classmethod
    def from_project(
        cls, project_path: str | Path = ".", *, env: str | None = None, load_versions: dict[str, str] | None = None,
        device: str = "auto", precision: str = "auto", **options: Any,
    ) -> "ShadowPredictor":
        """Load the latest (or pinned) checkpoints through the project's Kedro catalog;
        ``options`` go to the constructor (``full_resolution``, ``compile``, ...)."""
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        project_path = Path(project_path).resolve()
        bootstrap_project(project_path)
        with KedroSession.create(project_path=project_path, env=env) as session:
            catalog = session.load_context()._get_catalog(load_versions=load_versions)
            return cls(catalog.load("shadow.attention_checkpoint"), catalog.load("shadow.generator_checkpoint"), device, precision,
                       **options)

    def _predict_small(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from gan_pipelines.families.shadow.inference import predict_shadows

        small = predict_shadows(
            self.model, image[None], mask[None], device=self.device, autocast_dtype=self.precision.autocast_dtype
        )
        return small.shadow_layer[0], small.robject[0], small.rshadow[0]


def _onnx_input_image(image: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [-1, 1], as the torch path computes it."""
    return np.ascontiguousarray(image.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(127.5) - np.float32(1.0))


def _onnx_input_mask(mask: np.ndarray) -> np.ndarray:
    """0/255 (N, H, W) -> float32 (N, 1, H, W) in {-1, 1}."""
    return np.where(mask >= MASK_THRESHOLD, np.float32(1.0), np.float32(-1.0))[:, None]


def _omp_num_threads() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


class OnnxShadowPredictor(_FullResolutionPredictor):
    """The exported model (``kedro run --pipelines shadow.export``) run with onnxruntime; gives the
    same :class:`FullResolutionPrediction` as :class:`ShadowPredictor`, computed in fp32.

    The resolution and threshold come from the file's metadata: no checkpoint is needed.
    ``device``: ``auto`` (CUDA when onnxruntime has it, else CPU), ``cpu``, ``cuda[:index]``.
    ``num_threads``: onnxruntime's intra-op threads (default: ``OMP_NUM_THREADS`` when set, as
    PyTorch does, else onnxruntime's choice: one per physical core). ``full_resolution`` and
    ``steepness`` and ``strength`` as for :class:`ShadowPredictor`."""

    def __init__(self, onnx_path: str | Path, device: str = "auto", *, num_threads: int | None = None,
                 full_resolution: str = "sharp", steepness: float = 2.0, strength: str = "scene") -> None:
        from gan_pipelines.families.shadow.export import parse_metadata

        self.full_resolution, self.steepness, self.strength = _check_full_resolution(full_resolution, steepness, strength)

        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - onnxruntime is a dependency
            raise ImportError("The onnx backend needs onnxruntime: pip install onnxruntime") from exc
        path = Path(onnx_path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model {str(path)!r} does not exist; create it with `kedro run --pipelines shadow.export`")
        options = ort.SessionOptions()
        num_threads = num_threads or _omp_num_threads()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
            options.inter_op_num_threads = 1
        providers = onnx_providers(device, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own types for unreadable models
            raise ValueError(f"{path} is not a model onnxruntime can load: {exc}") from exc
        self.path = path
        self.providers = self.session.get_providers()
        check_session_providers(device, providers, self.providers, str(path))
        self.metadata = parse_metadata(self.session.get_modelmeta().custom_metadata_map, source=str(path))
        self.resolution = self.metadata["resolution"]
        self.threshold = self.metadata["threshold"]
        logger.info("onnxruntime: %s (%d px) on %s", path, self.resolution, ", ".join(self.providers))

    def run(self, noshadow: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The raw model on uint8 (N, r, r, 3) images and 0/255 (N, r, r) masks: (result,
        shadow_layer, attention probabilities) float32 arrays, NCHW as the graph returns them."""
        result, layer, probs = self.session.run(
            ["result", "shadow_layer", "attention"], {"noshadow": _onnx_input_image(noshadow), "mask": _onnx_input_mask(mask)}
        )
        return result, layer, probs

    def _predict_small(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, layer, probs = self.run(image[None], mask[None])
        binary = (probs[0] > np.float32(self.threshold)).astype(np.uint8) * 255
        return layer[0].transpose(1, 2, 0), binary[0], binary[1]


def _list_inputs(input_dir: str | Path, parameter: str = INPUT_PARAMETER) -> tuple[Path, SampleIndex]:
    """List ``input_dir/{noshadow,mask}/`` by the shared input rules (litter ignored, non-image
    files and sub-folders reported, names compared in Unicode NFC)."""
    root = Path(input_dir)
    if not root.is_dir():
        raise ValueError(f"{parameter} {str(root)!r} is not a folder")
    folders = {kind: root / kind for kind in layout.INFERENCE_KINDS}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise ValueError(
            f"{parameter} must hold noshadow/ and mask/ folders with matching file names; missing {', '.join(missing)}"
        )
    samples, litter = SampleIndex(), []
    for kind, folder in folders.items():
        for path in sorted(folder.iterdir()):
            shown = f"{kind}/{path.name}"
            if is_litter(path.name):
                litter.append(shown)
            elif path.is_dir():
                for inner in sorted(p for p in path.rglob("*") if p.is_file() and not is_litter(p.name)):
                    samples.add_problem("", inner.name, f"{kind}/{inner.relative_to(folder).as_posix()}: inside a "
                                        f"sub-folder of {kind}/ (files must sit directly in it)")
            else:
                samples.add("", kind, path.name, path, shown=shown)
    if litter:
        logger.debug("Ignored %d hidden/system file(s) in %s (e.g. %s)", len(litter), root, litter[0])
    return root, samples


def find_input_pairs(input_dir: str | Path, *, parameter: str = INPUT_PARAMETER) -> list[tuple[str, Path, Path]]:
    """``input_dir/noshadow/<name>.<png|jpg>`` + ``input_dir/mask/<name>.<png|jpg>`` -> sorted
    (name, image path, mask path), paired by the rules ingest uses
    (:mod:`gan_pipelines.image_inputs`): names compared in Unicode NFC (``name`` is the NFC
    form), OS litter ignored. Nothing is decoded here.

    Raises ValueError listing every problem at once: a missing folder, a name with no image or
    no mask, two files for one name (``a.png`` and ``a.jpg``, or one name in two Unicode
    forms), non-image files, files in sub-folders, no images at all. ``parameter`` names the
    setting that gave ``input_dir`` in those messages (default ``shadow.predict.input_dir``)."""
    root, samples = _list_inputs(input_dir, parameter)
    problems, pairs = [], []
    for sample in samples:
        reasons, chosen = check_files(sample, layout.INFERENCE_KINDS)
        if reasons:
            problems.append((sample.label, "; ".join(reasons)))
        else:
            pairs.append((sample.name, chosen["noshadow"][1], chosen["mask"][1]))
    if problems:
        raise ValueError(format_problems(problems, f"{len(problems)} problem(s) in {root}:"))
    if not pairs:
        raise ValueError(f"{parameter} {str(root)!r} has no images in noshadow/")
    return pairs


def _mask_threshold(mask_threshold: float | None) -> float:
    """The generated-shadow threshold (0..255 grey ``|output - input|``), default the evaluation's."""
    from gan_pipelines.families.shadow.evaluation import SHADOW_DIFF_THRESHOLD

    threshold = SHADOW_DIFF_THRESHOLD if mask_threshold is None else float(mask_threshold)
    if not math.isfinite(threshold) or threshold < 0:
        raise ValueError(f"shadow.predict.mask_threshold must be a number >= 0 (0..255 scale), got {mask_threshold!r}")
    return threshold


def check_input_pairs(pairs: list[tuple[str, Path, Path]], input_dir: str | Path) -> None:
    """Decode every pair of :func:`find_input_pairs` by the rules ingest uses
    (:func:`gan_pipelines.image_inputs.check_sample`: orientation applied, 16-bit scaled, the
    size limit :data:`gan_pipelines.images.MAX_IMAGE_PIXELS`, the one mask rule, an empty mask
    refused, image and mask of one size); the arrays are dropped. Logs one line per kind of
    conversion. Raises ValueError listing every bad input (``<name>: <file>: <why>``)."""
    kind_types = {kind: layout.KIND_TYPES[kind] for kind in layout.INFERENCE_KINDS}
    problems, notes = [], defaultdict(list)
    for name, image_path, mask_path in pairs:
        sample = SampleFiles("", name)
        sample.files["noshadow"].append((f"noshadow/{image_path.name}", image_path))
        sample.files["mask"].append((f"mask/{mask_path.name}", mask_path))
        checked = check_sample(sample, Path.read_bytes, kind_types, layout.INFERENCE_KINDS,
                               object_mask_kinds=layout.OBJECT_MASK_KINDS)
        if checked.reasons:
            problems.append((name, "; ".join(checked.reasons)))
        for note, where in checked.notes.items():
            notes[note].extend(where)
    if problems:
        raise ValueError(format_problems(problems, f"{len(problems)} bad input(s) in {input_dir}:"))
    log_notes(logger, notes, str(input_dir))


class PairPrediction(NamedTuple):
    """One predicted input pair of :func:`predict_pairs`.

    ``name``: the sample's NFC name; ``image``: the input as shown, uint8 (H, W, 3); ``mask``:
    the object mask, uint8 (H, W) 0/255; ``result``: the model's output at the input's size;
    ``check``: the light-consistency check of ``result.image`` against ``image``; ``strength``:
    the shadow strength of ``result.image`` against the scene's own shadows
    (:func:`~gan_pipelines.families.shadow.shadow_strength.shadow_strength`)."""

    name: str
    image: np.ndarray
    mask: np.ndarray
    result: FullResolutionPrediction
    check: "LightConsistency"
    strength: "StrengthCheck | None" = None

    @property
    def object_mask(self) -> np.ndarray:
        """The inserted object, bool (H, W)."""
        return self.mask >= MASK_THRESHOLD


def predict_pairs(
    predictor: _FullResolutionPredictor, input_dir: str | Path, mask_threshold: float | None = None, *,
    pairs: list[tuple[str, Path, Path]] | None = None, parameter: str = INPUT_PARAMETER,
) -> Iterator[PairPrediction]:
    """Predict every pair of ``input_dir`` at full resolution and check its light consistency;
    nothing is written.

    Every input is listed (:func:`find_input_pairs`, or the ``pairs`` it already gave) and
    decoded (:func:`check_input_pairs`) when this is called, before the first prediction: bad
    inputs raise ValueError here, listing all of them (``parameter`` names the setting in the
    messages about the folder itself). The returned iterator then reads one pair at a time, as
    every entry point reads images (:func:`gan_pipelines.image_inputs.read_kind`), so memory holds
    one full-size image, and yields a :class:`PairPrediction` per pair, in name order.

    The light-consistency check
    (:func:`gan_pipelines.families.shadow.shadow_direction.light_consistency`) compares the
    direction of the generated shadow (pixels outside the object whose grey ``|output - input| >
    mask_threshold``, 0..255, default the evaluation's 10) with the scene's, estimated from the
    predicted ``robject``/``rshadow``. The shadow strength
    (:func:`gan_pipelines.families.shadow.shadow_strength.shadow_strength`) compares the generated
    shadow's darkening with that of the scene's own shadows (the predicted ``rshadow``), with the
    same threshold. Raises ValueError for a negative or non-finite threshold."""
    threshold = _mask_threshold(mask_threshold)
    pairs = find_input_pairs(input_dir, parameter=parameter) if pairs is None else pairs
    check_input_pairs(pairs, input_dir)
    return _predict_each(predictor, pairs, threshold)


def _predict_each(
    predictor: _FullResolutionPredictor, pairs: list[tuple[str, Path, Path]], threshold: float
) -> Iterator[PairPrediction]:
    from gan_pipelines.families.shadow.shadow_direction import light_consistency
    from gan_pipelines.families.shadow.shadow_strength import shadow_strength

    for name, image_path, mask_path in pairs:
        image = read_kind(image_path.read_bytes(), layout.KIND_TYPES["noshadow"], name=str(image_path))[0]
        mask = read_kind(mask_path.read_bytes(), layout.KIND_TYPES["mask"], name=str(mask_path))[0]
        result = predictor.predict(image, mask, name=name)
        check = light_consistency(result.image, image, mask >= MASK_THRESHOLD, result.robject, result.rshadow,
                                  mask_threshold=threshold)
        strength = shadow_strength(result.image, image, mask >= MASK_THRESHOLD, result.robject, result.rshadow,
                                   mask_threshold=threshold)
        yield PairPrediction(name, image, mask, result, check, strength)


OUTPUT_KINDS = ("shadow", "robject", "rshadow")
OVERLAY_KIND = "overlay"


def predict_folder(
    predictor: ShadowPredictor | OnnxShadowPredictor, input_dir: str | Path, output_dir: str | Path, *,
    mask_threshold: float | None = None, overlays: bool = True,
) -> dict[str, Any]:
    """Predict every pair of ``input_dir`` and write ``output_dir/{shadow,robject,rshadow}/<name>.png``,
    plus ``output_dir/overlay/<name>.png`` when ``overlays`` is true.

    Each output is also checked for light consistency without ground truth
    (:func:`gan_pipelines.families.shadow.shadow_direction.light_consistency`, the project's own
    check): the direction of the generated shadow (pixels outside the object whose grey
    ``|output - input| > mask_threshold``, default the evaluation's 10 on the 0..255 scale) from
    the object's contact point, against the scene's shadow direction estimated from the predicted
    ``robject``/``rshadow``. The summary's ``light_consistency`` maps each name to its angles
    (degrees, image coordinates: 0 right, 90 down), ``light_angle_diff_deg`` (0..180),
    ``light_consistency`` (1 - diff / 180, 0..1; null with ``light_note`` saying why, e.g. no
    occluder shadow in the scene). The summary's ``shadow_strength`` maps each name to the
    project's own strength measure (:mod:`gan_pipelines.families.shadow.shadow_strength`):
    ``shadow_darkening`` (median darkening ``1 - luma(output) / luma(input)`` over the pixels the
    generated shadow darkens, 0..1), ``shadow_darkening_darkest5`` (their 95th percentile),
    ``scene_shadow_darkening`` (the scene's own shadows, predicted ``rshadow``, against the lit
    ground around them) and ``shadow_strength`` (the ratio, 1 = as dark as the scene's shadows;
    null with ``strength_note`` saying why). ``full_resolution`` is the predictor's mode and
    ``sharpened`` maps each name to whether its shadow was sharpened at full size (false: the
    model darkened nothing, or the mode is ``upsampled``). The overlay shows the output
    with the object's outline (yellow), its shadow's direction (red arrow) and the scene's (cyan arrow).

    Every input is listed and decoded by the rules ingest uses before anything is written
    (:func:`predict_pairs`, which does the listing, checking and predicting), and existing output
    files are never overwritten: the call stops with the list of files in the way. Outputs have
    the input's size as shown (EXIF orientation applied) and its NFC name. Raises ValueError
    listing every bad input."""
    from tqdm.auto import tqdm

    from gan_pipelines.families.shadow.shadow_direction import DIRECTION_CONVENTION, draw_direction_overlay
    from gan_pipelines.families.shadow.shadow_strength import STRENGTH_DEFINITION

    threshold = _mask_threshold(mask_threshold)
    pairs = find_input_pairs(input_dir)
    output = Path(output_dir)
    kinds = OUTPUT_KINDS + ((OVERLAY_KIND,) if overlays else ())
    targets = {name: {kind: output / kind / f"{name}.png" for kind in kinds} for name, _, _ in pairs}
    existing = [str(path) for paths in targets.values() for path in paths.values() if path.exists()]
    if existing:
        raise FileExistsError(
            f"shadow.predict.output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
            "choose another output_dir or move them away: nothing is overwritten"
        )
    predictions = predict_pairs(predictor, input_dir, threshold, pairs=pairs)  # raises here for bad inputs

    for kind in kinds:
        (output / kind).mkdir(parents=True, exist_ok=True)
    sizes, light, strength, sharpened = {}, {}, {}, {}
    for done in tqdm(predictions, total=len(pairs), desc="predict", unit="image"):
        name, image, result = done.name, done.image, done.result
        for kind, array in (("shadow", result.image), ("robject", result.robject), ("rshadow", result.rshadow)):
            targets[name][kind].write_bytes(encode_png(array))
        light[name] = done.check.as_row()
        strength[name] = done.strength.as_row()
        if overlays:
            targets[name][OVERLAY_KIND].write_bytes(encode_png(draw_direction_overlay(result.image, done.object_mask, done.check)))
        sizes[name] = f"{image.shape[1]}x{image.shape[0]}"
        sharpened[name] = result.sharpened
    logger.info("Wrote %d predictions to %s", len(pairs), output)
    scores = [row["light_consistency"] for row in light.values() if row["light_consistency"] is not None]
    logger.info(
        "Light consistency (1 = the generated shadow points where the occluders' shadows do): %s",
        f"mean {sum(scores) / len(scores):.3f} over {len(scores)} of {len(light)} image(s)" if scores
        else f"not scored for any of {len(light)} image(s) ({next(iter(light.values()))['light_note']})",
    )
    ratios = [row["shadow_strength"] for row in strength.values() if row["shadow_strength"] is not None]
    logger.info(
        "Shadow strength (generated shadow's darkening / the scene's own shadows'; 1 = as dark): %s",
        f"median {float(np.median(ratios)):.3f} over {len(ratios)} of {len(strength)} image(s)" if ratios
        else f"not scored for any of {len(strength)} image(s) ({next(iter(strength.values()))['strength_note']})",
    )
    return {"input_dir": str(input_dir), "output_dir": str(output), "num_images": len(pairs), "sizes": sizes,
            "model_resolution": predictor.resolution, "full_resolution": predictor.full_resolution,
            "sharpened": sharpened, "light_consistency": light,
            "light_consistency_definition": DIRECTION_CONVENTION, "shadow_strength": strength,
            "shadow_strength_definition": STRENGTH_DEFINITION, "mask_threshold": threshold}
