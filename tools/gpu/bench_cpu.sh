#!/usr/bin/env bash
# On the GPU machine's CPU (16 cores): our CPU path vs HF transformers on CPU, same run.
# Needs .gpu-carry/ from tools/gpu/prepare_carry.sh. Results in $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1 LD_LIBRARY_PATH="$PWD/.gpu-carry/lib"
BIN="$PWD/.gpu-carry/bin/qwen3"
lscpu | grep -E "Model name|^CPU\(s\)|L3" | tee "$OUT/cpu.txt"
"$BIN" init-random --like tiny --seed 0 --out /tmp/tiny
"$BIN" init-random --like qwen3-4b --seed 0 --out /tmp/qwen3-4b
python3 tools/gpu/bench_cpu_vs_hf.py "$BIN" "$OUT/bench_cpu_vs_hf.json" /tmp/tiny /tmp/qwen3-4b 2>&1 \
  | grep -v "Loading weights" | tee "$OUT/bench_cpu_vs_hf.log"
