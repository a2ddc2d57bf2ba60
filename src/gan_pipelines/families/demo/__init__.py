"""``gan-pipelines demo``: a local web page (Gradio) to try the project's trained models.

Tabs: Shadow (a photo and the inserted object's mask -> the photo with its shadow), Label map ->
photo (paint or upload a map, every trained label -> photo model answers side by side), Sketch ->
colour. Each tab names the checkpoint it uses (family, version, training date, resolution), or
the command that trains a family that has none. See docs/demo.md.

    from gan_pipelines.families.demo import serve
    serve(".", host="127.0.0.1", port=7860)   # blocks until Ctrl+C

Private by construction: it listens on 127.0.0.1 unless told otherwise, Gradio's analytics are
off and the page loads no font, script or theme from outside; nothing is written into ``data/``.
"""

from __future__ import annotations

import os
from pathlib import Path

# Gradio reads these when it is imported: no usage analytics, no version check against PyPI.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def serve(project: str | Path, *, env: str | None = None, host: str | None = None, port: int | None = None,
          max_pixels: int | None = None, device: str | None = None, block: bool = True):
    """Load the latest models of the Kedro project at ``project`` and serve the demo page on
    ``host:port``. A setting left None takes its default (:class:`~gan_pipelines.families.demo.config.DemoParams`:
    127.0.0.1, 7860, 4194304 pixels, device auto). ``block=False`` returns once the server runs
    (``(app, local_url)``; ``app.close()`` stops it). Raises ParameterError for a bad setting
(an unknown or unavailable ``device`` included)."""
    from gan_pipelines.families.demo.app import build_app, launch
    from gan_pipelines.families.demo.checkpoints import find_models
    from gan_pipelines.families.demo.config import demo_params

    from gan_pipelines.params import ParameterError
    from gan_pipelines.training.device import select_device

    params = demo_params(host=host, port=port, max_pixels=max_pixels, device=device)
    try:  # a bad device stops here, not as one "cannot be used" line per model
        select_device(params.device, setting="demo --device")
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    models = find_models(project, env, device=params.device)
    print(f"gan_pipelines demo: http://{params.host}:{params.port}  (Ctrl+C stops it)")
    for model in models.values():
        print("  " + model.describe().replace("**", "").replace("`", ""))
    return launch(build_app(models, params), params.host, params.port, block=block)
