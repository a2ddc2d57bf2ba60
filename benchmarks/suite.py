"""Where the project stands, in one table: for every family, the project's training step against
a plain eager fp32 loop written the way the family's reference implementation trains, the
training memory, and the generator's inference at 256 px and at 640x480.

Prints one table; with --json writes the figures. Asserts nothing. The parts are the family
scripts' own comparisons, called as functions (their docstrings say what each side does):

* shadow: ``shadow_speed.compare_blocks``, the attention and the generator blocks against the
  ARShadowGAN seed-style loop; the whole step is both blocks per image;
* pix2pix: ``paired_speed.compare`` (junyanz/pytorch-CycleGAN-and-pix2pix; ngf 64 at every
  ``--width``, the script's fixed networks);
* pix2pixhd, spade: ``label_to_photo_speed.compare_sides`` (NVIDIA/pix2pixHD, NVlabs/SPADE;
  VGG19 term off on both sides);
* cyclegan: ``cyclegan_speed.compare`` (junyanz/pytorch-CycleGAN-and-pix2pix);
* ugatit, munit: ``unpaired_speed.compare`` (znxlwm/UGATIT-pytorch, NVlabs/MUNIT).

Not covered: sketch2color and spade_vae, which have no reference-style loop in benchmarks/ (the
JSON's ``not_covered`` says why).

Inference (random weights, batch 1, the family's own predict path and its precision rule):
shadow ``ShadowPredictor.predict`` on a photo and mask of 256x256 and of 640x480 (the model at
256 px, then the full-resolution step); pix2pix, pix2pixhd and spade ``PairedPredictor.predict``
on a label map of that size (padded up to the generator's multiple and cropped back where needed:
the notes say to what); cyclegan, ugatit and munit ``translate`` A -> B (padded likewise; the full
U-GAT-IT generator, whose dense layer is sized for its training picture, gets the picture resized
to 256x256 and back). Each is timed over ``--steps`` calls after ``--warmup``. With
``--compiled-inference`` (default) every predictor is timed again with
``compile=True`` (the paired one at ``--precision``, the unpaired translators in fp32 on a
CPU, as ``translate``): ``inference_ms_<size>_compiled``.

Defaults (3 min 38 s on 2 quiet AVX2 cores, 2026-12-07, before the compiled timings; 3 min 42 s
with them on an Intel Xeon with AMX, 2026-12-08; the issue allows 20): every family,
training at 256 px, batch 1, 6 timed steps after 2 warm-ups (with 2 after 1 the ratios moved by
up to 0.1), cpu widths (conf/base, what ``kedro run`` trains), torch's threads, precision auto.

Examples::

    python benchmarks/suite.py --json suite.json
    python benchmarks/suite.py --families pix2pix cyclegan --resolutions 64 256 --batch 4 --steps 3
    python benchmarks/suite.py --resolutions 64 --steps 1 --warmup 0 --threads 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cyclegan_speed  # noqa: E402
import label_to_photo_speed  # noqa: E402
import paired_speed  # noqa: E402
import shadow_speed  # noqa: E402
import unpaired_speed  # noqa: E402
from common import Measured, TrainingMemory, add_timing_options, apply_timing_options, environment, inference_ms  # noqa: E402

from gan_pipelines.training.device import cpu_supports_bf16  # noqa: E402

FAMILIES = ("shadow", "pix2pix", "pix2pixhd", "spade", "cyclegan", "ugatit", "munit")
NOT_COVERED = {
    "sketch2color": "no reference-style loop in benchmarks/ (its step is pix2pix's U-Net + PatchGAN with perceptual "
                    "and TV terms and a D step every 2 steps; the pix2pix row times the shared part)",
    "spade_vae": "no reference-style loop in benchmarks/ (label_to_photo_speed.py writes SPADE's without the style "
                 "encoder and KL term)",
}
INFERENCE_SIZES = {"256": (256, 256), "640x480": (480, 640)}  # key -> (height, width)
SHADOW_ENVS = {"cpu": "base", "reference": "paper"}  # --width -> shadow_speed's --env


def samples(batch: int) -> int:
    """Pictures (or scenes) drawn per data set: enough for two batches."""
    return max(4, 2 * batch)


def sized(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` (label map, mask or picture) at ``height`` x ``width``, nearest neighbour (labels stay labels)."""
    if image.shape[:2] == (height, width):
        return image
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)


# --------------------------------------------------------------------------------------------
# Training: the family scripts' comparisons
# --------------------------------------------------------------------------------------------


def train_shadow(resolution, batch, args, setup) -> dict[str, Any]:
    params = shadow_speed.load_params(SHADOW_ENVS[args.width])
    with tempfile.TemporaryDirectory(prefix="suite_shadow_") as tmp:
        arrays = shadow_speed.render_dataset(Path(tmp), samples(batch), resolution)
        blocks = shadow_speed.compare_blocks(params, Path(tmp), arrays, batch, args, *setup)
    record = training_record(shadow_speed.both_blocks_img_s(blocks, "project"),
                             shadow_speed.both_blocks_img_s(blocks, "reference"),
                             [block["project"].memory for block in blocks.values()])
    for block, measured in blocks.items():
        record[f"ratio_{block}"] = measured["project"].img_s / measured["reference"].img_s
    return record


def train_pix2pix(resolution, batch, args, setup) -> dict[str, Any]:
    a, b = paired_speed.make_pairs(samples(batch), resolution)
    with tempfile.TemporaryDirectory(prefix="suite_pix2pix_") as tmp:
        paired_speed.write_aligned(Path(tmp), a, b)
        return sides_record(paired_speed.compare(Path(tmp), a, b, resolution, batch, args, *setup))


def train_label_to_photo(model: str):
    def train(resolution, batch, args, setup) -> dict[str, Any]:
        params, settings = label_to_photo_speed.settings_for(model, args.width, resolution, batch, args.workers)
        arrays = label_to_photo_speed.render_triples(samples(batch), resolution)
        with tempfile.TemporaryDirectory(prefix=f"suite_{model}_") as tmp:
            label_to_photo_speed.write_pngs(Path(tmp), arrays)
            measured, _ = label_to_photo_speed.compare_sides(model, params, settings, resolution, batch, arrays,
                                                             Path(tmp), args, *setup)
        return sides_record(measured)

    return train


@contextlib.contextmanager
def two_domains(resolution: int, batch: int):
    """``(root, a, b)``: two domains drawn by ``cyclegan_speed.draw_domain``, stored as PNGs under
    ``root/A`` and ``root/B`` for the reference-style side."""
    a = cyclegan_speed.draw_domain("A", samples(batch), resolution, 0)
    b = cyclegan_speed.draw_domain("B", samples(batch) + 1, resolution, 1)  # the domains differ in size
    with tempfile.TemporaryDirectory(prefix="suite_unpaired_") as tmp:
        cyclegan_speed.write_pngs(Path(tmp), "A", a)
        cyclegan_speed.write_pngs(Path(tmp), "B", b)
        yield Path(tmp), a, b


def train_cyclegan(resolution, batch, args, setup) -> dict[str, Any]:
    settings = cyclegan_speed.train_params(args.width, resolution, batch)
    with two_domains(resolution, batch) as (root, a, b):
        return sides_record(cyclegan_speed.compare(root, a, b, settings, resolution, batch, args, *setup))


def train_unpaired(model: str):
    def train(resolution, batch, args, setup) -> dict[str, Any]:
        settings = unpaired_speed.train_params(model, args.width, resolution, batch)
        with two_domains(resolution, batch) as (root, a, b):
            measured, _ = unpaired_speed.compare(model, settings, root, a, b, resolution, batch, args, *setup)
        return sides_record(measured)

    return train


def training_record(project_img_s: float, reference_img_s: float, memories: list[TrainingMemory]) -> dict[str, Any]:
    peaks = [memory.peak for memory in memories]
    return {"train_img_s": project_img_s, "reference_img_s": reference_img_s, "ratio": project_img_s / reference_img_s,
            "peak_memory_mb": None if None in peaks else max(peaks) / 2**20}


def sides_record(measured: dict[str, Measured]) -> dict[str, Any]:
    return training_record(measured["project"].img_s, measured["reference"].img_s, [measured["project"].memory])


# --------------------------------------------------------------------------------------------
# Inference: the families' predict paths, random weights
# --------------------------------------------------------------------------------------------


def infer_shadow(args, setup):
    """``({size: call}, notes)``: ``ShadowPredictor.predict`` with the model at 256 px."""
    from gan_pipelines.families.shadow.networks import build_attention_net, build_shadow_generator
    from gan_pipelines.families.shadow.predict import ShadowPredictor

    params = shadow_speed.load_params(SHADOW_ENVS[args.width])
    bundles = []
    for stage, network, build in (("train_attention", "attention", build_attention_net),
                                  ("train_generator", "generator", build_shadow_generator)):
        config = dict(params[stage]["model"], encoder_weights=None)
        bundles.append({"state_dicts": {network: build(config).state_dict()}, "model_config": {network: config},
                        "meta": {"resolution": 256}})
    predictor = ShadowPredictor(*bundles, device=str(setup[0]), precision=args.precision)
    predictors = {"": predictor}
    if args.compiled_inference:
        started = time.perf_counter()
        predictors["_compiled"] = ShadowPredictor(*bundles, device=str(setup[0]), precision=args.precision, compile=True)
        compile_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="suite_shadow_scene_") as tmp:
        scene = shadow_speed.render_dataset(Path(tmp), 1, 256)
    calls = {}
    for key, (height, width) in INFERENCE_SIZES.items():
        photo, mask = sized(scene["noshadow"][0], height, width), sized(scene["mask"][0], height, width)
        for suffix, one in predictors.items():
            calls[key + suffix] = lambda photo=photo, mask=mask, one=one: one.predict(photo, mask)
    sharpened = calls["640x480"]().sharpened
    notes = [f"inference: ShadowPredictor.predict, model at 256 px in {predictor.precision.name}, then the "
             "full-resolution step (" + ("sharp shadow at full size, the scene's darkness where measurable)" if sharpened
                                         else "upsampled ratio: the random weights darkened nothing)")]
    if args.compiled_inference:
        notes.append(f"compiled inference: ShadowPredictor(compile=True), {predictors['_compiled'].compiled}, "
                     f"compiling took {compile_seconds:.0f} s")
    return calls, notes


def paired_inference(family: str, input_config: dict[str, Any], generator_config: dict[str, Any],
                     inputs: dict[str, np.ndarray], device, args):
    """``({size: call}, notes)``: ``PairedPredictor.predict`` of a random generator of
    ``generator_config`` on the ``inputs`` (``raw`` and maybe ``instances``, 256 px) at each size;
    with ``--compiled-inference`` also ``<size>_compiled``: ``compile=True`` at ``--precision``."""
    from gan_pipelines.families.paired.networks import build_paired_generator
    from gan_pipelines.families.paired.predict import PairedPredictor

    bundle = {"model_config": {"input": input_config, "generator": generator_config},
              "state_dicts": {"generator": build_paired_generator(generator_config).state_dict()},
              "meta": {"family": family, "resolution": 256}}
    predictors = {"": PairedPredictor(bundle, family, device=str(device))}  # predict's defaults: fp32, eager
    if args.compiled_inference:
        predictors["_compiled"] = PairedPredictor(bundle, family, device=str(device), precision=args.precision,
                                                  compile=True)
    calls = {}
    for key, (height, width) in INFERENCE_SIZES.items():
        resized = {name: sized(array, height, width) for name, array in inputs.items()}
        for suffix, one in predictors.items():
            calls[key + suffix] = lambda resized=resized, one=one: one.predict(**resized)
    notes = [fed_size_note("PairedPredictor.predict", predictors[""].multiple, predictors[""].multiple)]
    if args.compiled_inference:
        compiled = predictors["_compiled"]
        notes.append(f"compiled inference: PairedPredictor(precision={args.precision!r} -> {compiled.precision.name}, "
                     "compile=True); each size compiles in the warm-up calls")
    return calls, notes


def fed_size_note(path: str, multiple: int, smallest: int) -> str:
    height, width = INFERENCE_SIZES["640x480"]
    fed = [max(smallest, math.ceil(side / multiple) * multiple) for side in (height, width)]
    if fed == [height, width]:
        return f"inference: {path}; 640x480 fed as it is (a multiple of {multiple})"
    return (f"inference: {path}; 640x480 padded to {fed[1]}x{fed[0]} (the generator takes multiples of "
            f"{multiple}) and cropped back")


def infer_pix2pix(args, setup):
    a, _ = paired_speed.make_pairs(1, 256)
    return paired_inference("pix2pix", {"type": "rgb"}, paired_speed.generator_config(256), {"raw": a[0]}, setup[0], args)


def infer_label_to_photo(model: str):
    def infer(args, setup):
        _, settings = label_to_photo_speed.settings_for(model, args.width, 256, 1)
        triple = label_to_photo_speed.render_triples(1, 256)
        inputs = {"raw": triple["label_map"][0]}
        if settings["input"]["instance_edges"]:
            inputs["instances"] = triple["instance_map"][0]
        return paired_inference(model, settings["input"], settings["generator"], inputs, setup[0], args)

    return infer


def unpaired_inference(translator, device, args):
    """``({size: call}, notes)``: ``translate`` A -> B with ``translator``; with
    ``--compiled-inference`` also ``<size>_compiled``: the translator as ``UnpairedPredictor``'s
    ``compile=True`` wraps it (fp32 on a CPU, as ``translate``)."""
    from gan_pipelines.families.unpaired.inference import translate
    from gan_pipelines.families.unpaired.networks import min_size, size_multiple
    from gan_pipelines.training.compiled_inference import compile_for_inference

    picture = cyclegan_speed.draw_domain("A", 1, 256, 0)[0]
    translators = {"": translator}
    if args.compiled_inference:
        translators["_compiled"] = compile_for_inference(translator)
    calls = {}
    for key, (height, width) in INFERENCE_SIZES.items():
        batch = sized(picture, height, width)[None]
        for suffix, one in translators.items():
            calls[key + suffix] = lambda batch=batch, one=one: translate(one, batch, device=device)
    fixed = getattr(translator, "input_size", None)
    if fixed:
        note = (f"inference: translate; 640x480 resized to {fixed}x{fixed} and back (the full generator's dense layer "
                "is sized for its training picture)")
    else:
        note = fed_size_note("translate", size_multiple(translator), min_size(translator))
    notes = [note]
    if args.compiled_inference:
        notes.append("compiled inference: translate with the translator compiled (UnpairedPredictor(compile=True)); "
                     "each size compiles in the warm-up calls")
    return calls, notes


def infer_cyclegan(args, setup):
    settings = cyclegan_speed.train_params(args.width, 256, 1)
    return unpaired_inference(cyclegan_speed.networks(settings, 256)["G_AB"], setup[0], args)


def infer_unpaired(model: str):
    def infer(args, setup):
        from gan_pipelines.families.unpaired.networks import direction_translators

        settings = unpaired_speed.train_params(model, args.width, 256, 1)
        nets = unpaired_speed.networks(model, settings, 256)
        return unpaired_inference(direction_translators(model, nets)["a2b"], setup[0], args)

    return infer


# family -> (training comparison, inference calls)
PARTS: dict[str, tuple[Callable, Callable]] = {
    "shadow": (train_shadow, infer_shadow),
    "pix2pix": (train_pix2pix, infer_pix2pix),
    "pix2pixhd": (train_label_to_photo("pix2pixhd"), infer_label_to_photo("pix2pixhd")),
    "spade": (train_label_to_photo("spade"), infer_label_to_photo("spade")),
    "cyclegan": (train_cyclegan, infer_cyclegan),
    "ugatit": (train_unpaired("ugatit"), infer_unpaired("ugatit")),
    "munit": (train_unpaired("munit"), infer_unpaired("munit")),
}
TRAINING_KEYS = ("train_img_s", "reference_img_s", "ratio", "peak_memory_mb")
# What a configuration the networks refuse, or one that runs out of memory, raises.
NOT_MEASURED = (ValueError, RuntimeError, MemoryError)


def why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:300] if str(exc).strip() else 'no message'}"


def measure_family(family: str, args, setup) -> dict[str, Any]:
    """The family's JSON entry: the training figures at the largest of ``--resolutions`` (and each
    one under ``by_resolution``), the inference figures, ``notes``."""
    train, infer = PARTS[family]
    entry: dict[str, Any] = {"notes": [], "by_resolution": {}}
    for resolution in args.resolutions:
        try:
            record = train(resolution, args.batch, args, setup)
        except NOT_MEASURED as exc:
            record = dict.fromkeys(TRAINING_KEYS)
            entry["notes"].append(f"training at {resolution} px not measured: {why(exc)}")
        else:
            if record["peak_memory_mb"] is None:
                entry["notes"].append(f"training memory at {resolution} px not measured: no measure on "
                                      f"{setup[0].type} (CPU resident size or CUDA allocator only)")
        entry["by_resolution"][str(resolution)] = record
    headline = max(args.resolutions)
    entry.update(entry["by_resolution"][str(headline)], resolution=headline, batch=args.batch)
    try:
        calls, notes = infer(args, setup)
        entry["notes"] += notes
        for key, call in calls.items():
            entry[f"inference_ms_{key}"] = inference_ms(call, setup[0], args.warmup, args.steps)
    except NOT_MEASURED as exc:
        for key in INFERENCE_SIZES:
            entry.setdefault(f"inference_ms_{key}", None)
        entry["notes"].append(f"inference not measured: {why(exc)}")
    return entry


# --------------------------------------------------------------------------------------------


def number(value: float | None, digits: int = 3) -> str:
    return "null" if value is None else f"{value:.{digits}g}"


def print_table(result: dict[str, Any]) -> None:
    header = ("family", "px", "project img/s", "reference img/s", "ratio", "peak MB", "infer 256 ms",
              "infer 640x480 ms", "compiled 256 ms", "compiled 640x480 ms")
    rows = []
    for family, entry in result["families"].items():
        for index, (resolution, record) in enumerate(entry["by_resolution"].items()):
            ratio = number(record["ratio"]) + ("x" if record["ratio"] is not None else "")
            if family == "shadow" and record["ratio"] is not None:
                ratio += f" (att {record['ratio_attention']:.2f}, gen {record['ratio_generator']:.2f})"
            inference = tuple(number(entry.get(f"inference_ms_{key}"), 4)
                              for key in ("256", "640x480", "256_compiled", "640x480_compiled"))
            rows.append((family if index == 0 else "", resolution, number(record["train_img_s"]),
                         number(record["reference_img_s"]), ratio, number(record["peak_memory_mb"], 4),
                         *(inference if index == 0 else ("",) * len(inference))))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print()
    print(f"device {result['device']}, project precision {result['precision']} (reference fp32), "
          f"{result['threads']} threads, cpu_bf16 {result['cpu_bf16']}, batch {result['batch']}, "
          f"peak memory: {result['peak_memory_kind']}")
    for row in [header, ["-" * width for width in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("\nnotes:")
    for family, entry in result["families"].items():
        for note in entry["notes"]:
            print(f"  {family}: {note}")
    for family, reason in result["not_covered"].items():
        print(f"  {family}: not covered: {reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", default=list(FAMILIES), choices=FAMILIES,
                        help="default: all of them")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[256],
                        help="training resolutions (default 256); the headline figures are the largest's")
    parser.add_argument("--batch", type=int, default=1, help="training batch size (default 1)")
    parser.add_argument("--width", choices=("cpu", "reference"), default="cpu",
                        help="cpu: conf/base model sizes (default); reference: conf/paper (shadow: --env paper)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this file")
    parser.add_argument("--compiled-inference", action=argparse.BooleanOptionalAction, default=True,
                        help="also time every predictor with compile=True (the paired one at the suite's precision): "
                             "inference_ms_<size>_compiled (default: on)")
    add_timing_options(parser, workers_help="DataLoader workers (both paths)")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.batch < 1:
        parser.error("--steps and --batch must be at least 1, --warmup at least 0")

    device, precision, channels_last = apply_timing_options(args)
    setup = (device, precision, channels_last)
    info = environment(device)
    print(f"suite: {', '.join(args.families)}; {args.resolutions} px, batch {args.batch}, {args.steps} steps after "
          f"{args.warmup} warm-up, {args.width} widths; {info.get('gpu') or info['cpu']}, {torch.get_num_threads()} "
          f"threads, precision {precision.name}", flush=True)
    started = time.perf_counter()
    families = {}
    for family in args.families:
        family_started = time.perf_counter()
        families[family] = measure_family(family, args, setup)
        families[family]["seconds"] = time.perf_counter() - family_started
        print(f"{family}: done in {families[family]['seconds']:.0f} s", flush=True)
    result = {
        "families": families,
        "device": f"{device} ({info.get('gpu') or info['cpu']})",
        "precision": precision.name,
        "threads": torch.get_num_threads(),
        "cpu_bf16": cpu_supports_bf16(),
        "peak_memory_kind": TrainingMemory(device).kind,
        "batch": args.batch,
        "settings": {"resolutions": args.resolutions, "steps": args.steps, "warmup": args.warmup, "width": args.width,
                     "workers": args.workers, "channels_last": channels_last, "compile": args.compile},
        "environment": info,
        "not_covered": NOT_COVERED,
        "seconds": time.perf_counter() - started,
    }
    print_table(result)
    print(f"\n{result['seconds']:.0f} s in all")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
