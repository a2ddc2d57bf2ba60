"""Shadows for a user's own images: load the trained model once, predict at full resolution.

```python
from gan_pipelines.predict import ShadowPredictor
predictor = ShadowPredictor.from_project(".")          # latest checkpoints from the catalog
result = predictor.predict(image, mask)                # uint8 (H, W, 3), (H, W) 0/255, any size
result.image                                           # same size as the input, shadow added
```

The model runs at its training resolution; the predicted shadow layer is upsampled and added to
the image at full resolution, and pixels where the layer is negligible are left exactly as they
were, so a 640x480 photo keeps its detail everywhere but in the shadow.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gan_pipelines.images import IMAGE_SUFFIXES, ImageError, encode_png, read_image, resize_image, resize_mask, to_binary_mask, to_rgb

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


class ShadowPredictor:
    """The trained attention + generator pair, ready to predict on arrays."""

    def __init__(self, attention_bundle: Mapping[str, Any], generator_bundle: Mapping[str, Any], device: str = "auto") -> None:
        from gan_pipelines.models.bundles import attention_from_bundle, generator_from_bundle
        from gan_pipelines.models.shadow_inference import ShadowInference
        from gan_pipelines.training import select_device, select_precision

        self.resolution = int(generator_bundle.get("meta", {}).get("resolution", 0))
        if not self.resolution:
            raise ValueError("The generator checkpoint does not record its resolution (meta.resolution)")
        self.device = select_device(device)
        self.precision = select_precision(self.device, "auto")
        self.model = ShadowInference(attention_from_bundle(attention_bundle), generator_from_bundle(generator_bundle))
        self.model.to(self.device).eval()

    @classmethod
    def from_project(
        cls, project_path: str | Path = ".", *, env: str | None = None, load_versions: dict[str, str] | None = None, device: str = "auto"
    ) -> "ShadowPredictor":
        """Load the latest (or pinned) checkpoints through the project's Kedro catalog."""
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        project_path = Path(project_path).resolve()
        bootstrap_project(project_path)
        with KedroSession.create(project_path=project_path, env=env) as session:
            catalog = session.load_context()._get_catalog(load_versions=load_versions)
            return cls(catalog.load("shadow_attention_checkpoint"), catalog.load("shadow_generator_checkpoint"), device)

    def predict(self, image: np.ndarray, mask: np.ndarray, *, name: str = "image") -> FullResolutionPrediction:
        """Add a shadow for the object in ``mask`` to ``image`` (any size, same size as the mask)."""
        import torch
        import torch.nn.functional as F

        from gan_pipelines.models.shadow_inference import predict_shadows

        image = to_rgb(np.asarray(image), name=name)
        mask, _ = to_binary_mask(np.asarray(mask), name=f"{name} mask")
        if image.shape[:2] != mask.shape:
            raise ValueError(
                f"{name}: image is {image.shape[1]}x{image.shape[0]} but its mask is {mask.shape[1]}x{mask.shape[0]}"
            )
        size = (self.resolution, self.resolution)
        small = predict_shadows(
            self.model, resize_image(image, size)[None], resize_mask(mask, size)[None],
            device=self.device, autocast_dtype=self.precision.autocast_dtype,
        )
        height, width = image.shape[:2]
        layer = torch.from_numpy(small.shadow_layer[0]).permute(2, 0, 1)[None]
        layer = F.interpolate(layer, size=(height, width), mode="bilinear", align_corners=False)[0].permute(1, 2, 0).numpy()
        active = np.abs(layer).max(axis=2) > LAYER_EPSILON
        shaded = np.clip((image.astype(np.float32) / 127.5 - 1.0 + layer + 1.0) * 127.5, 0, 255).round().astype(np.uint8)
        result = np.where(active[..., None], shaded, image)
        return FullResolutionPrediction(
            image=result,
            robject=resize_mask(small.robject[0], (height, width)),
            rshadow=resize_mask(small.rshadow[0], (height, width)),
            shadow_layer=np.where(active[..., None], layer, 0.0).astype(np.float32),
        )


def find_input_pairs(input_dir: str | Path) -> list[tuple[str, Path, Path]]:
    """``input_dir/noshadow/<name>.<png|jpg>`` + ``input_dir/mask/<name>.<png|jpg>`` -> sorted
    (name, image path, mask path). Raises ValueError listing every problem at once."""
    root = Path(input_dir)
    if not root.is_dir():
        raise ValueError(f"shadow_predict.input_dir {str(root)!r} is not a folder")
    folders = {kind: root / kind for kind in ("noshadow", "mask")}
    missing = [str(folder) for folder in folders.values() if not folder.is_dir()]
    if missing:
        raise ValueError(
            f"shadow_predict.input_dir must hold noshadow/ and mask/ folders with matching file names; missing {', '.join(missing)}"
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
        raise ValueError(f"shadow_predict.input_dir {str(root)!r} has no images in noshadow/")
    return [(name, files["noshadow"][name], files["mask"][name]) for name in sorted(files["noshadow"])]


def predict_folder(predictor: ShadowPredictor, input_dir: str | Path, output_dir: str | Path) -> dict[str, Any]:
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
            f"shadow_predict.output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
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
