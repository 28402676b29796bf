#!/usr/bin/env bash
# The docs/PERFORMANCE.md "bench serve" record on the CPU fixture model (init-random
# --like tiny --seed 0, real tokenizer), all in one run so the numbers compare:
#   1. reference: `qwen3 generate` (engine alone, batch 1, greedy): prefill and decode rate
#   2. bench serve, one request at a time: TTFT / TPOT against (1)
#   3. bench serve, all prompts at once: throughput under full load
#   4. bench serve, Poisson arrivals at RATE req/s, at most 16 in flight
# JSON + SVG + logs in OUT (default bench/results/serve_cpu_fixture_<host>_<date>/).
#   bench/serve/cpu_fixture.sh [BUILD_DIR]     env: PORT (8124), RATE (2), OUT
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
qwen3="$build/qwen3"
out=${OUT:-bench/results/serve_cpu_fixture_$(hostname)_$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
model="bench/results/tiny_seed0"
[[ -f $model/config.json ]] ||
  "$qwen3" init-random --like tiny --seed 0 --tokenizer third_party/tokenizer/qwen3 --out "$model" >/dev/null
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); load average: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/machine.txt"

ids=$(seq -s, 1000 1127)  # 128 ordinary token ids
"$qwen3" generate -m "$model" --prompt-ids "$ids" -n 32 --ignore-eos --temperature 0 2>&1 >/dev/null |
  tee "$out/generate.txt"

common=(--random-input-len 128 --random-output-len 32 --ignore-eos --seed 0 --no-progress)
MODEL="$model" PORT=${PORT:-8124} OUT="$out" bench/serve/run.sh "$build" "${common[@]}" --num-prompts 16 \
  --max-concurrency 1 | tee "$out/serial.txt"
MODEL="$model" PORT=${PORT:-8124} OUT="$out" bench/serve/run.sh "$build" "${common[@]}" --num-prompts 64 \
  | tee "$out/burst.txt"
MODEL="$model" PORT=${PORT:-8124} OUT="$out" bench/serve/run.sh "$build" "${common[@]}" --num-prompts 64 \
  --request-rate "${RATE:-2}" --max-concurrency 16 | tee "$out/poisson.txt"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
