#!/usr/bin/env bash
# Why the pipelined one-row GEMV (kernels/gemv_pipe.cu) is slow: ncu's speed-of-light,
# memory, warp-state, scheduler and source-counter sections for layer 0's four GEMVs
# (qkv, o, gate_up, down) of one batch-1 decode step (Qwen3-4B geometry, context 512), for
# the FP8 pipelined kernel, the FP8 streaming kernel it would replace and the BF16
# pipelined kernel. One text report per kernel kind in $OUT. Needs .gpu-carry-cuda.txz.
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/gemv_pipe_ncu.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/gemv_pipe_ncu}
mkdir -p "$OUT"
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/summary.log"
[ -f "$MODEL/config.json" ] ||
  "$BIN/qwen3" init-random --like qwen3-4b --seed 1 --out "$MODEL" >/dev/null 2>&1 &
[ -f "$MODEL-fp8/config.json" ] ||
  "$BIN/qwen3" init-random --like qwen3-4b --dtype fp8 --seed 1 --out "$MODEL-fp8" >/dev/null 2>&1
wait
# profile NAME MODEL REGEX FP8_PIPE BF16_PIPE
profile() {
  QWEN3_GEMV_FP8_PIPE=$4 QWEN3_GEMV_BF16_PIPE=$5 timeout 150 ncu --kernel-name "regex:$3" \
    --launch-count 4 --clock-control none --cache-control none --profile-from-start off \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
    --section SchedulerStats --section Occupancy --section LaunchStats --section SourceCounters \
    "$BIN/qwen3_cuda_bench" --model "$2" --init-random qwen3-4b --profile-decode 1 \
    --profile-batch 1 --profile-sampled 0 >"$OUT/$1.txt" 2>&1
  echo "$1: exit $?" | tee -a "$OUT/summary.log"
  grep -E "^  [a-z_].*\(|Duration|DRAM Throughput|Memory Throughput|Registers Per|Achieved Occ|Issued Warp|No Eligible" \
    "$OUT/$1.txt" | tee -a "$OUT/summary.log"
}
# NCU_PROFILES: which of the three to run (default all).
for what in ${NCU_PROFILES:-fp8_pipe fp8_stream bf16_pipe}; do
  case $what in
    fp8_pipe) profile fp8_pipe "$MODEL-fp8" gemv_pipe 1 0 ;;
    fp8_stream) profile fp8_stream "$MODEL-fp8" "gemv" 0 0 ;;
    bf16_pipe) profile bf16_pipe "$MODEL" gemv_pipe 0 1 ;;
  esac
done
