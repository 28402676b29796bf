#!/usr/bin/env bash
# One GPU-machine call for the decode GEMV study: builds tools/gpu/gemv_lab.cu there and
# runs it for 1 and 4 activation rows; with LAB_NCU=1 (and .gpu-carry-cuda.txz carried)
# also tools/gpu/ncu_decode.sh; LAB_PRODUCT_ONLY=1 times only the launcher's choice and the
# decoder's prologue / epilogue variants of it (and the FP8 launchers' choices and the
# FP8 streaming sweep); LAB_BUILD_ONLY=1 builds and stops, LAB_REUSE=1 runs the binary
# built before. Logs go to $OUT.
#
#   run(command="bash tools/gpu/gemv_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/gemv_lab_out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader | tee "$OUT/lab.log"
[ -x /tmp/gemv_lab ] && [ "${LAB_REUSE:-0}" = 1 ] || for f in tools/gpu/gemv_lab.cu src/backends/cuda/kernels/gemv.cu src/backends/cuda/kernels/gemv_fp8.cu \
         src/backends/cuda/kernels/launch.cpp; do
  nvcc -O3 -std=c++20 -arch=sm_90a -I src -x cu -c "$f" -o "/tmp/lab_$(basename "$f").o" &
done
wait
nvcc -arch=sm_90a /tmp/lab_*.o -o /tmp/gemv_lab 2>&1 | tail -5
[ "${LAB_BUILD_ONLY:-0}" = 1 ] && exit 0  # (built while the GPU does something else)
for m in ${LAB_ROWS:-1 4}; do
  timeout 200 /tmp/gemv_lab "$m" 2>&1 | tee -a "$OUT/lab.log"
done
if [ "${LAB_NOPDL:-0}" = 1 ]; then  # the same launches without programmatic dependent launch
  echo "== QWEN3_CUDA_PDL=0" | tee -a "$OUT/lab.log"
  QWEN3_CUDA_PDL=0 timeout 200 /tmp/gemv_lab 1 2>&1 | tee -a "$OUT/lab.log"
fi
if [ "${LAB_NCU:-0}" = 1 ]; then
  bash tools/gpu/ncu_decode.sh
fi
