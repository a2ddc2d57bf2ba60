"""Use a trained paired generator on your own label maps or sketches, any size.

The generator is fully convolutional but needs sides divisible by its downsampling factor
(2**num_downs for a U-Net): an input is padded up to that (label maps by repeating the border
class, sketches by reflection) and the output cropped back to the input's size. The network
sees the input at its own scale, so inputs drawn at about the training resolution's scale give
the best pictures.

    from gan_pipelines.families.paired.predict import PairedPredictor
    predictor = PairedPredictor.from_project(".", family="pix2pix")
    picture = predictor.predict(label_map)          # uint8 (H, W, 3)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def pad_to_multiple(array: np.ndarray, multiple: int, mode: str) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad the bottom and right of ``array`` (H, W[, C]) so both sides are multiples of ``multiple``."""
    height, width = array.shape[:2]
    pad_h, pad_w = -height % multiple, -width % multiple
    if not pad_h and not pad_w:
        return array, (height, width)
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (array.ndim - 2)
    if mode == "reflect" and (pad_h >= height or pad_w >= width):
        mode = "symmetric" if pad_h <= height and pad_w <= width else "edge"
    return np.pad(array, widths, mode=mode), (height, width)


class PairedPredictor:
    """A trained pix2pix / Sketch2Color generator of ``family``, in eval mode (deterministic)."""

    def __init__(self, generator_bundle: Mapping[str, Any], family: str, device: str = "auto") -> None:
        import torch

        from gan_pipelines.families.paired.networks import generator_from_bundle, size_multiple

        self.family = family
        self.net, self.input_config = generator_from_bundle(generator_bundle, family)
        self.multiple = size_multiple(generator_bundle["model_config"]["generator"])
        self.resolution = int(generator_bundle.get("meta", {}).get("resolution", 0))
        self.trained_at = generator_bundle.get("meta", {}).get("trained_at", "unknown")
        self.device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        self.net.to(self.device)

    @classmethod
    def from_project(cls, project_path: str | Path = ".", *, family: str, env: str | None = None,
                     load_versions: dict[str, str] | None = None, device: str = "auto") -> "PairedPredictor":
        """The latest (or pinned) ``<family>.generator_checkpoint`` of a project."""
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        project_path = Path(project_path).resolve()
        bootstrap_project(project_path)
        with KedroSession.create(project_path=project_path, env=env) as session:
            catalog = session.load_context()._get_catalog(load_versions=load_versions)
            return cls(catalog.load(f"{family}.generator_checkpoint"), family, device)

    @property
    def input_type(self) -> str:
        return self.input_config["type"]

    def predict(self, raw: np.ndarray, instances: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` picture for one label map ``(H, W)`` (class indices) or sketch
        ``(H, W, 3)`` uint8, any size."""
        from gan_pipelines.families.paired.inference import generate

        if self.input_type == "labels":
            if raw.ndim != 2:
                raise ValueError(f"expected a label map (H, W) of class indices; got shape {raw.shape}")
            padded, (height, width) = pad_to_multiple(raw, self.multiple, "edge")
        else:
            if raw.ndim != 3 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
                raise ValueError(f"expected a uint8 (H, W, 3) sketch; got {raw.dtype} {raw.shape}")
            padded, (height, width) = pad_to_multiple(raw, self.multiple, "reflect")
        padded_instances = None
        if self.input_config.get("instance_edges"):
            if instances is None:
                raise ValueError("this model uses instance boundaries: pass the instance map too")
            padded_instances = pad_to_multiple(instances, self.multiple, "edge")[0][None]
        output = generate(self.net, self.input_type, padded[None], padded_instances, device=self.device)
        return output[0, :height, :width]


def predict_folder(predictor: PairedPredictor, input_dir: str | Path, output_dir: str | Path,
                   *, label_nc: int | None = None) -> dict[str, Any]:
    """Predict every image of ``input_dir`` into ``output_dir/<name>.png``. Every input is read and
    checked first (one error lists every bad file), and existing outputs are never replaced."""
    from gan_pipelines.families.paired.user_data import LabelSpec, input_image_rgb, label_map_problems, label_reader
    from gan_pipelines.image_inputs import is_litter, not_an_image, sample_name
    from gan_pipelines.images import ImageError, encode_png, read_image

    source, output = Path(input_dir), Path(output_dir)
    if not source.is_dir():
        raise ValueError(f"input_dir {source} is not a folder")
    # The shared input rules (gan_pipelines.image_inputs): litter ignored, names in NFC, a name with
    # two files (a.png beside a.jpg) or a file that is not an image refused, never dropped.
    files, problems, seen = [], [], {}
    for path in sorted(source.iterdir()):
        if is_litter(path.name):
            continue
        reason = "a folder" if not path.is_file() else not_an_image(path.name)
        if reason:
            problems.append(f"{path.name}: {reason}")
            continue
        name = sample_name(path.name)
        if name in seen:
            problems.append(f"{seen[name].name} and {path.name}: two files for the output {name}.png; keep one")
            continue
        seen[name] = path
        files.append(path)
    if not files and not problems:
        raise ValueError(f"input_dir {source} holds no PNG/JPEG images")
    spec = LabelSpec(int(label_nc or predictor.input_config["label_nc"])) if predictor.input_type == "labels" else None
    inputs = {}
    for path in files:
        try:
            if spec is not None:
                labels, issues = label_map_problems(label_reader()(path, name=path.name), spec)
                problems += [f"{path.name}: {issue}" for issue in issues]
                inputs[sample_name(path.name)] = labels
            else:
                inputs[sample_name(path.name)] = input_image_rgb(read_image(path, name=path.name), name=path.name)
        except ImageError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError(f"{len(problems)} invalid input(s) in {source}, nothing was written:\n  " + "\n  ".join(problems))
    targets = {name: output / f"{name}.png" for name in inputs}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing:
        raise FileExistsError(
            f"output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
            "choose another output_dir: predictions never replace files"
        )
    output.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, raw in inputs.items():
        picture = predictor.predict(raw)
        targets[name].write_bytes(encode_png(picture))
        sizes[name] = list(picture.shape[:2])
    logger.info("Wrote %d pictures to %s", len(inputs), output)
    return {"input_dir": str(source), "output_dir": str(output), "num_images": len(inputs),
            "family": predictor.family, "generator_trained_at": predictor.trained_at, "sizes": sizes}
