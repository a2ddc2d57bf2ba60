"""The torch side of the ONNX export: trace a :class:`ShadowInference` into an ONNX model.

The graph is the whole inference model, attention -> threshold -> generator, in fp32, at one
fixed resolution with a dynamic batch axis:

- inputs ``noshadow`` float32 (N, 3, H, W) in [-1, 1] and ``mask`` float32 (N, 1, H, W) in
  {-1, 1};
- outputs ``result`` (N, 3, H, W), ``shadow_layer`` (N, 3, H, W) and ``attention``
  (N, 2, H, W) probabilities, as ``ShadowInference.forward`` returns them.

Exporter choice: torch 2.14's default exporter (``dynamo=True``) needs the ``onnxscript``
package, which is not a dependency of this project (and is not installed), so we use the
TorchScript-based exporter (``dynamo=False``). It traces the model, which is all we need: the
forward pass has no data-dependent control flow (the shape checks in ``families.shadow.networks`` run on
the example inputs at trace time), and the thresholding exports as Sigmoid -> Greater -> Cast,
the same float32 operations as eager PyTorch.
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Mapping

import torch

from gan_pipelines.families.shadow.inference import ShadowInference
from gan_pipelines.families.shadow.networks import check_resolution

# 17 is the newest opset every onnxruntime release of the last years runs; the model needs
# nothing newer (convolutions, batch norm, resize, sigmoid, comparisons).
ONNX_OPSET = 17
INPUT_NAMES = ("noshadow", "mask")
OUTPUT_NAMES = ("result", "shadow_layer", "attention")
BATCH_AXIS = "batch"


def example_inputs(resolution: int, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs of the right shape and range to trace with. A batch of 2 (not 1) so that nothing
    in the trace can specialise on a single image."""
    noshadow = torch.zeros(batch, 3, resolution, resolution)
    mask = -torch.ones(batch, 1, resolution, resolution)
    mask[..., resolution // 4 : resolution // 2, resolution // 4 : resolution // 2] = 1.0
    return noshadow, mask


def shadow_inference_to_onnx(
    model: ShadowInference, resolution: int, metadata: Mapping[str, str] | None = None, *, opset: int = ONNX_OPSET
) -> bytes:
    """The serialised ONNX model of ``model`` at ``resolution`` x ``resolution``, on CPU in fp32,
    with ``metadata`` stored as the model's ``metadata_props``. ``model`` itself is not moved."""
    import onnx

    check_resolution(resolution)
    model = copy.deepcopy(model).float().cpu().eval()
    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The exporter warns that it is the legacy one on every call; see the module docstring.
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
        # The networks' input checks compare shapes in Python; traced, they are constants of the
        # example inputs, which is right for a fixed-resolution export with a dynamic batch.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"gan_pipelines\.models\.shadow$")
        torch.onnx.export(
            model,
            example_inputs(resolution),
            buffer,
            dynamo=False,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            opset_version=opset,
            dynamic_axes={name: {0: BATCH_AXIS} for name in INPUT_NAMES + OUTPUT_NAMES},
        )
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = (
        "gan_pipelines shadow model: attention -> threshold -> generator. Inputs noshadow (N,3,H,W) in [-1,1], "
        "mask (N,1,H,W) in {-1,1}; outputs result (N,3,H,W), shadow_layer (N,3,H,W), attention (N,2,H,W) probabilities."
    )
    _set_output_shapes(proto, resolution)
    onnx.helper.set_model_props(proto, dict(metadata or {}))
    onnx.checker.check_model(proto, full_check=True)
    return proto.SerializeToString()


def _set_output_shapes(proto, resolution: int) -> None:
    """Declare every output as (batch, C, resolution, resolution). The TorchScript exporter's
    symbolic shapes for them are wrong (it names the height of shadow_layer "batch", because of
    the decoder's Resize sizes), which would only mislead a reader: the values are right."""
    for output in proto.graph.output:
        dims = output.type.tensor_type.shape.dim
        dims[0].dim_param = BATCH_AXIS
        dims[2].dim_value = resolution
        dims[3].dim_value = resolution
