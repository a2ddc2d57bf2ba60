"""ONNX export of a paired generator (input encoding included) and an onnxruntime predictor.

The graph takes the raw input: ``label_map`` int64 (N, 1, H, W) class indices (one-hot inside
the graph), or ``sketch`` float32 (N, 3, H, W) in [-1, 1]; the output ``picture`` is float32
(N, 3, H, W) in [-1, 1]. Batch, height and width are dynamic (height and width must be
multiples of the generator's factor, stored in the metadata with the family, resolution and
training time). Traced with the TorchScript exporter (``dynamo=False``: the dynamo exporter
needs onnxscript, which the project does not install), opset 17, fp32.
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


def input_name(input_type: str) -> str:
    return "label_map" if input_type == "labels" else "sketch"


def generator_to_onnx(net, input_config: Mapping[str, Any], multiple: int, metadata: Mapping[str, str]) -> bytes:
    """Serialised ONNX model of a :class:`~gan_pipelines.families.paired.networks.PairedGenerator`."""
    import onnx
    import torch

    if input_config.get("instance_edges"):
        raise ValueError("ONNX export of a model with instance boundaries is not supported yet")
    net = copy.deepcopy(net).float().cpu().eval()
    size = max(multiple, 32)
    if input_config["type"] == "labels":
        example = torch.zeros(2, 1, size, size, dtype=torch.int64)
    else:
        example = torch.zeros(2, 3, size, size)
    name = input_name(input_config["type"])
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            net, (example,), buffer, dynamo=False, input_names=[name], output_names=[OUTPUT_NAME],
            opset_version=ONNX_OPSET,
            dynamic_axes={name: {0: "batch", 2: "height", 3: "width"}, OUTPUT_NAME: {0: "batch", 2: "height", 3: "width"}},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = (f"gan_pipelines paired generator: {name} -> picture (N,3,H,W) in [-1,1]; "
                        f"H and W multiples of {multiple}")
    onnx.helper.set_model_props(proto, {k: str(v) for k, v in metadata.items()})
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def export_generator(bundle: Mapping[str, Any], family: str, output_path: str | Path, *, overwrite: bool) -> dict[str, Any]:
    """Write the ONNX file (atomically; an existing file only with ``overwrite``); return a summary."""
    from gan_pipelines.families.paired.networks import generator_from_bundle, size_multiple
    from gan_pipelines.files import write_atomically

    net, input_config = generator_from_bundle(bundle, family)
    multiple = size_multiple(bundle["model_config"]["generator"])
    meta = bundle.get("meta") or {}
    metadata = {
        "family": family, "input_kind": input_config["kind"], "input_type": input_config["type"],
        "label_nc": int(input_config.get("label_nc") or 0), "size_multiple": multiple,
        "resolution": int(meta.get("resolution", 0)), "generator_trained_at": meta.get("trained_at", "unknown"),
        "input_config": json.dumps(input_config),
    }
    data = generator_to_onnx(net, input_config, multiple, metadata)
    path = write_atomically(output_path, data, overwrite=overwrite)
    return {"output_path": str(path), "bytes": len(data), **metadata}


class OnnxPairedPredictor:
    """The exported generator in onnxruntime (CPU), with the same padding as PairedPredictor."""

    def __init__(self, onnx_path: str | Path) -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        props = self.session.get_modelmeta().custom_metadata_map
        if "size_multiple" not in props or "input_config" not in props:
            raise ValueError(f"{onnx_path} is not a paired generator exported by <family>.export")
        self.metadata = dict(props)
        self.input_type = props["input_type"]
        self.input_config = json.loads(props["input_config"])
        self.multiple = int(props["size_multiple"])
        self.family = props.get("family", "unknown")
        self.trained_at = props.get("generator_trained_at", "unknown")

    def run(self, network_input: np.ndarray) -> np.ndarray:
        """Raw network call: (N, C, H, W) in, (N, 3, H, W) float32 in [-1, 1] out."""
        return self.session.run([OUTPUT_NAME], {input_name(self.input_type): network_input})[0]

    def predict(self, raw: np.ndarray) -> np.ndarray:
        from gan_pipelines.families.paired.predict import pad_to_multiple

        mode = "edge" if self.input_type == "labels" else "reflect"
        padded, (height, width) = pad_to_multiple(raw, self.multiple, mode)
        if self.input_type == "labels":
            batch = padded.astype(np.int64)[None, None]
        else:
            batch = (padded.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
        output = self.run(np.ascontiguousarray(batch))[0]
        picture = np.rint((np.clip(output, -1, 1) + 1.0) * 127.5).astype(np.uint8).transpose(1, 2, 0)
        return picture[:height, :width]
