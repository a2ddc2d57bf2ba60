"""ONNX export of a paired generator (input encoding included) and an onnxruntime predictor.

The graph takes the raw input: ``label_map`` int64 (N, 1, H, W) class indices (one-hot inside
the graph), or ``sketch`` float32 (N, 3, H, W) in [-1, 1]; a model with instance boundaries
(pix2pixHD) also takes ``instance_map`` int64 (N, 1, H, W) (the boundary map is computed inside
the graph), and a SPADE+VAE generator takes its style code ``z`` float32 (N, z_dim) (the style
encoder is not exported: sample z ~ N(0, I), or encode a style picture with the PyTorch
predictor). The output ``picture`` is float32 (N, 3, H, W) in [-1, 1]. Batch, height and width
are dynamic (height and width must be multiples of the generator's factor), except for
SPADE+VAE, whose z -> feature-grid layer fixes the size to the training one. The metadata holds
the family, input config, size multiple, resolution and training time. Traced with the
TorchScript exporter (``dynamo=False``: the dynamo exporter needs onnxscript, which the project
does not install), opset 17, fp32. Spectral norm (SPADE's residual blocks, its style encoder)
does not export as such (its eval-mode weight uses ``aten::vdot``, which has no ONNX op): the
export folds it into plain weights first, the weight ``W / sigma`` that the eval-mode network
uses with its stored power-iteration vectors, so the graph computes the same numbers.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ONNX_OPSET = 17
OUTPUT_NAME = "picture"
INSTANCE_NAME = "instance_map"
STYLE_NAME = "z"


def input_name(input_type: str) -> str:
    return "label_map" if input_type == "labels" else "sketch"


def fold_parametrizations(net):
    """``net`` (in eval mode) with every parametrized weight (spectral norm) replaced by the plain
    weight it computes now, in place; returns ``net``."""
    from torch.nn.utils import parametrize

    if net.training:
        raise ValueError("fold the parametrizations of an eval-mode network (train mode would run a power iteration)")
    for module in list(net.modules()):
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return net


def _export_module(net, with_instances: bool, with_z: bool):
    """``net`` (a PairedGenerator) with exactly the graph's positional inputs."""
    import torch

    class Exported(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, raw, *extra):
            instances = extra[0] if with_instances else None
            z = extra[-1] if with_z else None
            return self.net(raw, instances, z)

    return Exported()


def input_names(input_config: Mapping[str, Any], z_dim: int | None) -> list[str]:
    """The graph's input names in order."""
    names = [input_name(input_config["type"])]
    if input_config.get("instance_edges"):
        names.append(INSTANCE_NAME)
    if z_dim is not None:
        names.append(STYLE_NAME)
    return names


def generator_to_onnx(net, input_config: Mapping[str, Any], multiple: int, metadata: Mapping[str, str],
                      fixed_size: tuple[int, int] | None = None) -> bytes:
    """Serialised ONNX model of a :class:`~gan_pipelines.families.paired.networks.PairedGenerator`."""
    import onnx
    import torch

    net = fold_parametrizations(copy.deepcopy(net).float().cpu().eval())
    z_dim = net.z_dim
    height, width = fixed_size or (max(multiple, 32), max(multiple, 32))
    names = input_names(input_config, z_dim)
    if input_config["type"] == "labels":
        example = [torch.zeros(2, 1, height, width, dtype=torch.int64)]
    else:
        example = [torch.zeros(2, 3, height, width)]
    if input_config.get("instance_edges"):
        example.append(torch.zeros(2, 1, height, width, dtype=torch.int64))
    if z_dim is not None:
        example.append(torch.zeros(2, z_dim))
    spatial = {} if fixed_size else {2: "height", 3: "width"}
    dynamic = {name: {0: "batch", **(spatial if name != STYLE_NAME else {})} for name in names}
    dynamic[OUTPUT_NAME] = {0: "batch", **spatial}
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            _export_module(net, bool(input_config.get("instance_edges")), z_dim is not None), tuple(example), buffer,
            dynamo=False, input_names=names, output_names=[OUTPUT_NAME], opset_version=ONNX_OPSET, dynamic_axes=dynamic,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    size = f"{height}x{width} only" if fixed_size else f"H and W multiples of {multiple}"
    proto.doc_string = f"gan_pipelines paired generator: {', '.join(names)} -> picture (N,3,H,W) in [-1,1]; {size}"
    onnx.helper.set_model_props(proto, {k: str(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_generator(bundle: Mapping[str, Any], family: str, output_path: str | Path, *, overwrite: bool) -> dict[str, Any]:
    """Write the ONNX file (atomically; an existing file only with ``overwrite``); return a summary."""
    from gan_pipelines.families.paired.bundles import generator_from_bundle
    from gan_pipelines.families.paired.networks import size_multiple
    from gan_pipelines.families.paired.predict import fixed_size
    from gan_pipelines.files import write_atomically

    net, input_config = generator_from_bundle(bundle, family)
    generator_config = bundle["model_config"]["generator"]
    multiple = size_multiple(generator_config)
    size = fixed_size(generator_config)
    meta = bundle.get("meta") or {}
    metadata = {
        "family": family, "input_kind": input_config["kind"], "input_type": input_config["type"],
        "label_nc": int(input_config.get("label_nc") or 0), "size_multiple": multiple,
        "resolution": int(meta.get("resolution", 0)), "generator_trained_at": meta.get("trained_at", "unknown"),
        "input_config": json.dumps(input_config), "generator_type": generator_config.get("type", "unet"),
        "z_dim": int(net.z_dim or 0), "fixed_size": json.dumps(list(size) if size else None),
        "inputs": json.dumps(input_names(input_config, net.z_dim)),
    }
    data = generator_to_onnx(net, input_config, multiple, metadata, size)
    path = write_atomically(output_path, data, overwrite=overwrite)
    return {"output_path": str(path), "bytes": len(data), **metadata}


class OnnxPairedPredictor:
    """The exported generator in onnxruntime, with the same padding, size checks and input
    handling as :class:`~gan_pipelines.families.paired.predict.PairedPredictor`.

    ``device``: ``auto`` (CUDA when this onnxruntime has its CUDAExecutionProvider, else CPU: the
    project's device rule for the providers onnxruntime offers), ``cpu``, ``cuda[:index]``
    (:func:`gan_pipelines.onnx_runtime.onnx_providers`); :attr:`providers` are those the session
    runs on. Raises ValueError for a ``cuda`` device this onnxruntime lacks or cannot start (an
    ``auto`` session that fell back to CPU logs a WARNING), for ``mps`` (use the torch backend),
    and for a file that is not a paired generator export."""

    def __init__(self, onnx_path: str | Path, device: str = "auto") -> None:
        import onnxruntime

        from gan_pipelines.onnx_runtime import check_session_providers, onnx_providers

        providers = onnx_providers(device, onnxruntime.get_available_providers())
        self.session = onnxruntime.InferenceSession(str(onnx_path), providers=providers)
        self.providers = list(self.session.get_providers())
        check_session_providers(device, providers, self.providers, str(onnx_path))
        props = self.session.get_modelmeta().custom_metadata_map
        if "size_multiple" not in props or "input_config" not in props:
            raise ValueError(f"{onnx_path} is not a paired generator exported by <family>.export")
        self.metadata = dict(props)
        self.input_type = props["input_type"]
        self.input_config = json.loads(props["input_config"])
        self.multiple = int(props["size_multiple"])
        self.family = props.get("family", "unknown")
        self.trained_at = props.get("generator_trained_at", "unknown")
        self.z_dim = int(props.get("z_dim", 0)) or None
        size = json.loads(props.get("fixed_size", "null"))
        self.fixed_size = tuple(size) if size else None
        self.input_names = [node.name for node in self.session.get_inputs()]

    def run(self, network_input: np.ndarray, instances: np.ndarray | None = None, z: np.ndarray | None = None) -> np.ndarray:
        """Raw network call: (N, C, H, W) in (+ instance maps int64 (N, 1, H, W), + z float32
        (N, z_dim), as the model needs), (N, 3, H, W) float32 in [-1, 1] out."""
        feeds = {self.input_names[0]: network_input}
        for name, value in ((INSTANCE_NAME, instances), (STYLE_NAME, z)):
            if name in self.input_names:
                if value is None:
                    raise ValueError(f"this exported generator needs its {name} input")
                feeds[name] = value
        return self.session.run([OUTPUT_NAME], feeds)[0]

    def style_code(self, picture: np.ndarray) -> np.ndarray:
        raise ValueError("the ONNX export has no style encoder: use backend torch for style_image, or seeded samples")

    def predict(self, raw: np.ndarray, instances: np.ndarray | None = None, z: np.ndarray | None = None) -> np.ndarray:
        from gan_pipelines.families.paired.predict import prepare_input

        padded, padded_instances, (height, width) = prepare_input(
            raw, instances, input_type=self.input_type, multiple=self.multiple, size=self.fixed_size,
            needs_instances=bool(self.input_config.get("instance_edges")))
        if self.input_type == "labels":
            batch = padded.astype(np.int64)[None, None]
        else:
            batch = (padded.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        inst = None if padded_instances is None else np.ascontiguousarray(padded_instances.astype(np.int64)[None, None])
        codes = None if z is None else np.asarray(z, np.float32).reshape(1, -1)
        output = self.run(np.ascontiguousarray(batch), inst, codes)[0]
        picture = np.rint((np.clip(output, -1, 1) + 1.0) * 127.5).astype(np.uint8).transpose(1, 2, 0)
        return picture[:height, :width]
