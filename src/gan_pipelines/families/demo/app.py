"""The Gradio page of ``gan-pipelines demo``: one tab per kind of task (Shadow; Label map ->
photo; Sketch -> colour), each running the project's own in-memory predictors on what the user
uploads or paints.

Every picture the page receives arrives as a file (Gradio's upload cache, outside ``data/``) and
is decoded by :mod:`gan_pipelines.images`, as every other entry point reads images. Bad input is
answered with a :class:`gradio.Error` message naming the input and what is wrong, never a stack
trace. Nothing is written into the project's ``data/``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Set before gradio is imported: gradio reads it at import time.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402

from gan_pipelines.families.demo.checkpoints import (  # noqa: E402
    LABEL_TO_PHOTO_FAMILIES, PAIRED_LABEL_FAMILIES, SHADOW_FAMILY, SKETCH_FAMILIES, UNPAIRED_LABEL_FAMILIES, TrainedModel,
)
from gan_pipelines.families.demo.config import DemoParams  # noqa: E402
from gan_pipelines.families.demo.palette import ClassPalette, colourise, palette_for, snap_to_palette  # noqa: E402
from gan_pipelines.images import ImageError, MASK_THRESHOLD, read_image, read_labels, read_mask, to_rgb  # noqa: E402

# What a painted layer must cover to count as painted: the brush's antialiased rim is half-opaque.
PAINT_ALPHA = MASK_THRESHOLD
MASK_BRUSH = "#ff00ff"
SKETCH_BRUSH = "#000000"
CANVAS_SIDE = 256
MAX_SAMPLES = 4


# ------------------------------------------------------------------ reading what the page sends

def _path(value: Any) -> str | None:
    """The file path in what Gradio sends for a picture (a path, a FileData dict or None)."""
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, Mapping):
        return value.get("path")
    return getattr(value, "path", None) or getattr(value, "name", None)


def _check_size(array: np.ndarray, what: str, max_pixels: int) -> np.ndarray:
    height, width = array.shape[:2]
    if height * width > max_pixels:
        raise gr.Error(f"{what} is {width}x{height} = {height * width} pixels, over the demo's limit of "
                       f"{max_pixels} pixels (gan-pipelines demo --max-pixels); use a smaller picture")
    return array


def _read(path: str, what: str, max_pixels: int, reader=read_image, **kwargs) -> Any:
    """``reader(path)`` with decoding errors turned into page messages naming ``what``."""
    try:
        value = reader(path, name=what, **kwargs)
    except ImageError as exc:
        raise gr.Error(str(exc)) from None
    _check_size(value[0] if isinstance(value, tuple) else value, what, max_pixels)
    return value


def _painted(editor: Any, max_pixels: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(background RGB (H, W, 3) or None, painted bool (H, W) or None)`` of an ImageEditor
    value: a pixel is painted where any layer is at least half opaque."""
    if not isinstance(editor, Mapping):
        return None, None
    background = _path(editor.get("background"))
    image = to_rgb(_read(background, "the photo", max_pixels)) if background else None
    painted = None
    for layer in editor.get("layers") or []:
        path = _path(layer)
        if not path:
            continue
        rgba = _read(path, "a painted layer", max_pixels)
        alpha = rgba[:, :, 3] if rgba.ndim == 3 and rgba.shape[2] == 4 else np.full(rgba.shape[:2], 255, np.uint8)
        on = alpha >= PAINT_ALPHA
        painted = on if painted is None or painted.shape != on.shape else painted | on
    return image, painted


def _composite(editor: Any, max_pixels: int, what: str) -> np.ndarray | None:
    """The flattened RGB picture of an ImageEditor value (what is shown), or None when empty.
    Without a composite (an API client may send only the background and layers) the layers are
    laid over the background by their alpha."""
    if not isinstance(editor, Mapping):
        return None
    path = _path(editor.get("composite"))
    if path:
        return to_rgb(_read(path, what, max_pixels))
    background = _path(editor.get("background"))
    if not background:
        return None
    picture = to_rgb(_read(background, what, max_pixels)).astype(np.float64)
    for layer in editor.get("layers") or []:
        rgba = _read(_path(layer), what, max_pixels) if _path(layer) else None
        if rgba is None or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.shape[:2] != picture.shape[:2]:
            continue  # a layer without alpha or of another size is not a painted stroke
        alpha = rgba[:, :, 3:].astype(np.float64) / 255
        picture = picture * (1 - alpha) + rgba[:, :, :3] * alpha
    return picture.round().astype(np.uint8)


# ------------------------------------------------------------------ the three tasks

def run_shadow(model: TrainedModel, editor: Any, mask_file: Any, max_pixels: int):
    """Shadow tab: ``(photo with shadow, shadow layer, light-direction overlay, light text)``,
    uint8 (H, W, 3) pictures of the photo's size. The mask is the uploaded mask file when given,
    else what was painted on the photo."""
    from gan_pipelines.families.shadow.inference import shadow_layer_to_uint8
    from gan_pipelines.families.shadow.shadow_direction import draw_direction_overlay, light_consistency

    if not model.trained:
        raise gr.Error(model.describe().replace("**", ""))
    image, painted = _painted(editor, max_pixels)
    if image is None:
        raise gr.Error("the photo: none given; upload a photo (PNG or JPEG) first")
    mask_path = _path(mask_file)
    if mask_path:
        mask = _read(mask_path, "the mask file", max_pixels, read_mask)[0]
        if mask.shape != image.shape[:2]:
            raise gr.Error(f"the mask file is {mask.shape[1]}x{mask.shape[0]} but the photo is "
                           f"{image.shape[1]}x{image.shape[0]}; they must be the same size")
        if not mask.any():
            raise gr.Error("the mask file marks no object (every pixel is background); mark the inserted object")
    else:
        if painted is None or not painted.any() or painted.shape != image.shape[:2]:
            raise gr.Error("the mask is empty: paint over the inserted object on the photo (or upload a mask file)")
        mask = np.where(painted, 255, 0).astype(np.uint8)
    try:
        result = model.predictor.predict(image, mask, name="the photo")
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    check = light_consistency(result.image, image, mask >= MASK_THRESHOLD, result.robject, result.rshadow)
    overlay = draw_direction_overlay(result.image, mask >= MASK_THRESHOLD, check)
    row = check.as_row()
    score = row["light_consistency"]
    text = (f"Light consistency: **{score:.2f}** (1 = the shadow points the way the scene's shadows do; angle "
            f"difference {row['light_angle_diff_deg']:.0f} degrees)" if score is not None
            else f"Light consistency: not measurable ({row['light_note'] or 'no direction found'})")
    return result.image, shadow_layer_to_uint8(result.shadow_layer), overlay, text


def label_map_from_inputs(editor: Any, upload: Any, palette: ClassPalette, max_pixels: int) -> np.ndarray:
    """uint8 (H, W) class indices from an uploaded map (class indices, or colours of the palette)
    or, without one, the painted canvas snapped to the palette (:func:`snap_to_palette`)."""
    path = _path(upload)
    if path:
        try:
            return _read(path, "the uploaded label map", max_pixels, read_labels)
        except gr.Error as exc:
            if "colour-coded" not in str(exc):
                raise
        # A colour-coded map: every colour must be a palette colour (a class the model knows).
        return _read(path, "the uploaded label map", max_pixels, read_labels, colours=palette.colours)
    picture = _composite(editor, max_pixels, "the painted label map")
    if picture is None:
        raise gr.Error("the label map: none given; paint on the canvas or upload a label map")
    return snap_to_palette(picture, palette.colours)


def run_paired(model: TrainedModel, labels_or_sketch: np.ndarray, *, seed: int, samples: int) -> list[np.ndarray]:
    """Pictures of one paired model for one input: one, or ``samples`` seeded styles for a
    SPADE+VAE model (sample k drawn from seed ``[seed, k]``, as predict does). A model that takes
    its training size only (SPADE+VAE) gets a label map resized to it (nearest class, so no
    class is invented) and answers at that size. Raises gr.Error naming the family."""
    from gan_pipelines.families.paired.networks import style_codes
    from gan_pipelines.images import resize_labels

    predictor = model.predictor
    if predictor.fixed_size and labels_or_sketch.ndim == 2 and labels_or_sketch.shape != tuple(predictor.fixed_size):
        labels_or_sketch = resize_labels(labels_or_sketch, tuple(predictor.fixed_size))
    instances = labels_or_sketch if predictor.input_config.get("instance_edges") else None  # a painted map: one instance per region
    try:
        if predictor.z_dim is None:
            return [predictor.predict(labels_or_sketch, instances, name="the label map")]
        return [predictor.predict(labels_or_sketch, instances, style_codes(1, predictor.z_dim, [seed, k])[0],
                                  name="the label map") for k in range(samples)]
    except ValueError as exc:
        raise gr.Error(f"{model.family}: {exc}") from None


def run_unpaired(model: TrainedModel, labels: np.ndarray, *, seed: int, samples: int) -> list[np.ndarray]:
    """Pictures of one unpaired label -> photo model (A -> B) for the class map ``labels``
    (H, W): the map coded in the colours its label pictures were trained with
    (:func:`~gan_pipelines.families.unpaired.synthetic.label_picture`), then translated; MUNIT
    draws ``samples`` style codes from N(0, I) seeded ``[seed, 0]`` (code k for picture k).
    Raises gr.Error naming the family."""
    from gan_pipelines.families.unpaired.inference import random_style_codes
    from gan_pipelines.families.unpaired.synthetic import LABEL_COLOURS, label_picture

    if int(labels.max()) >= len(LABEL_COLOURS):
        raise gr.Error(f"{model.family}: the label map holds class {int(labels.max())}, but its label pictures had "
                       f"classes 0..{len(LABEL_COLOURS) - 1}")
    predictor, picture = model.predictor, label_picture(labels)
    try:
        if not predictor.style_dim:
            return [predictor.translate(picture, "a2b")]
        return [predictor.translate(picture, "a2b", code) for code in random_style_codes(samples, predictor.style_dim, [seed, 0])]
    except ValueError as exc:
        raise gr.Error(f"{model.family}: {exc}") from None


def run_label_to_photo(models: Mapping[str, TrainedModel], chosen: Sequence[str], editor: Any, upload: Any,
                       seed: float, samples: float, palette: ClassPalette, max_pixels: int):
    """Label map -> photo tab: ``(the map the models saw, coloured (H, W, 3); gallery of
    (picture, caption))``, one picture per chosen model (SPADE+VAE: ``samples`` of them). A model
    that cannot take the map is reported (a warning on the page) while the others answer; when
    none can, gr.Error lists why."""
    chosen = [family for family in (chosen or []) if family in models and models[family].trained]
    if not chosen:
        raise gr.Error("no model chosen; tick at least one trained model")
    labels = label_map_from_inputs(editor, upload, palette, max_pixels)
    known = len(palette.colours)
    if labels.size and int(labels.max()) >= known:
        values = sorted(int(v) for v in np.unique(labels[labels >= known]))
        raise gr.Error(f"the label map holds class(es) {', '.join(map(str, values[:8]))} that the model does not know "
                       f"(it was trained on classes 0..{known - 1})")
    gallery, problems = [], []
    for family in chosen:
        try:
            run = run_unpaired if family in UNPAIRED_LABEL_FAMILIES else run_paired
            pictures = run(models[family], labels, seed=int(seed or 0), samples=int(samples or 1))
        except gr.Error as exc:
            problems.append(exc.message)
            continue
        for k, picture in enumerate(pictures):
            gallery.append((picture, family if len(pictures) == 1 else f"{family} (style {k}, seed {int(seed or 0)})"))
    if not gallery:
        raise gr.Error("; ".join(problems))
    for problem in problems:
        gr.Warning(problem)
    return colourise(labels, palette.colours), gallery


def run_sketch(model: TrainedModel, editor: Any, upload: Any, max_pixels: int) -> np.ndarray:
    """Sketch -> colour tab: uint8 (H, W, 3) picture for the uploaded or drawn sketch."""
    if not model.trained:
        raise gr.Error(model.describe().replace("**", ""))
    path = _path(upload)
    sketch = to_rgb(_read(path, "the uploaded sketch", max_pixels)) if path else \
        _composite(editor, max_pixels, "the drawn sketch")
    if sketch is None:
        raise gr.Error("the sketch: none given; draw on the canvas or upload a sketch")
    return run_paired(model, sketch, seed=0, samples=1)[0]


# ------------------------------------------------------------------ the page

def _blank(colour: Sequence[int], side: int = CANVAS_SIDE) -> np.ndarray:
    return np.tile(np.asarray(colour, np.uint8), (side, side, 1))


def _status(models: Mapping[str, TrainedModel], families: Sequence[str]) -> str:
    return "\n".join(f"- {models[family].describe()}" for family in families if family in models)


def offline_theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only: the default theme fetches its fonts from
    Google Fonts, which an offline, private page must not do."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"],
                             font_mono=["ui-monospace", "Consolas", "monospace"])


def build_app(models: Mapping[str, TrainedModel], params: DemoParams) -> gr.Blocks:
    """The demo page for ``models`` (family -> :class:`TrainedModel`, from
    :func:`~gan_pipelines.families.demo.checkpoints.find_models`). Endpoints (``api_name``):
    ``/shadow``, ``/label_to_photo``, ``/sketch_to_colour``."""
    max_pixels = params.max_pixels
    label_families = [f for f in LABEL_TO_PHOTO_FAMILIES if f in models]
    trained_labels = [f for f in label_families if models[f].trained]
    # The brushes: the classes of the first trained paired model (its palette when it has one), else
    # the unpaired label pictures' six classes (the synthetic scenes' names).
    paired = [models[f] for f in trained_labels if f in PAIRED_LABEL_FAMILIES]
    if paired:
        palette = palette_for(paired[0].predictor.labels, int(paired[0].predictor.input_config.get("label_nc") or 1))
    else:
        from gan_pipelines.families.unpaired.synthetic import LABEL_COLOURS

        palette = palette_for(None, len(LABEL_COLOURS) if trained_labels else 1)

    with gr.Blocks(title="gan_pipelines demo", analytics_enabled=False) as app:
        gr.Markdown("# gan_pipelines demo\nThe project's trained models, on this computer only. "
                    "Nothing you upload leaves it or is saved in the project.")
        with gr.Tab("Shadow", id="shadow"):
            gr.Markdown(_status(models, [SHADOW_FAMILY]), elem_id="shadow-model")
            with gr.Row():
                with gr.Column():
                    photo = gr.ImageEditor(label="Photo: upload it, then paint over the inserted object",
                                           type="filepath", format="png", sources=["upload"], layers=False,
                                           brush=gr.Brush(colors=[MASK_BRUSH], color_mode="fixed", default_size=12),
                                           elem_id="shadow-photo")
                    mask_file = gr.File(label="Or upload the object's mask (white object on black)", elem_id="shadow-mask")
                    shadow_button = gr.Button("Add the shadow", variant="primary", elem_id="shadow-run")
                with gr.Column():
                    shadow_out = gr.Image(label="Photo with the generated shadow", format="png", elem_id="shadow-output")
                    layer_out = gr.Image(label="Shadow layer (grey: no change, darker: shadow)", format="png")
                    overlay_out = gr.Image(label="Light direction: the new shadow (red) and the scene's (cyan)", format="png")
                    light_out = gr.Markdown()
            shadow_button.click(lambda e, m: run_shadow(models.get(SHADOW_FAMILY, TrainedModel(SHADOW_FAMILY)), e, m, max_pixels),
                                [photo, mask_file], [shadow_out, layer_out, overlay_out, light_out], api_name="shadow")

        with gr.Tab("Label map -> photo", id="label_to_photo"):
            gr.Markdown(_status(models, label_families), elem_id="label-models")
            with gr.Row():
                with gr.Column():
                    canvas = gr.ImageEditor(value={"background": _blank(palette.colours[0]), "layers": [_blank((0, 0, 0, 0))], "composite": None},
                                            label="Paint a label map (each brush colour is a class)", type="filepath",
                                            format="png", sources=[], layers=False, canvas_size=(CANVAS_SIDE, CANVAS_SIDE),
                                            brush=gr.Brush(colors=palette.hex_colours(), color_mode="fixed", default_size=24,
                                                           # class 0 is the canvas's colour: painting it would show nothing
                                                           default_color=palette.hex_colours()[min(1, len(palette.colours) - 1)]),
                                            elem_id="label-canvas")
                    gr.Markdown("Brushes, by class:\n" + palette.legend_markdown(), elem_id="label-legend")
                    label_file = gr.File(label="Or upload a label map (class indices, or the palette's colours)",
                                         elem_id="label-file")
                    chosen = gr.CheckboxGroup(trained_labels, value=trained_labels, label="Models", elem_id="label-models-chosen")
                    with gr.Row():
                        seed = gr.Number(0, precision=0, minimum=0, label="Seed (SPADE+VAE, MUNIT styles)")
                        samples = gr.Slider(1, MAX_SAMPLES, value=2, step=1, label="Styles per map (SPADE+VAE, MUNIT)")
                    label_button = gr.Button("Make the photo", variant="primary", elem_id="label-run")
                with gr.Column():
                    seen = gr.Image(label="The label map the models saw (every pixel snapped to a class)", format="png",
                                    elem_id="label-seen")
                    gallery = gr.Gallery(label="Outputs, side by side", columns=2, format="png", elem_id="label-output")
            label_button.click(lambda c, e, u, s, n: run_label_to_photo(models, c, e, u, s, n, palette, max_pixels),
                               [chosen, canvas, label_file, seed, samples], [seen, gallery], api_name="label_to_photo")

        with gr.Tab("Sketch -> colour", id="sketch"):
            sketch_family = SKETCH_FAMILIES[0]
            gr.Markdown(_status(models, SKETCH_FAMILIES), elem_id="sketch-model")
            with gr.Row():
                with gr.Column():
                    sketch = gr.ImageEditor(value={"background": _blank((255, 255, 255)), "layers": [_blank((0, 0, 0, 0))], "composite": None},
                                            label="Draw a sketch (black lines on white)", type="filepath", format="png",
                                            sources=[], layers=False, canvas_size=(CANVAS_SIDE, CANVAS_SIDE),
                                            brush=gr.Brush(colors=[SKETCH_BRUSH], color_mode="fixed", default_size=3),
                                            elem_id="sketch-canvas")
                    sketch_file = gr.File(label="Or upload a sketch", elem_id="sketch-file")
                    sketch_button = gr.Button("Colour it", variant="primary", elem_id="sketch-run")
                sketch_out = gr.Image(label="Coloured picture", format="png", elem_id="sketch-output")
            sketch_button.click(lambda e, u: run_sketch(models.get(sketch_family, TrainedModel(sketch_family)), e, u, max_pixels),
                                [sketch, sketch_file], sketch_out, api_name="sketch_to_colour")
    return app


def launch(app: gr.Blocks, host: str, port: int, *, block: bool = True) -> tuple[gr.Blocks, str]:
    """Serve ``app`` on ``host:port`` (no share link, no browser opened, nothing fetched).
    ``block=True`` serves until Ctrl+C; else returns ``(app, local_url)`` once the server runs
    (``app.close()`` stops it)."""
    _, local_url, _ = app.launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=False,
                                 prevent_thread_lock=not block, theme=offline_theme(), footer_links=[])
    return app, local_url
