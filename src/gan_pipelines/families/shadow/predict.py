"""Shadows for a user's own images: load the trained model once, predict at full resolution.

```python
from gan_pipelines.families.shadow.predict import ShadowPredictor
predictor = ShadowPredictor.from_project(".")          # latest checkpoints from the catalog
result = predictor.predict(image, mask)                # uint8 (H, W, 3), (H, W) 0/255, any size
result.image                                           # same size as the input, shadow added

from gan_pipelines.families.shadow.predict import OnnxShadowPredictor  # the same, from the exported .onnx file
predictor = OnnxShadowPredictor("data/06_models/shadow_model.onnx")   # onnxruntime, no checkpoint
```

The model runs at its training resolution; the predicted shadow layer is upsampled and added to
the image at full resolution, and pixels where the layer is negligible are left exactly as they
were, so a 640x480 photo keeps its detail everywhere but in the shadow.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gan_pipelines.images import (
    IMAGE_SUFFIXES, MASK_THRESHOLD, ImageError, encode_png, read_image, resize_image, resize_mask, to_binary_mask, to_rgb,
)

logger = logging.getLogger(__name__)

# A layer smaller than this (in [-1, 1] image units, about 1.5 grey levels) is treated as "no
# change", so upsampling noise does not touch pixels away from the shadow.
LAYER_EPSILON = 3.0 / 255.0


@dataclass
class FullResolutionPrediction:
    """``image``: the input with the shadow added (uint8, input size); ``robject``/``rshadow``:
    predicted attention masks (0/255, input size); ``shadow_layer``: float32 (H, W, 3) change."""

    image: np.ndarray
    robject: np.ndarray
    rshadow: np.ndarray
    shadow_layer: np.ndarray


def composite_full_resolution(
    image: np.ndarray, layer: np.ndarray, robject: np.ndarray, rshadow: np.ndarray
) -> FullResolutionPrediction:
    """Apply a shadow layer predicted at the model's resolution to the full-size ``image``.

    ``layer`` float32 (h, w, 3) in [-1, 1] image units is upsampled bilinearly to the image's
    size and added where it is above :data:`LAYER_EPSILON`; every other pixel is returned
    unchanged. ``robject``/``rshadow`` (h, w) 0/255 masks are resized nearest-neighbour."""
    import torch
    import torch.nn.functional as F

    height, width = image.shape[:2]
    small = torch.from_numpy(np.ascontiguousarray(layer, dtype=np.float32)).permute(2, 0, 1)[None]
    layer = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
    active = np.abs(layer).max(axis=2) > LAYER_EPSILON
    shaded = np.clip((image.astype(np.float32) / 127.5 - 1.0 + layer + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
    return FullResolutionPrediction(
        image=np.where(active[..., None], shaded, image),
        robject=resize_mask(robject, (height, width)),
        rshadow=resize_mask(rshadow, (height, width)),
        shadow_layer=np.where(active[..., None], layer, 0.0).astype(np.float32),
    )


class _FullResolutionPredictor:
    """``predict`` for any backend: check the pair, resize it to the model's resolution, run
    :meth:`_predict_small`, composite at full resolution. Subclasses set ``resolution``."""

    resolution: int

    def _predict_small(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """uint8 (r, r, 3) image + 0/255 (r, r) mask -> (float32 (r, r, 3) shadow layer,
        0/255 (r, r) robject, 0/255 (r, r) rshadow)."""
        raise NotImplementedError

    def predict(self, image: np.ndarray, mask: np.ndarray, *, name: str = "image") -> FullResolutionPrediction:
        """Add a shadow for the object in ``mask`` to ``image`` (any size, same size as the mask)."""
        image = to_rgb(np.asarray(image), name=name)
        mask, _ = to_binary_mask(np.asarray(mask), name=f"{name} mask")
        if image.shape[:2] != mask.shape:
            raise ValueError(
                f"{name}: image is {image.shape[1]}x{image.shape[0]} but its mask is {mask.shape[1]}x{mask.shape[0]}"
            )
        size = (self.resolution, self.resolution)
        layer, robject, rshadow = self._predict_small(resize_image(image, size), resize_mask(mask, size))
        return composite_full_resolution(image, layer, robject, rshadow)


class ShadowPredictor(_FullResolutionPredictor):
    """The trained attention + generator pair in PyTorch, ready to predict on arrays.

    ``precision``: ``"auto"`` (bf16 where the device has it, else fp32), ``"fp32"``, ``"bf16"``
    or ``"fp16"`` (CUDA only), as for training."""

    def __init__(
        self, attention_bundle: Mapping[str, Any], generator_bundle: Mapping[str, Any], device: str = "auto", precision: str = "auto"
    ) -> None:
        from gan_pipelines.families.shadow.bundles import shadow_inference_from_bundles
        from gan_pipelines.training import select_device, select_precision

        self.model, self.resolution = shadow_inference_from_bundles(attention_bundle, generator_bundle)
        self.device = select_device(device)
        self.precision = select_precision(self.device, precision)
        self.model.to(self.device).eval()

    @classmethod
    def from_project(
        cls, project_path: str | Path = ".", *, env: str | None = None, load_versions: dict[str, str] | None = None,
        device: str = "auto", precision: str = "auto",
    ) -> "ShadowPredictor":
        """Load the latest (or pinned) checkpoints through the project's Kedro catalog."""
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        project_path = Path(project_path).resolve()
        bootstrap_project(project_path)
        with KedroSession.create(project_path=project_path, env=env) as session:
            catalog = session.load_context()._get_catalog(load_versions=load_versions)
            return cls(catalog.load("shadow.attention_checkpoint"), catalog.load("shadow.generator_checkpoint"), device, precision)

    def _predict_small(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from gan_pipelines.families.shadow.inference import predict_shadows

        small = predict_shadows(
            self.model, image[None], mask[None], device=self.device, autocast_dtype=self.precision.autocast_dtype
        )
        return small.shadow_layer[0], small.robject[0], small.rshadow[0]


def onnx_providers(device: str, available: list[str]) -> list[str | tuple[str, dict[str, Any]]]:
    """onnxruntime execution providers for a ``device`` preference (``auto``, ``cpu``, ``cuda``,
    ``cuda:<index>``), given the providers this onnxruntime build ``available``."""
    preference = str(device).strip().lower()
    kind, _, index = preference.partition(":")
    has_cuda = "CUDAExecutionProvider" in available
    if preference == "auto":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"] if has_cuda else ["CPUExecutionProvider"]
    if preference == "cpu":
        return ["CPUExecutionProvider"]
    if kind == "cuda" and (not index or index.isdigit()):
        if not has_cuda:
            raise ValueError(
                f"device {device!r} was requested but this onnxruntime has no CUDAExecutionProvider "
                f"(available: {', '.join(available)}); install onnxruntime-gpu or use device 'cpu' or 'auto'"
            )
        return [("CUDAExecutionProvider", {"device_id": int(index or 0)}), "CPUExecutionProvider"]
    raise ValueError(f"device {device!r} is not understood by the onnx backend; use 'auto', 'cpu', 'cuda' or 'cuda:<index>'")


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
    PyTorch does, else onnxruntime's choice: one per physical core)."""

    def __init__(self, onnx_path: str | Path, device: str = "auto", *, num_threads: int | None = None) -> None:
        from gan_pipelines.families.shadow.export import parse_metadata

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


def find_input_pairs(input_dir: str | Path) -> list[tuple[str, Path, Path]]:
    """``input_dir/noshadow/<name>.<png|jpg>`` + ``input_dir/mask/<name>.<png|jpg>`` -> sorted
    (name, image path, mask path). Raises ValueError listing every problem at once."""
    root = Path(input_dir)
    if not root.is_dir():
        raise ValueError(f"shadow.predict.input_dir {str(root)!r} is not a folder")
    folders = {kind: root / kind for kind in ("noshadow", "mask")}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise ValueError(
            f"shadow.predict.input_dir must hold noshadow/ and mask/ folders with matching file names; missing {', '.join(missing)}"
        )
    problems, files = [], {}
    for kind, folder in folders.items():
        files[kind] = {}
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                problems.append(f"{path}: not a PNG or JPEG file")
                continue
            files[kind][path.stem] = path
    for name in sorted(set(files["noshadow"]) - set(files["mask"])):
        problems.append(f"{files['noshadow'][name]}: no mask (expected {folders['mask'] / name}.png)")
    for name in sorted(set(files["mask"]) - set(files["noshadow"])):
        problems.append(f"{files['mask'][name]}: mask without an image")
    if problems:
        raise ValueError(f"{len(problems)} problem(s) in {root}:\n  " + "\n  ".join(problems))
    if not files["noshadow"]:
        raise ValueError(f"shadow.predict.input_dir {str(root)!r} has no images in noshadow/")
    return [(name, files["noshadow"][name], files["mask"][name]) for name in sorted(files["noshadow"])]


def predict_folder(predictor: ShadowPredictor | OnnxShadowPredictor, input_dir: str | Path, output_dir: str | Path) -> dict[str, Any]:
    """Predict every pair of ``input_dir`` and write ``output_dir/{shadow,robject,rshadow}/<name>.png``.

    Every input is read and checked before anything is written, and existing output files are
    never overwritten: the call stops with the list of files in the way."""
    from tqdm.auto import tqdm

    pairs = find_input_pairs(input_dir)
    output = Path(output_dir)
    targets = {name: {kind: output / kind / f"{name}.png" for kind in ("shadow", "robject", "rshadow")} for name, _, _ in pairs}
    existing = [str(path) for paths in targets.values() for path in paths.values() if path.exists()]
    if existing:
        raise FileExistsError(
            f"shadow.predict.output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
            "choose another output_dir or move them away: nothing is overwritten"
        )
    loaded, problems = [], []
    for name, image_path, mask_path in pairs:
        try:
            image, mask = read_image(image_path), read_image(mask_path)
            if image.shape[:2] != mask.shape[:2]:
                raise ImageError(
                    f"{image_path}: image is {image.shape[1]}x{image.shape[0]} but {mask_path} is {mask.shape[1]}x{mask.shape[0]}"
                )
            loaded.append((name, image, mask))
        except ImageError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError(f"{len(problems)} bad input(s) in {input_dir}:\n  " + "\n  ".join(problems))

    for kind in ("shadow", "robject", "rshadow"):
        (output / kind).mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, image, mask in tqdm(loaded, desc="predict", unit="image"):
        result = predictor.predict(image, mask, name=name)
        for kind, array in (("shadow", result.image), ("robject", result.robject), ("rshadow", result.rshadow)):
            targets[name][kind].write_bytes(encode_png(array))
        sizes[name] = f"{image.shape[1]}x{image.shape[0]}"
    logger.info("Wrote %d predictions to %s", len(loaded), output)
    return {"input_dir": str(input_dir), "output_dir": str(output), "num_images": len(loaded), "sizes": sizes,
            "model_resolution": predictor.resolution}
