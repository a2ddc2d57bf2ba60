"""benchmarks/suite.py runs end to end on one cheap family and writes the JSON the README
describes: every key, positive finite speeds and ratios, null only with a note. Speed itself is
not tested (it depends on the machine)."""

import importlib.util
import json
import math
from pathlib import Path

import torch

PROJECT_ROOT = Path(__file__).resolve().parents[2]

FAMILY_KEYS = {"train_img_s", "reference_img_s", "ratio", "peak_memory_mb", "inference_ms_256",
               "inference_ms_640x480", "notes", "by_resolution", "resolution", "batch"}


def _suite():
    spec = importlib.util.spec_from_file_location("benchmark_suite", PROJECT_ROOT / "benchmarks" / "suite.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts benchmarks/ on sys.path for its sibling scripts
    return module


def _positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


def test_suite_writes_every_key_for_one_family(tmp_path):
    out = tmp_path / "suite.json"
    threads = torch.get_num_threads()
    try:
        assert _suite().main(["--families", "cyclegan", "--resolutions", "32", "--steps", "1", "--warmup", "0",
                              "--threads", "1", "--device", "cpu", "--json", str(out)]) == 0
    finally:
        torch.set_num_threads(threads)  # --threads sets it for the whole process

    result = json.loads(out.read_text())
    assert {"families", "device", "precision", "threads", "cpu_bf16", "peak_memory_kind"} <= set(result)
    assert result["threads"] == 1 and isinstance(result["cpu_bf16"], bool)
    assert result["peak_memory_kind"] == "cpu_peak_rss_increase"
    assert set(result["not_covered"]) == {"sketch2color", "spade_vae"}
    entry = result["families"]["cyclegan"]
    assert FAMILY_KEYS <= set(entry)
    assert entry["resolution"] == 32 and entry["batch"] == 1
    for key in ("train_img_s", "reference_img_s", "ratio", "inference_ms_256", "inference_ms_640x480"):
        assert _positive(entry[key]), (key, entry[key], entry["notes"])
    assert entry["by_resolution"]["32"]["ratio"] == entry["ratio"]
    # the CPU measure can round to 0 bytes when freed memory is reused; it is never None or negative here
    assert isinstance(entry["peak_memory_mb"], float) and entry["peak_memory_mb"] >= 0
    assert any("640x480" in note for note in entry["notes"])  # says what size the generator was fed
