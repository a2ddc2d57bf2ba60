"""The demo's settings, typed like the stages' parameter blocks but given on the command line
(``gan-pipelines demo --host --port --max-pixels --device``): the demo is no pipeline stage, so it
has no block in conf/base (whose top-level keys are family namespaces)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from gan_pipelines.images import MAX_IMAGE_PIXELS
from gan_pipelines.params import ConfigBlock, ParameterError, format_errors

SECTION = "demo"
DEFAULT_HOST = "127.0.0.1"  # this computer only; 0.0.0.0 exposes the page (docs/demo.md)
DEFAULT_PORT = 7860
DEFAULT_MAX_PIXELS = 4_194_304  # 2048 x 2048: larger uploads are refused with a message


class DemoParams(ConfigBlock):
    """Where the page listens (``host``, ``port`` 1..65535), the largest picture accepted
    (``max_pixels``, width x height, 1..the image readers' own limit) and the ``device`` the
    models run on (auto | cpu | cuda | cuda:<index> | mps, checked when the models load)."""

    host: str = Field(DEFAULT_HOST, min_length=1)
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    max_pixels: int = Field(DEFAULT_MAX_PIXELS, ge=1, le=MAX_IMAGE_PIXELS)
    device: str = "auto"


def demo_params(**values: Any) -> DemoParams:
    """:class:`DemoParams` from the given settings; a value of None takes the default. Raises
    :class:`ParameterError` naming every bad setting as ``demo.<name>``."""
    from pydantic import ValidationError

    try:
        return DemoParams.model_validate({key: value for key, value in values.items() if value is not None})
    except ValidationError as exc:
        raise ParameterError(format_errors(exc, SECTION)) from None
