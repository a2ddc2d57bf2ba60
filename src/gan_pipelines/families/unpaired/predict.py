"""Use a trained unpaired model (CycleGAN) on your own pictures, either direction, any size.

The generators are fully convolutional but take heights and widths that are multiples of their
factor (4 for CycleGAN's two stride-2 convolutions) and at least their minimum (8): a picture is
reflect-padded at the bottom and right up to that and the output cropped back to the picture's
own size (:func:`pad_picture`). The network sees the picture at its own scale, so pictures at
about the training resolution's scale translate best.

    from gan_pipelines.families.unpaired.predict import UnpairedPredictor
    predictor = UnpairedPredictor.from_project(".", family="cyclegan")      # or .from_checkpoint(path, ...)
    dusk = predictor.translate(day_picture, "a2b")   # uint8 (H, W, 3) in, uint8 (H, W, 3) out

:class:`~gan_pipelines.families.unpaired.export.OnnxUnpairedPredictor` does the same with the
ONNX files of ``<family>.export`` in onnxruntime. :func:`predict_folder` translates a folder of
pictures, read through the project's one image reader with the predict stages' shared rules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.layout import direction_domains

logger = logging.getLogger(__name__)


def check_picture(image: np.ndarray, name: str | None = None) -> None:
    """Raise ValueError (naming ``name`` when given) unless ``image`` is uint8 ``(H, W, 3)``."""
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != 3:
        where = f"{name}: " if name else ""
        raise ValueError(f"{where}expected a uint8 (H, W, 3) RGB picture; got {array.dtype} {array.shape} "
                         "(read files with gan_pipelines.images.read_image and to_rgb)")


def pad_picture(image: np.ndarray, multiple: int, min_side: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``(padded, (H, W))``: ``image`` (H, W[, C]) padded at the bottom and right so that both
    sides are multiples of ``multiple`` and at least ``min_side``; crop the output back with
    ``[:H, :W]``. The rule of :func:`gan_pipelines.families.unpaired.inference.translate` (the
    torch path), so both backends see the same padded picture: mirrored (reflection) where each
    pad is smaller than its side, else the edge pixels repeated."""
    from gan_pipelines.families.unpaired.inference import padded_size

    height, width = image.shape[:2]
    pad_h = padded_size(height, multiple, min_side) - height
    pad_w = padded_size(width, multiple, min_side) - width
    if not pad_h and not pad_w:
        return image, (height, width)
    mode = "reflect" if pad_h < height and pad_w < width else "edge"
    widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, widths, mode=mode), (height, width)


class UnpairedPredictor:
    """Both generators of an unpaired checkpoint bundle (``G_AB`` for ``a2b``, ``G_BA`` for
    ``b2a``), in eval mode on ``device`` (``auto``: CUDA > MPS > CPU, as training; the project's
    :func:`gan_pipelines.training.device.select_device`). Deterministic for a given picture.

    ``compile``: each direction's translator through ``torch.compile`` with freezing
    (:mod:`gan_pipelines.training.compiled_inference`): the first picture of each size compiles
    (10-30 s on 2 cores), later ones are faster; :attr:`compiled` says ``"off"``, ``"not compiled
    yet"``, ``"compiled"`` or ``"eager: <why compiling failed>"``. Raises ValueError for a
    ``compile`` that is not a bool."""

    def __init__(self, bundle: Mapping[str, Any], family: str, device: str = "auto", *, compile: bool = False) -> None:
        from gan_pipelines.families.unpaired.bundles import generators_from_bundle
        from gan_pipelines.training.compiled_inference import check_compile_setting, compile_for_inference
        from gan_pipelines.training.device import select_device

        check_compile_setting(compile)
        self.family = family
        self.generators, self.model_config = generators_from_bundle(bundle, family)
        meta = dict(bundle.get("meta") or {})
        self.trained_at = meta.get("trained_at", "unknown")
        self.resolution = int(self.model_config.get("resolution") or meta.get("resolution") or 0)
        self.device = str(select_device(device, setting="device"))
        for generator in self.generators.values():
            generator.to(self.device)
        if compile:
            self.generators = {direction: compile_for_inference(generator) for direction, generator in self.generators.items()}
        self._compiled_parts = list(self.generators.values()) if compile else None

    @property
    def compiled(self) -> str:
        """``"off"``; else the compile status of the translators used so far (a failure first)."""
        from gan_pipelines.training.compiled_inference import combined_status

        return combined_status(self._compiled_parts)

    @classmethod
    def from_bundle(cls, bundle: Mapping[str, Any], family: str, device: str = "auto") -> "UnpairedPredictor":
        """The predictor of a loaded generator checkpoint bundle (what ``<family>.train`` saves)."""
        return cls(bundle, family, device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, family: str, device: str = "auto") -> "UnpairedPredictor":
        """The predictor of a checkpoint file (``.../<family>_generator.pt/<version>/<family>_generator.pt``),
        or of a versioned checkpoint folder (``data/06_models/<family>_generator.pt``: its latest
        version). Read with ``weights_only=True``. Raises FileNotFoundError naming the path."""
        from kedro.io.core import Version

        from gan_pipelines.datasets.torch_checkpoint import TorchCheckpointDataset

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no checkpoint at {path}")
        version = Version(None, None) if path.is_dir() else None
        return cls(TorchCheckpointDataset(filepath=str(path), version=version).load(), family, device)

    @classmethod
    def from_project(cls, project_path: str | Path = ".", *, family: str, env: str | None = None,
                     load_versions: dict[str, str] | None = None, device: str = "auto") -> "UnpairedPredictor":
        """The latest (or pinned) ``<family>.generator_checkpoint`` of a Kedro project."""
        from kedro.framework.session import KedroSession
        from kedro.framework.startup import bootstrap_project

        project_path = Path(project_path).resolve()
        bootstrap_project(project_path)
        with KedroSession.create(project_path=project_path, env=env) as session:
            catalog = session.load_context()._get_catalog(load_versions=load_versions)
            return cls(catalog.load(f"{family}.generator_checkpoint"), family, device)

    @property
    def style_dim(self) -> int | None:
        """The style code's length of a MUNIT model, None for a model without styles."""
        return self.model_config.get("style_dim")

    def translate(self, image: np.ndarray, direction: str = "a2b", style: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)``: ``image`` (uint8 ``(H, W, 3)``, any size, a picture of the
        direction's source domain) in the target domain (``a2b``: A -> B, ``b2a``: B -> A).
        ``style`` (MUNIT only): the target domain's style code ``(style_dim,)``, e.g. from
        :meth:`style_of` or drawn from N(0, I); None: zeros, the prior's mean. Raises ValueError
        for another shape, dtype or direction, or a style for a model without styles."""
        from gan_pipelines.families.unpaired.inference import translate

        direction_domains(direction)
        check_picture(image)
        image = np.asarray(image)
        if not image.flags.writeable:  # decoded pictures can be read-only views; torch warns on those
            image = image.copy()
        if style is not None:
            if not self.style_dim:
                raise ValueError(f"{self.family} ({self.model_config.get('model')}) takes no style code")
            style = np.asarray(style, np.float32).reshape(1, -1)
            if style.shape[1] != self.style_dim:
                raise ValueError(f"style must be {self.style_dim} numbers, got {style.shape[1]}")
        return translate(self.generators[direction], image[None], device=self.device, batch_size=1, style=style)[0]

    def style_of(self, image: np.ndarray, direction: str = "a2b") -> np.ndarray:
        """The style code ``(style_dim,)`` float32 of ``image``, a picture of ``direction``'s
        TARGET domain (MUNIT's example-guided use). Raises ValueError for a model without
        styles or a bad picture."""
        from gan_pipelines.families.unpaired.inference import style_codes

        direction_domains(direction)
        check_picture(image)
        if not self.style_dim:
            raise ValueError(f"{self.family} ({self.model_config.get('model')}) has no style encoder")
        return style_codes(self.generators[direction], np.asarray(image)[None].copy(), device=self.device)[0]


# --------------------------------------------------------------------------------------------
# a folder of pictures
# --------------------------------------------------------------------------------------------

def read_pictures(input_dir: str | Path) -> dict[str, np.ndarray]:
    """``{name: uint8 (H, W, 3)}`` for every picture directly in ``input_dir``, read through
    :func:`gan_pipelines.images.read_image` (EXIF orientation, 16-bit, grey, palette; alpha
    dropped, as ingest reads RGB pictures). The predict stages' shared rules
    (:mod:`gan_pipelines.image_inputs`): OS litter ignored; a sub-folder, a file that is not a
    PNG/JPEG, two files for one name (``a.png`` and ``a.jpg``) or an unreadable picture is
    refused. Raises ValueError listing every problem by file name (nothing is read past them)."""
    from gan_pipelines.image_inputs import is_litter, not_an_image, sample_name
    from gan_pipelines.images import ImageError, read_image, to_rgb

    source = Path(input_dir)
    if not source.is_dir():
        raise ValueError(f"input_dir {source} is not a folder")
    problems, files, seen = [], {}, {}
    for path in sorted(source.iterdir()):
        if is_litter(path.name):
            continue
        reason = "a folder (pictures are read from the top level only)" if path.is_dir() else not_an_image(path.name)
        if reason:
            problems.append(f"{path.name}: {reason}")
            continue
        name = sample_name(path.name)
        if name in seen:
            problems.append(f"{seen[name].name} and {path.name}: two files for the output {name}.png; keep one")
            continue
        seen[name] = path
        files[name] = path
    if not files and not problems:
        raise ValueError(f"input_dir {source} holds no PNG/JPEG pictures")
    pictures = {}
    for name, path in files.items():
        try:
            pictures[name] = to_rgb(read_image(path, name=path.name), name=path.name)
        except ImageError as exc:
            problems.append(str(exc) if path.name in str(exc) else f"{path.name}: {exc}")
    if problems:
        raise ValueError(f"{len(problems)} invalid input(s) in {source}, nothing was written:\n  " + "\n  ".join(problems))
    return pictures


def predict_folder(predictor, input_dir: str | Path, output_dir: str | Path, direction: str, *,
                   styles: Any = None) -> dict[str, Any]:
    """Translate every picture of ``input_dir`` (:func:`read_pictures`) in ``direction`` into
    ``output_dir/<name>.png`` at the picture's own size. ``predictor``: an
    :class:`UnpairedPredictor` or an :class:`~gan_pipelines.families.unpaired.export.OnnxUnpairedPredictor`.
    ``styles(index) -> (K, style_dim)`` (MUNIT): the style codes of the picture at ``index``
    (sorted names); with K > 1 the outputs are ``<name>_s<k>.png``, k = 0..K-1.
    Everything is read and checked first; existing outputs are never replaced (FileExistsError
    naming them, before anything is written). Returns a summary: count, direction, sizes,
    seconds per picture (translation only)."""
    from gan_pipelines.images import encode_png

    source_domain, target_domain = direction_domains(direction)
    pictures = read_pictures(input_dir)
    output = Path(output_dir)
    codes = {name: (None if styles is None else np.asarray(styles(index), np.float32))
             for index, name in enumerate(pictures)}
    targets = {}
    for name in pictures:
        count = 1 if codes[name] is None else len(codes[name])
        targets.update({(name, k): output / (f"{name}.png" if count == 1 else f"{name}_s{k}.png") for k in range(count)})
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing:
        raise FileExistsError(f"output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
                              "choose another output_dir: predictions never replace files")
    output.mkdir(parents=True, exist_ok=True)
    seconds, sizes = 0.0, {}
    for (name, k), target in targets.items():
        picture = pictures[name]
        start = time.perf_counter()
        translated = (predictor.translate(picture, direction) if codes[name] is None
                      else predictor.translate(picture, direction, style=codes[name][k]))
        seconds += time.perf_counter() - start
        if translated.shape != picture.shape:  # the contract of every predictor: same size out
            raise RuntimeError(f"{name}: translated to {translated.shape}, not the input's {picture.shape}")
        target.write_bytes(encode_png(translated))
        sizes[name] = list(picture.shape[:2])
    logger.info("Translated %d picture(s) %s into %s (%.3f s per picture)", len(pictures), direction, output,
                seconds / max(1, len(pictures)))
    return {
        "input_dir": str(Path(input_dir)), "output_dir": str(output), "count": len(pictures), "direction": direction,
        "source_domain": source_domain, "target_domain": target_domain, "family": predictor.family,
        "outputs": len(targets),
        "generator_trained_at": predictor.trained_at, "seconds_per_picture": round(seconds / max(1, len(targets)), 4),
        "sizes": sizes,
    }
