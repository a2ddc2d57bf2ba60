"""ONNX export of both unpaired generators (one file per direction) and an onnxruntime predictor.

``<family>.export.output_path`` ``<stem>.onnx`` is the base name: the files written are
``<stem>_a2b.onnx`` (G_AB, domain A -> B) and ``<stem>_b2a.onnx`` (G_BA, B -> A) beside it
(:func:`export_paths`). Each graph takes ``picture`` float32 (N, 3, H, W) in [-1, 1] (MUNIT's
also ``style`` float32 (N, style_dim): the target domain's style code, zeros for the prior's
mean; the graph is the source domain's content encoder joined to the target's decoder) and gives
``translated`` float32 (N, 3, H, W) in [-1, 1]; batch, height and width are dynamic (H and W
multiples of the generator's factor, 4, and at least its minimum, 8: the predictor pads and
crops back), except for U-GAT-IT's full generator, whose dense layer fixes H = W = its training
resolution (the predictor resizes to it and back). The file's metadata holds the family, direction, domains, size rule,
training resolution and time, and the model config, so :class:`OnnxUnpairedPredictor` needs no
checkpoint.

Traced with the TorchScript exporter (``dynamo=False``: the dynamo exporter needs onnxscript,
which the project does not install), opset 17, fp32 on CPU, as the paired families' export.
Before anything is written each graph runs in onnxruntime against the torch generator on seeded
random pictures at two sizes (one not the traced size, so the dynamic axes are exercised); the
largest absolute difference is reported and one above ``parity_tolerance`` stops the export.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import time
import warnings
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from gan_pipelines.families.unpaired.layout import DIRECTIONS, direction_domains

logger = logging.getLogger(__name__)

ONNX_OPSET = 17
INPUT_NAME = "picture"
STYLE_NAME = "style"  # MUNIT's second input: the target domain's style code (N, style_dim)
OUTPUT_NAME = "translated"
MODEL_KIND = "unpaired_generator"  # metadata "model": what OnnxUnpairedPredictor accepts
TRACE_SIZE = 32  # the example picture's side when tracing (any size the generator takes)


def export_paths(output_path: str | Path) -> dict[str, Path]:
    """``{"a2b": <stem>_a2b.onnx, "b2a": <stem>_b2a.onnx}`` beside ``output_path``
    (``<stem>.onnx``): the files of one export."""
    base = Path(output_path)
    return {d: base.with_name(f"{base.stem}_{d}{base.suffix or '.onnx'}") for d in DIRECTIONS}


def generator_to_onnx(net, metadata: Mapping[str, Any], *, size: int = TRACE_SIZE) -> bytes:
    """Serialised, checked ONNX model of one generator (``(N, 3, H, W)`` in [-1, 1] in and out),
    traced at ``size`` x ``size`` with dynamic batch, height and width; ``metadata`` goes into
    the model's ``metadata_props`` as strings."""
    import onnx
    import torch

    net = copy.deepcopy(net).float().cpu().eval()
    fixed = getattr(net, "input_size", None)
    size = fixed or size
    example = (torch.zeros(1, 3, size, size),)
    spatial = {} if fixed else {2: "height", 3: "width"}
    dynamic = {INPUT_NAME: {0: "batch", **spatial}, OUTPUT_NAME: {0: "batch", **spatial}}
    input_names = [INPUT_NAME]
    style_dim = getattr(net, "style_dim", None)
    if style_dim:
        example += (torch.zeros(1, int(style_dim)),)
        dynamic[STYLE_NAME] = {0: "batch"}
        input_names.append(STYLE_NAME)
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # the generator's size check reads the input's shape: a trace-time constant, which is right
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # InstanceNorm without running statistics normalises by the input's own in eval mode too:
        # exported "with train=True" is exactly that. Slices that cannot be folded stay slices.
        warnings.filterwarnings("ignore", message=".*operator 'instance_norm' is set to train=True.*")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1 can be constant folded.*")
        torch.onnx.export(net, example, buffer, dynamo=False, input_names=input_names, output_names=[OUTPUT_NAME],
                          opset_version=ONNX_OPSET, dynamic_axes=dynamic)
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = (f"gan_pipelines unpaired generator ({metadata.get('direction', '?')}): picture (N,3,H,W) "
                        f"in [-1,1] -> translated (N,3,H,W) in [-1,1]; H and W multiples of "
                        f"{metadata.get('size_multiple', '?')}, at least {metadata.get('min_size', '?')}")
    onnx.helper.set_model_props(proto, {str(k): str(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def parity_difference(net, model_bytes: bytes, sizes: tuple[tuple[int, int], ...], seed: int = 0) -> float:
    """Largest absolute difference between ``net`` (torch, fp32, CPU, eval) and the ONNX model
    ``model_bytes`` (onnxruntime, CPU) on seeded uniform pictures in [-1, 1] of each ``(H, W)``
    in ``sizes`` (network outputs, range [-1, 1])."""
    import onnxruntime
    import torch

    net = copy.deepcopy(net).float().cpu().eval()
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = 0.0
    style_dim = getattr(net, "style_dim", None)
    for height, width in sizes:
        picture = rng.uniform(-1.0, 1.0, size=(2, 3, height, width)).astype(np.float32)
        feeds = {INPUT_NAME: picture}
        if style_dim:  # random codes of the prior: the style input must matter in the graph too
            feeds[STYLE_NAME] = rng.standard_normal((2, int(style_dim))).astype(np.float32)
        with torch.no_grad():
            expected = net(*(torch.from_numpy(value) for value in feeds.values())).numpy()
        got = session.run([OUTPUT_NAME], feeds)[0]
        if got.shape != expected.shape:
            raise ValueError(f"the ONNX graph gave {got.shape} for a {height}x{width} input, torch {expected.shape}")
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


def export_generators(bundle: Mapping[str, Any], family: str, output_path: str | Path, *, overwrite: bool = False,
                      parity_tolerance: float = 1e-3) -> dict[str, Any]:
    """Export G_AB and G_BA of a generator checkpoint ``bundle`` to :func:`export_paths` of
    ``output_path``; returns a summary (paths, bytes, the parity check's largest difference per
    direction, seconds, metadata).

    Raises FileExistsError naming the files before any work when one exists and not
    ``overwrite``; ValueError for another family's checkpoint (``bundles.generators_from_bundle``)
    or a parity difference above ``parity_tolerance`` (then nothing is written). Each file is
    written atomically (:func:`gan_pipelines.files.write_atomically`)."""
    import torch

    from gan_pipelines.families.unpaired.bundles import generators_from_bundle
    from gan_pipelines.families.unpaired.networks import min_size, size_multiple
    from gan_pipelines.files import write_atomically

    paths = export_paths(output_path)
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist(s) and is not overwritten: set "
                              f"{family}.export.overwrite=true or choose another {family}.export.output_path")
    generators, model_config = generators_from_bundle(bundle, family)
    meta = dict(bundle.get("meta") or {})
    resolution = int(model_config.get("resolution") or meta.get("resolution") or TRACE_SIZE)
    start = time.perf_counter()
    files, parity = {}, {}
    for direction in DIRECTIONS:
        net = generators[direction]
        multiple, smallest = size_multiple(net), min_size(net)
        source, target = direction_domains(direction)
        metadata = {
            "model": MODEL_KIND, "family": family, "direction": direction, "source_domain": source,
            "target_domain": target, "size_multiple": multiple, "min_size": smallest, "resolution": resolution,
            "generator_trained_at": meta.get("trained_at", "unknown"),
            "model_config": json.dumps(model_config, sort_keys=True, default=str),
            "torch_version": torch.__version__, "opset": ONNX_OPSET,
            "exported_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        fixed = getattr(net, "input_size", None)
        if fixed:
            metadata["input_size"] = int(fixed)
        if getattr(net, "style_dim", None):
            metadata["style_dim"] = int(net.style_dim)
        trace = fixed or max(smallest, -(-min(resolution, TRACE_SIZE) // multiple) * multiple)
        data = generator_to_onnx(net, metadata, size=trace)
        # the traced size and another one (not square, not the trace's) to exercise the dynamic axes
        other = (trace + multiple, trace + 2 * multiple)
        parity[direction] = parity_difference(net, data, ((trace, trace),) if fixed else ((trace, trace), other))
        if parity[direction] > parity_tolerance:
            raise ValueError(f"{family}.export: the ONNX graph of {direction} differs from torch by "
                             f"{parity[direction]:.3g} (> parity_tolerance {parity_tolerance:g}); nothing was written")
        files[direction] = data
    for direction, data in files.items():
        write_atomically(paths[direction], data, overwrite=overwrite)
    seconds = time.perf_counter() - start
    logger.info("Exported both %s generators to %s (largest ONNX/torch difference %.2g)", family,
                ", ".join(str(p) for p in paths.values()), max(parity.values()))
    return {
        "output_path": str(output_path), "files": {d: str(p) for d, p in paths.items()},
        "bytes": {d: len(data) for d, data in files.items()},
        "parity_max_abs_diff": {d: float(v) for d, v in parity.items()}, "parity_tolerance": float(parity_tolerance),
        "parity_check": "onnxruntime (CPU) vs torch (fp32, CPU) on seeded uniform pictures in [-1, 1], network "
                        "outputs in [-1, 1]",
        "export_seconds": round(seconds, 3), "family": family, "resolution": resolution,
        "generator_trained_at": meta.get("trained_at", "unknown"), "opset": ONNX_OPSET,
    }


class OnnxUnpairedPredictor:
    """The exported generators in onnxruntime, with the torch predictor's interface
    (:class:`~gan_pipelines.families.unpaired.predict.UnpairedPredictor`): ``translate(image,
    direction)``, any size.

    ``onnx_path``: the export's ``output_path`` (the files ``<stem>_<direction>.onnx`` beside it
    are read, each when first needed), or one direction's file itself. ``device``: ``auto``
    (CUDA when this onnxruntime has its CUDAExecutionProvider, else CPU), ``cpu``,
    ``cuda[:index]`` (:func:`gan_pipelines.onnx_runtime.onnx_providers`). Raises
    FileNotFoundError naming the file for a missing direction, ValueError for a file that is not
    an unpaired generator export (or another family's), or a ``cuda`` device this onnxruntime
    cannot use."""

    def __init__(self, onnx_path: str | Path, device: str = "auto", family: str | None = None) -> None:
        import onnxruntime

        from gan_pipelines.onnx_runtime import onnx_providers

        self.onnx_path = Path(onnx_path)
        self.device = device
        self.family = family
        self._providers = onnx_providers(device, onnxruntime.get_available_providers())
        self._sessions: dict[str, Any] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.providers: list[str] = []

    def path(self, direction: str) -> Path:
        """The file holding ``direction``'s generator."""
        direction_domains(direction)  # refuses an unknown direction
        candidate = export_paths(self.onnx_path)[direction]
        return candidate if candidate.exists() or not self.onnx_path.is_file() else self.onnx_path

    def session(self, direction: str):
        """The onnxruntime session of ``direction`` (opened once)."""
        if direction in self._sessions:
            return self._sessions[direction]
        import onnxruntime

        from gan_pipelines.onnx_runtime import check_session_providers

        path = self.path(direction)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX generator for {direction} at {path}: export both with `kedro run "
                                    f"--pipelines <family>.export` and point onnx_path at its output_path")
        session = onnxruntime.InferenceSession(str(path), providers=self._providers)
        self.providers = list(session.get_providers())
        check_session_providers(self.device, self._providers, self.providers, str(path))
        props = dict(session.get_modelmeta().custom_metadata_map)
        if props.get("model") != MODEL_KIND:
            raise ValueError(f"{path} is not an unpaired generator exported by <family>.export")
        if props.get("direction") != direction:
            raise ValueError(f"{path} holds the {props.get('direction')!r} generator, not {direction!r}")
        if self.family is not None and props.get("family") != self.family:
            raise ValueError(f"{path} holds a {props.get('family')!r} generator, not {self.family!r}")
        self.family = self.family or props.get("family")
        self.metadata[direction] = props
        self._sessions[direction] = session
        return session

    @property
    def trained_at(self) -> str:
        return next((m.get("generator_trained_at", "unknown") for m in self.metadata.values()), "unknown")

    def translate(self, image: np.ndarray, direction: str = "a2b", style: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``(H, W, 3)`` picture of domain ``direction``'s target for a uint8 ``(H, W, 3)``
        picture of its source domain, any size: reflect-padded up to the generator's size rule
        and cropped back (:func:`~gan_pipelines.families.unpaired.predict.pad_picture`), or, for
        a generator of one input size, resized to it and back. ``style``: a MUNIT export's
        style code ``(style_dim,)`` (None: zeros, the prior's mean). Raises ValueError for
        another shape or dtype, or a style given to a model that takes none."""
        from gan_pipelines.families.unpaired.predict import check_picture, pad_picture
        from gan_pipelines.images import resize_image

        check_picture(image)
        session = self.session(direction)
        props = self.metadata[direction]
        height, width = image.shape[:2]
        fixed = int(props["input_size"]) if props.get("input_size") else None
        if fixed:
            padded = resize_image(image, (fixed, fixed)) if (height, width) != (fixed, fixed) else image
        else:
            padded, (height, width) = pad_picture(image, int(props["size_multiple"]), int(props["min_size"]))
        batch = (padded.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        feeds = {INPUT_NAME: np.ascontiguousarray(batch)}
        style_dim = int(props["style_dim"]) if props.get("style_dim") else None
        if style is not None and not style_dim:
            raise ValueError(f"the {direction} generator of {self.path(direction)} takes no style code")
        if style_dim:
            code = np.zeros(style_dim, np.float32) if style is None else np.asarray(style, np.float32).reshape(-1)
            if code.shape != (style_dim,):
                raise ValueError(f"style must be {style_dim} numbers, got {np.shape(style)}")
            feeds[STYLE_NAME] = code[None]
        output = session.run([OUTPUT_NAME], feeds)[0][0]
        picture = np.rint((np.clip(output, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8).transpose(1, 2, 0)
        if fixed:
            return resize_image(picture, (height, width)) if picture.shape[:2] != (height, width) else picture
        return np.ascontiguousarray(picture[:height, :width])
