"""Use a trained paired generator on your own label maps or sketches, any size.

The generator is fully convolutional but needs sides divisible by its downsampling factor
(2**num_downs for a U-Net, 2**n_downsampling for pix2pixHD's, 2**num_upsampling_layers for
SPADE's): an input is padded up to that (label maps by repeating the border class, sketches by
reflection) and the output cropped back to the input's size. The network sees the input at its
own scale, so inputs drawn at about the training resolution's scale give the best pictures.
A SPADE+VAE generator is the exception: its style code is mapped to a feature grid of the
training size, so it takes inputs of exactly that size (others are refused, saying the size).

Label maps are read the way the ingest read the training data (one shared reader,
:func:`~gan_pipelines.families.paired.user_data.read_label_map`): the checkpoint's
``meta["labels"]`` keeps the palette of colour-coded maps (PNG or JPEG; nearest palette colour),
its tolerance and the don't-care value (e.g. 255), which passes through as "no class".

A pix2pixHD model with instance boundaries needs each label map's instance map too
(``instance_dir``: same file names). A SPADE+VAE model needs a style code per output: seeded
samples (``num_samples`` outputs ``<name>_s<k>.png``, code ``k`` drawn from seed ``[seed, k]``,
so sample ``k`` has the same style on every map) or the encoding of one ``style_image``.

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


def fixed_size(generator_config: Mapping[str, Any]) -> tuple[int, int] | None:
    """The only input size a generator takes (SPADE+VAE: its ``image_size``), or None (any
    multiple of its factor)."""
    size = generator_config.get("image_size") if generator_config.get("use_vae") else None
    if size is None:
        return None
    return (int(size), int(size)) if isinstance(size, int) else (int(size[0]), int(size[1]))


def check_label_values(raw: np.ndarray, label_nc: int, ignore_value: int | None = None, *,
                       name: str | None = None) -> np.ndarray:
    """int64 copy of a label map ``(H, W)`` whose values are class indices ``0..label_nc-1`` or
    ``ignore_value``. Integer (or bool) arrays, and float arrays of whole numbers, are accepted.
    Raises ValueError (prefixed with ``name``, the file, when given) naming the dtype and
    fractional values of a float map (2.7 is not class 2), or the out-of-range values with
    their pixel counts."""
    where = f"{name}: " if name else ""
    array = np.asarray(raw)
    if array.dtype == np.bool_ or np.issubdtype(array.dtype, np.integer):
        values = array.astype(np.int64)
    elif np.issubdtype(array.dtype, np.floating):
        fractional = array[~np.isfinite(array) | (array != np.round(array))]
        if fractional.size:
            shown = ", ".join(f"{v:g}" for v in np.unique(fractional)[:5])
            raise ValueError(f"{where}label map of dtype {array.dtype} holds values that are not class indices "
                             f"(whole numbers 0..{label_nc - 1}): {shown} ({fractional.size} px); pass integer "
                             "class indices")
        values = array.astype(np.int64)
    else:
        raise ValueError(f"{where}label map of dtype {array.dtype}; pass integer class indices 0..{label_nc - 1}")
    found, counts = np.unique(values, return_counts=True)
    bad = [(int(v), int(c)) for v, c in zip(found, counts) if (v < 0 or v >= label_nc) and v != ignore_value]
    if bad:
        shown = ", ".join(f"{v} ({c} px)" for v, c in bad[:8])
        raise ValueError(f"{where}label value(s) out of range 0..{label_nc - 1}: {shown}"
                         + ("" if ignore_value is None else f" (ignore_value is {ignore_value})")
                         + " (the generator was trained on these classes)")
    return values


def prepare_input(raw: np.ndarray, instances: np.ndarray | None, *, input_type: str, multiple: int,
                  size: tuple[int, int] | None, needs_instances: bool, label_nc: int | None = None,
                  ignore_value: int | None = None,
                  name: str | None = None) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Check one raw input (label map ``(H, W)`` or uint8 sketch ``(H, W, 3)``) and its instance
    map, pad both to the generator's multiple; returns ``(input, instances, (H, W))``. With
    ``label_nc``, a label map's values are checked (:func:`check_label_values`). Raises
    ValueError (naming ``name`` when given) for a wrong shape, dtype or label value, a missing
    instance map or (fixed-size generators) a size other than the training one."""
    if input_type == "labels":
        if raw.ndim != 2:
            raise ValueError(f"expected a label map (H, W) of class indices; got shape {raw.shape}")
        if label_nc is not None:
            raw = check_label_values(raw, label_nc, ignore_value, name=name)
        mode = "edge"
    else:
        if raw.ndim != 3 or raw.shape[-1] != 3 or raw.dtype != np.uint8:
            raise ValueError(f"expected a uint8 (H, W, 3) sketch; got {raw.dtype} {raw.shape}")
        mode = "reflect"
    if size is not None and tuple(raw.shape[:2]) != size:
        raise ValueError(f"this SPADE+VAE generator takes {size[0]}x{size[1]} inputs only (its style code becomes a "
                         f"feature grid of the training size); got {raw.shape[0]}x{raw.shape[1]}: resize the map")
    padded, original = pad_to_multiple(raw, multiple, mode)
    padded_instances = None
    if needs_instances:
        if instances is None:
            raise ValueError("this model uses instance boundaries: pass the instance map too")
        if instances.shape[:2] != raw.shape[:2]:
            raise ValueError(f"the instance map is {instances.shape[0]}x{instances.shape[1]}, its label map "
                             f"{raw.shape[0]}x{raw.shape[1]}")
        padded_instances = pad_to_multiple(instances, multiple, "edge")[0]
    return padded, padded_instances, original


class PairedPredictor:
    """A trained paired generator of ``family`` (any ``model.type``), in eval mode
    (deterministic for a given input and style code).

    ``precision``: ``"fp32"`` (default), ``"auto"`` (bf16 where the device has it), ``"bf16"`` or
    ``"fp16"`` (CUDA only): the forward pass's autocast, as in training. ``compile``: the
    generator through ``torch.compile`` with freezing
    (:mod:`gan_pipelines.training.compiled_inference`): the first picture of each size compiles
    (10-25 s on 2 cores), later ones are faster; ``compiled`` says ``"off"``, ``"not compiled
    yet"``, ``"compiled"`` or ``"eager: <why compiling failed>"``. Raises ValueError for other
    values."""

    def __init__(self, generator_bundle: Mapping[str, Any], family: str, device: str = "auto", *,
                 precision: str = "fp32", compile: bool = False) -> None:
        import torch

        from gan_pipelines.training import ready_for_inference
        from gan_pipelines.training.compiled_inference import check_compile_setting, compile_for_inference
        from gan_pipelines.training.device import select_device, select_precision

        from gan_pipelines.families.paired.bundles import generator_from_bundle
        from gan_pipelines.families.paired.networks import size_multiple

        check_compile_setting(compile)
        self.family = family
        self.net, self.input_config = generator_from_bundle(generator_bundle, family)
        generator_config = generator_bundle["model_config"]["generator"]
        self.multiple = size_multiple(generator_config)
        self.fixed_size = fixed_size(generator_config)
        self.resolution = int(generator_bundle.get("meta", {}).get("resolution", 0))
        self.trained_at = generator_bundle.get("meta", {}).get("trained_at", "unknown")
        # How the training data's label maps were read (palette, tolerance, ignore value); None
        # for a checkpoint from before this was kept: plain class indices.
        self.labels = generator_bundle.get("meta", {}).get("labels")
        self.device = str(select_device(device, setting="device"))  # CUDA > MPS > CPU, as training
        self.precision = select_precision(torch.device(self.device), precision)
        self.net.to(self.device)
        self._compiled_parts = None
        if compile:
            # The network alone: the label encoding and the input checks stay eager.
            self.net.generator = compile_for_inference(ready_for_inference(self.net.generator, torch.device(self.device)))
            self._compiled_parts = [self.net.generator]

    @property
    def compiled(self) -> str:
        """``"off"``, ``"not compiled yet"``, ``"compiled"`` or ``"eager: <why compiling failed>"``."""
        from gan_pipelines.training.compiled_inference import combined_status

        return combined_status(self._compiled_parts)

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

    @property
    def z_dim(self) -> int | None:
        """Size of the style code the generator needs (SPADE+VAE), else None."""
        return self.net.z_dim

    def style_code(self, picture: np.ndarray) -> np.ndarray:
        """float32 ``(z_dim,)``: the style encoder's mean for a uint8 ``(H, W, 3)`` picture,
        resized (bilinear) to the training size first."""
        from gan_pipelines.families.paired.inference import encode_styles
        from gan_pipelines.images import resize_image

        if self.z_dim is None:
            raise ValueError("this generator has no style encoder (only SPADE with use_vae takes a style image)")
        size = self.fixed_size or (self.resolution, self.resolution)
        if picture.shape[:2] != size:
            picture = resize_image(picture, size)
        return encode_styles(self.net, np.array(picture, np.uint8)[None], device=self.device)[0]  # a writable copy

    @property
    def ignore_value(self) -> int | None:
        """The don't-care value of the training label maps (e.g. 255), or None."""
        return (self.labels or {}).get("ignore_value")

    def predict(self, raw: np.ndarray, instances: np.ndarray | None = None, z: np.ndarray | None = None, *,
                name: str | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` picture for one label map ``(H, W)`` (class indices
        ``0..label_nc-1`` or the checkpoint's ignore value; integers, or floats of whole numbers)
        or sketch ``(H, W, 3)`` uint8, any size (a SPADE+VAE generator: the training size);
        ``instances`` ``(H, W)`` when the model uses instance boundaries; ``z`` ``(z_dim,)`` for
        SPADE+VAE. Raises ValueError (naming ``name``, e.g. the file, when given) for another
        shape or dtype, values out of range (listed with pixel counts) or fractional values."""
        from gan_pipelines.families.paired.inference import generate

        padded, padded_instances, (height, width) = prepare_input(
            raw, instances, input_type=self.input_type, multiple=self.multiple, size=self.fixed_size,
            needs_instances=bool(self.input_config.get("instance_edges")),
            label_nc=int(self.input_config.get("label_nc") or 0) or None, ignore_value=self.ignore_value, name=name)
        codes = None if z is None else np.asarray(z, np.float32).reshape(1, -1)
        output = generate(self.net, self.input_type, padded[None],
                          None if padded_instances is None else padded_instances[None], device=self.device, z=codes,
                          autocast_dtype=self.precision.autocast_dtype)
        return output[0, :height, :width]


def predict_folder(predictor, input_dir: str | Path, output_dir: str | Path, *, label_nc: int | None = None,
                   instance_dir: str | Path | None = None, num_samples: int = 1, style_image: str | Path | None = None,
                   seed: int = 0) -> dict[str, Any]:
    """Predict every image of ``input_dir`` into ``output_dir``. Every input is read and checked
    first (one error lists every bad file), and existing outputs are never replaced.

    ``predictor``: a :class:`PairedPredictor` or an
    :class:`~gan_pipelines.families.paired.export.OnnxPairedPredictor`. Outputs: ``<name>.png``;
    a SPADE+VAE generator without ``style_image`` writes ``num_samples`` pictures
    ``<name>_s<k>.png`` (k = 0 .. num_samples - 1, code k from seed ``[seed, k]``); with
    ``style_image`` (a picture file; PyTorch backend) one ``<name>.png`` in that picture's style.
    ``instance_dir``: instance maps with the label maps' file names, required by a model with
    instance boundaries (ids above 255 relabelled as at ingest). Label maps are read as the
    ingest read the training data (:func:`~gan_pipelines.families.paired.user_data.read_label_map`
    with the checkpoint's ``meta["labels"]``: palette, tolerance, ignore value); pixels far from
    every palette colour are logged and counted in the summary's ``palette_far_pixels`` (file ->
    share). Raises ValueError naming the parameter or the files."""
    from gan_pipelines.families.paired.networks import style_codes
    from gan_pipelines.families.paired.user_data import (
        MAX_FAR_SHARE, input_image_rgb, instance_map_problems, label_reader, label_spec_from_meta, read_label_map,
    )
    from gan_pipelines.image_inputs import is_litter, not_an_image, sample_name
    from gan_pipelines.images import ImageError, encode_png, read_image, to_rgb

    source, output = Path(input_dir), Path(output_dir)
    if not source.is_dir():
        raise ValueError(f"input_dir {source} is not a folder")
    z_dim = predictor.z_dim
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer; got {num_samples!r}")
    if z_dim is None and (num_samples != 1 or style_image):
        raise ValueError("num_samples > 1 and style_image need a SPADE+VAE generator (model.use_vae); this one is "
                         "deterministic")
    if style_image and num_samples != 1:
        raise ValueError("give either style_image (one picture in its style) or num_samples > 1 (seeded styles), not both")
    needs_instances = bool(predictor.input_config.get("instance_edges"))
    if needs_instances and not instance_dir:
        raise ValueError("this model uses instance boundaries: set instance_dir to a folder of instance maps named like "
                         "the label maps")
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
    spec = None
    if predictor.input_type == "labels":  # the checkpoint's palette / tolerance / ignore value, as ingest read them
        spec = label_spec_from_meta(getattr(predictor, "labels", None), int(label_nc or predictor.input_config["label_nc"]))
    far_pixels: dict[str, float] = {}
    instance_files = {}
    if needs_instances:
        instance_root = Path(instance_dir)
        if not instance_root.is_dir():
            raise ValueError(f"instance_dir {instance_root} is not a folder")
        instance_files = {sample_name(p.name): p for p in sorted(instance_root.iterdir())
                          if p.is_file() and not is_litter(p.name) and not not_an_image(p.name)}
    inputs, instances = {}, {}
    for path in files:
        name = sample_name(path.name)
        try:
            if spec is not None:
                labels, issues, far = read_label_map(path, spec, name=path.name)
                problems += [f"{path.name}: {issue}" for issue in issues]
                inputs[name] = labels
                if labels is not None and far:
                    far_pixels[path.name] = far / labels.size
            else:
                inputs[name] = input_image_rgb(read_image(path, name=path.name), name=path.name)
            if needs_instances:
                if name not in instance_files:
                    problems.append(f"{path.name}: no instance map {name}.png in {instance_dir}")
                    continue
                instance = label_reader()(instance_files[name], name=instance_files[name].name)
                if instance.ndim != 2 or inputs[name] is None or instance.shape != inputs[name].shape[:2]:
                    problems.append(f"{instance_files[name].name}: the instance map must be a single-channel image of "
                                    f"the label map's size, got {instance.shape}")
                    continue
                instance, issues = instance_map_problems(instance)  # the ingest's rule (ids > 255 relabelled)
                problems += [f"{instance_files[name].name}: {issue}" for issue in issues]
                instances[name] = instance
        except ImageError as exc:
            problems.append(str(exc))
    if far_pixels:
        worst = max(far_pixels, key=far_pixels.get)
        logger.warning("%d label map(s) have pixels farther than %g from every palette colour (up to %.1f%% in %s; "
                       "refused above %.0f%%); each took its nearest palette colour's class", len(far_pixels),
                       spec.palette_tolerance, 100 * far_pixels[worst], worst, 100 * MAX_FAR_SHARE)
    fixed = getattr(predictor, "fixed_size", None)
    if fixed is not None:
        problems += [f"{name}: {array.shape[0]}x{array.shape[1]}, but this SPADE+VAE generator takes "
                     f"{fixed[0]}x{fixed[1]} maps only" for name, array in inputs.items()
                     if array is not None and tuple(array.shape[:2]) != fixed]
    style = None
    if style_image and not Path(style_image).is_file():
        problems.append(f"style_image {style_image}: no such file")
    elif style_image:
        try:
            style = predictor.style_code(to_rgb(read_image(Path(style_image), name=str(style_image)), name="style_image"))
        except ImageError as exc:
            problems.append(f"style_image: {exc}")
    if problems:
        raise ValueError(f"{len(problems)} invalid input(s) in {source}, nothing was written:\n  " + "\n  ".join(problems))
    if z_dim is None or style is not None:
        codes = {"": None if style is None else style}
    else:
        codes = {f"_s{k}": style_codes(1, z_dim, [seed, k])[0] for k in range(num_samples)}
    targets = {(name, suffix): output / f"{name}{suffix}.png" for name in inputs for suffix in codes}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing:
        raise FileExistsError(
            f"output_dir already holds {len(existing)} of the output files (e.g. {existing[0]}); "
            "choose another output_dir: predictions never replace files"
        )
    output.mkdir(parents=True, exist_ok=True)
    sizes = {}
    for name, raw in inputs.items():
        for suffix, z in codes.items():
            picture = predictor.predict(raw, instances.get(name), z)  # values checked above, naming the files
            targets[(name, suffix)].write_bytes(encode_png(picture))
        sizes[name] = list(picture.shape[:2])
    logger.info("Wrote %d pictures to %s", len(targets), output)
    summary = {"input_dir": str(source), "output_dir": str(output), "num_images": len(inputs),
               "num_pictures": len(targets), "family": predictor.family, "generator_trained_at": predictor.trained_at,
               "sizes": sizes}
    if far_pixels:
        summary["palette_far_pixels"] = {file: round(share, 4) for file, share in sorted(far_pixels.items())}
    if z_dim is not None:
        summary["style"] = (f"encoding of {style_image}" if style is not None else
                            f"{num_samples} seeded sample(s) per map, z ~ N(0, I) from numpy default_rng([{seed}, k]), "
                            "files <name>_s<k>.png")
    return summary

