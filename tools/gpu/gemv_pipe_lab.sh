#!/usr/bin/env bash
# The pipelined one-row GEMVs (kernels/gemv_pipe.cu: FP8 and BF16 weights) against the
# streaming kernels they would replace for batch-1 decode, in one call: the GPU tests (all
# by default; LAB_TESTS is a gtest filter; among them both kinds of kernel against the
# CPU's float64 reference and the CUDA attention window, test_cuda_window.cpp), then
# `qwen3 bench latency` at batch 1 on the random Qwen3-4B FP8 and BF16 checkpoints with
# the pipelined kernel on (QWEN3_GEMV_FP8_PIPE=1 / QWEN3_GEMV_BF16_PIPE=1) and off,
# alternating, twice each, then (LAB_NCU=1) ncu's per-kernel times of one FP8 decode step
# with the pipelined kernel. Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/gemv_pipe_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/gemv_pipe_lab}
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE=${LAB_DEADLINE_S:-540}
SUM=$OUT/summary.log
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
source tools/gpu/round_steps.sh

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$SUM"
copy_bandwidth
log "GPU tests ${LAB_TESTS:-*}"
timeout "$(box 180)" "$BIN/qwen3_cuda_tests" --gtest_filter="${LAB_TESTS:-*}" \
  >"$OUT/tests.log" 2>&1
echo "exit $?" >>"$OUT/tests.log"
grep -E '^\[  (PASSED|FAILED)|tests ran|^exit|FAILED  \]' "$OUT/tests.log" | tee -a "$SUM"

log "checkpoints"
[ -f "$MODEL/config.json" ] || timeout "$(box 60)" "$BIN/qwen3" init-random --like qwen3-4b \
  --seed 1 --out "$MODEL" >/dev/null 2>&1 &
[ -f "$MODEL-fp8/config.json" ] || timeout "$(box 60)" "$BIN/qwen3" init-random --like qwen3-4b \
  --dtype fp8 --seed 1 --out "$MODEL-fp8" >/dev/null 2>&1
wait
for run in "fp8_pipe 1 0 $MODEL-fp8" "fp8_stream 0 0 $MODEL-fp8" "bf16_pipe 0 1 $MODEL" \
  "bf16_stream 0 0 $MODEL" "fp8_pipe_2 1 0 $MODEL-fp8" "fp8_stream_2 0 0 $MODEL-fp8" \
  "bf16_pipe_2 0 1 $MODEL" "bf16_stream_2 0 0 $MODEL"; do
  read -r name fp8_pipe bf16_pipe dir <<<"$run"
  [ -f "$dir/config.json" ] || continue
  QWEN3_GEMV_FP8_PIPE=$fp8_pipe QWEN3_GEMV_BF16_PIPE=$bf16_pipe qwen3_run "latency_b1_$name" 60 \
    bench latency --device cuda --model "$dir" --input-len 512 --output-len 128 \
    --batch-size 1 --num-iters-warmup 1 --num-iters 3
done

if [ "${LAB_NCU:-1}" = 1 ] && [ -f "$MODEL-fp8/config.json" ] && [ "$(box 150)" -ge 90 ]; then
  log "ncu: one FP8 decode step, pipelined GEMV"
  QWEN3_GEMV_FP8_PIPE=1 MODEL=$MODEL-fp8 NCU_CACHE=none OUT=$OUT/ncu \
    timeout "$(box 150)" bash tools/gpu/ncu_decode.sh >/dev/null 2>&1
  head -25 "$OUT/ncu/ncu_decode.log" | tee -a "$SUM"
fi
log "done"
