"""Export the trained shadow model (attention -> threshold -> generator) to one ONNX file.

```bash
kedro run --pipelines shadow.export     # -> data/06_models/shadow_model.onnx
```

```python
from gan_pipelines.families.shadow.export import export_shadow_model
export_shadow_model(attention_bundle, generator_bundle, "shadow_model.onnx")
```

The file is self-contained: besides the graph it stores, as ONNX ``metadata_props`` under
``gan_pipelines.*``, the resolution the model runs at, the attention threshold and which
checkpoints it came from, so :class:`gan_pipelines.families.shadow.predict.OnnxShadowPredictor` needs no
checkpoint. The file is written atomically (a temporary file renamed into place) and an existing
file is never replaced unless asked to.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gan_pipelines.files import write_atomically

logger = logging.getLogger(__name__)

METADATA_PREFIX = "gan_pipelines."
MODEL_KIND = "shadow_inference"


def _meta(bundle: Mapping[str, Any]) -> Mapping[str, Any]:
    return bundle.get("meta", {}) or {}


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gan_pipelines")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def export_metadata(
    attention_bundle: Mapping[str, Any],
    generator_bundle: Mapping[str, Any],
    *,
    resolution: int,
    threshold: float,
    opset: int,
    torch_version: str,
    exported_at: str | None = None,
) -> dict[str, str]:
    """The ``metadata_props`` (all strings) stored in the exported model."""
    attention, generator = _meta(attention_bundle), _meta(generator_bundle)
    config = {name: bundle.get("model_config", {}).get(name) for name, bundle in
              (("attention", attention_bundle), ("generator", generator_bundle))}
    values = {
        "model": MODEL_KIND,
        "resolution": str(int(resolution)),
        "threshold": repr(float(threshold)),
        "attention_trained_at": str(attention.get("trained_at", "unknown")),
        "generator_trained_at": str(generator.get("trained_at", "unknown")),
        "attention_model_input_version": str(attention.get("model_input_version", "unknown")),
        "generator_model_input_version": str(generator.get("model_input_version", "unknown")),
        "model_config": json.dumps(config, sort_keys=True, default=str),
        "opset": str(int(opset)),
        "torch_version": torch_version,
        "package_version": _package_version(),
        "exported_at": exported_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {METADATA_PREFIX + key: value for key, value in values.items()}


def parse_metadata(props: Mapping[str, str], *, source: str) -> dict[str, Any]:
    """The ``gan_pipelines.*`` entries of an exported model's metadata, without the prefix, with
    ``resolution`` as int and ``threshold`` as float. ``source`` names the file in errors."""
    values = {key[len(METADATA_PREFIX):]: value for key, value in props.items() if key.startswith(METADATA_PREFIX)}
    hint = "was it written by `kedro run --pipelines shadow.export`?"
    if values.get("model") != MODEL_KIND:
        raise ValueError(f"{source} has no {METADATA_PREFIX}model={MODEL_KIND} metadata; {hint}")
    try:
        values["resolution"] = int(values["resolution"])
        values["threshold"] = float(values["threshold"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{source}: missing or malformed {METADATA_PREFIX}resolution/threshold metadata ({exc}); {hint}") from None
    if values["resolution"] <= 0 or not 0.0 <= values["threshold"] <= 1.0:
        raise ValueError(f"{source}: bad metadata resolution={values['resolution']} threshold={values['threshold']}")
    return values


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """:func:`parse_metadata` of an .onnx file (reads the file with ``onnx``, not onnxruntime)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ONNX model {str(path)!r} does not exist")
    proto = onnx.load(str(path), load_external_data=False)
    return parse_metadata({prop.key: prop.value for prop in proto.metadata_props}, source=str(path))


def check_output_path(path: Path, overwrite: bool) -> None:
    """Raise FileExistsError if ``path`` exists and ``overwrite`` is not set, IsADirectoryError if
    it is a folder; both say how to export anyway."""
    if path.is_dir():
        raise IsADirectoryError(f"shadow.export.output_path {str(path)!r} is a folder, not a file path")
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{str(path)!r} already exists and is not overwritten: pass overwrite=True "
            "(Kedro: --params shadow.export.overwrite=true) or choose another shadow.export.output_path"
        )


def write_file_atomically(path: Path, data: bytes, *, overwrite: bool = False) -> None:
    """:func:`gan_pipelines.files.write_atomically`, with the errors of :func:`check_output_path`."""
    try:
        write_atomically(path, data, overwrite=overwrite)
    except (FileExistsError, IsADirectoryError):
        check_output_path(path, overwrite)  # raises the explained error
        raise


def export_shadow_model(
    attention_bundle: Mapping[str, Any],
    generator_bundle: Mapping[str, Any],
    output_path: str | Path,
    *,
    overwrite: bool = False,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """Export the model of two checkpoint bundles to ``output_path`` (.onnx) at the checkpoints'
    resolution, on CPU in fp32, with a dynamic batch axis. Returns a summary (path, size, time,
    metadata). Raises FileExistsError before doing any work if the file exists and not ``overwrite``."""
    import torch

    from gan_pipelines.families.shadow.bundles import shadow_inference_from_bundles
    from gan_pipelines.families.shadow.onnx_export import ONNX_OPSET, shadow_inference_to_onnx

    path = Path(output_path)
    check_output_path(path, overwrite)
    model, resolution = shadow_inference_from_bundles(attention_bundle, generator_bundle, threshold)
    metadata = export_metadata(
        attention_bundle, generator_bundle, resolution=resolution, threshold=threshold,
        opset=ONNX_OPSET, torch_version=torch.__version__,
    )
    start = time.perf_counter()
    data = shadow_inference_to_onnx(model, resolution, metadata, opset=ONNX_OPSET)
    write_file_atomically(path, data, overwrite=overwrite)
    seconds = time.perf_counter() - start
    logger.info("Exported the shadow model (%d px) to %s: %.1f MB in %.1f s", resolution, path, len(data) / 1e6, seconds)
    return {"path": str(path), "bytes": len(data), "export_seconds": round(seconds, 3), "metadata": metadata}
