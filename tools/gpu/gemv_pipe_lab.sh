#!/usr/bin/env bash
# The pipelined one-row GEMVs (kernels/gemv_pipe.cu: FP8 and BF16 weights) against the
# streaming kernels they would replace for batch-1 decode, in one call: the GPU tests (all
# by default; LAB_TESTS is a gtest filter; among them both kinds of kernel against the
# CPU's float64 reference and the CUDA attention window, test_cuda_window.cpp), then
# `qwen3 bench latency` at batch 1 on the random Qwen3-4B FP8 checkpoint with the FP8
# pipelined kernel on and off (QWEN3_GEMV_FP8_PIPE=1 / 0), alternating with the BF16
# checkpoint, twice each; a 4,096-token prompt with and without --attention-window 1024;
# then (LAB_NCU=1) ncu's per-kernel times of one FP8 decode step. Needs
# .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/gemv_pipe_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${LAB_DEADLINE_S:-540}
source tools/gpu/round_steps.sh
lab_begin gemv_pipe_lab
# The checkpoints are written on the CPU while the tests use the GPU.
lab_checkpoint 120 "$MODEL"
lab_checkpoint 120 "$MODEL-fp8" --dtype fp8
lab_tests 200 "${LAB_TESTS:-*}"
grep -E '^\[fp8 gemm|^\[.*steps' "$OUT/tests.log" | head -20 | tee -a "$SUM"
log "checkpoints"
wait
# Runs, separated by ";": name, QWEN3_GEMV_FP8_PIPE, QWEN3_GEMV_BF16_PIPE,
# QWEN3_GEMV_PIPE_ROUND_BYTES (the tiling's cost of a round's end; "-" = the kernel's
# default), checkpoint ("fp8" or "bf16"). LAB_RUNS replaces the list.
RUNS=${LAB_RUNS:-"fp8_pipe 1 0 - fp8; fp8_stream 0 0 - fp8; bf16 0 0 - bf16;
  fp8_pipe_2 1 0 - fp8; fp8_stream_2 0 0 - fp8; bf16_2 0 0 - bf16;
  fp8_pipe_r32k 1 0 32768 fp8; fp8_pipe_r128k 1 0 131072 fp8"}
IFS=';' read -ra RUN_LIST <<<"${RUNS//$'\n'/ }"
for run in "${RUN_LIST[@]}"; do
  read -r name fp8_pipe bf16_pipe round_bytes which <<<"$run"
  dir=$MODEL
  [ "$which" = fp8 ] && dir=$MODEL-fp8
  [ -f "$dir/config.json" ] || continue
  [ "$round_bytes" = - ] && round_bytes=
  QWEN3_GEMV_FP8_PIPE=$fp8_pipe QWEN3_GEMV_BF16_PIPE=$bf16_pipe \
    QWEN3_GEMV_PIPE_ROUND_BYTES=$round_bytes qwen3_run "latency_b1_$name" 60 \
    bench latency --device cuda --model "$dir" --input-len 512 --output-len 128 \
    --batch-size 1 --num-iters-warmup 1 --num-iters 3
done
# The attention window on CUDA (BF16 KV): a 4,096-token prompt seen through 1,024 + 4 sinks.
if [ "${LAB_WINDOW:-1}" = 1 ]; then
  for window in "window --attention-window 1024" "nowindow"; do
    read -r name flags <<<"$window"
    # shellcheck disable=SC2086
    qwen3_run "latency_b1_$name" 90 bench latency --device cuda --model "$MODEL" \
      --input-len 4096 --output-len 128 --batch-size 1 --num-iters-warmup 1 --num-iters 2 $flags
  done
fi

# FP8 against BF16 logits over 1,000 teacher-forced batch-1 decode steps (the FP8 checkpoint
# is the BF16 one quantized: init-random of the same seed), FP8 GEMV pipelined and not.
if [ "${LAB_ACCURACY:-1}" = 1 ] && [ -f "$MODEL-fp8/config.json" ]; then
  for pipe in 1 0; do
    [ "$(box 60)" -ge 30 ] || continue
    log "bench accuracy, QWEN3_GEMV_FP8_PIPE=$pipe"
    QWEN3_GEMV_FP8_PIPE=$pipe timeout "$(box 60)" "$BIN/qwen3" bench accuracy --device cuda \
      --model "$MODEL-fp8" --reference "$MODEL" --prompt-len 64 --steps 1000 \
      --output-json "$OUT/accuracy_pipe$pipe.json" 2>&1 | tail -8 | tee -a "$SUM"
  done
fi

if [ "${LAB_NCU:-1}" = 1 ] && [ -f "$MODEL-fp8/config.json" ] && [ "$(box 150)" -ge 90 ]; then
  log "ncu: one FP8 decode step (the decoder's choice of GEMV)"
  MODEL=$MODEL-fp8 NCU_CACHE=none OUT=$OUT/ncu timeout "$(box 150)" bash tools/gpu/ncu_decode.sh \
    >/dev/null 2>&1
  head -25 "$OUT/ncu/ncu_decode.log" | tee -a "$SUM"
fi
if [ "${LAB_NCU:-1}" = 1 ] && [ "$(box 100)" -ge 60 ]; then
  log "ncu sections: layer 0's FP8 pipelined GEMVs"
  NCU_PROFILES=fp8_pipe OUT=$OUT/ncu2 timeout "$(box 100)" bash tools/gpu/gemv_pipe_ncu.sh \
    >/dev/null 2>&1
  tail -n +3 "$OUT/ncu2/summary.log" | tee -a "$SUM"
fi
log "done"
lab_pack
