#!/usr/bin/env bash
# The CUDA table of benchmarks/README.md in one go: paper model sizes at 256 px, batch 18
# (the reference scale), project path in bf16 and fp32, the reference-style comparison, the
# CUDA engine tests, and torch.compile last (slow to compile, so it has its own time limit).
# Prints figures only; each part runs even if an earlier one failed.
#   bash benchmarks/cuda_table.sh            # WORKERS=4 COMPILE_LIMIT=240 by default
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
bench="python3 benchmarks/shadow_speed.py --env paper --resolution 256 --batch 18 --scenes 72 --steps 10 --warmup 3 --workers ${WORKERS:-4}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "== project path, bf16";  $bench --precision bf16 --mode attention generator inference
echo "== project path, fp32";  $bench --precision fp32 --mode attention generator inference
echo "== reference-style eager fp32 loop vs project path (bf16)";  $bench --precision bf16 --mode compare data
echo "== CUDA engine tests";  python3 -m pytest -q -p no:cacheprovider tests/training/test_engine.py -k cuda
echo "== project path, bf16 + torch.compile"
timeout "${COMPILE_LIMIT:-240}" $bench --precision bf16 --compile --mode attention generator inference
echo "== done"
