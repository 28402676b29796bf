#!/usr/bin/env bash
# Issue 7's benchmark items that tools/gpu/cuda_round.sh does not cover, in one call:
# offline throughput over 1,000 prompts (fixed 512/128 and mixed lengths, range ratio 0.5),
# batched decode at 128 and 256 sequences (`bench latency`, 512 in / 128 out), and a
# 32,768-token prefill through the engine (chunked by --max-num-batched-tokens 8192).
# Writes JSON per run and extra_summary.log to $OUT. Needs .gpu-carry-cuda(.txz).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/cuda_extra_bench.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/cuda_extra_out}
mkdir -p "$OUT"
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
SUM=$OUT/extra_summary.log
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$SUM"
[ -f "$MODEL/config.json" ] || "$BIN/qwen3" init-random --like qwen3-4b --seed 0 --out "$MODEL" >/dev/null
run() {  # name, then the qwen3 arguments
  local name=$1
  shift
  echo "== $name: qwen3 $*" | tee -a "$SUM"
  timeout 150 "$BIN/qwen3" "$@" --output-json "$OUT/$name.json" >"$OUT/$name.log" 2>&1 ||
    echo "exit $?" | tee -a "$SUM"
  grep -E "Throughput:|Avg latency|prefill|decode|tok/s" "$OUT/$name.log" | tail -6 | tee -a "$SUM"
}
run throughput_1000 bench throughput --device cuda --model "$MODEL" --input-len 512 \
  --output-len 128 --num-prompts 1000
run throughput_1000_mixed bench throughput --device cuda --model "$MODEL" --input-len 512 \
  --output-len 128 --num-prompts 1000 --random-range-ratio 0.5
for b in 128 256; do
  run "latency_b$b" bench latency --device cuda --model "$MODEL" --input-len 512 --output-len 128 \
    --batch-size "$b" --max-num-seqs "$b" --num-iters-warmup 1 --num-iters 2
done
run prefill_32k bench latency --device cuda --model "$MODEL" --input-len 32768 --output-len 2 \
  --batch-size 1 --max-num-batched-tokens 8192 --max-model-len 40000 --num-iters-warmup 1 --num-iters 2
