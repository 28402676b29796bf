#!/usr/bin/env bash
# One GPU-machine call for the CUDA backend (issue 7): the GPU tests, then the benchmark
# (copy-bandwidth roofline, decode GEMV bandwidth, batch-1 decode of the Qwen3-4B-geometry
# random BF16 model at context 512 as % of roofline, batched decode, prefill 512/4096).
# Runs the binaries from .gpu-carry-cuda/ (tools/gpu/cuda_prepare_carry.sh) when carried,
# else builds with the machine's CMake + nvcc. Logs and JSON go to $OUT.
#
#   run(carry=[".gpu-carry-cuda"], command="bash tools/gpu/cuda_bench.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/cuda_bench_out}
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/cuda_summary.log"; }

if [ -x .gpu-carry-cuda/bin/qwen3_cuda_tests ]; then
  BIN=.gpu-carry-cuda/bin
  source tools/gpu/cuda_env.sh
else
  log "building (no carried binaries)"
  cmake -S . -B build-gpu -G Ninja -DQWEN3_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a >"$OUT/build.log" 2>&1 &&
    ninja -C build-gpu qwen3_cuda_tests qwen3_cuda_bench >>"$OUT/build.log" 2>&1 || { log "build failed"; tail -30 "$OUT/build.log"; exit 1; }
  BIN=build-gpu
  BIN_TESTS=build-gpu/tests/cuda/qwen3_cuda_tests
fi
TESTS=${BIN_TESTS:-$BIN/qwen3_cuda_tests}
BENCH=$( [ -x "$BIN/qwen3_cuda_bench" ] && echo "$BIN/qwen3_cuda_bench" || echo build-gpu/bench/cuda/qwen3_cuda_bench)

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem --format=csv | tee -a "$OUT/cuda_summary.log"
log "GPU tests"
timeout 300 "$TESTS" --gtest_output="json:$OUT/cuda_tests.json" 2>&1 | tee "$OUT/cuda_tests.log" |
  grep -E '^\[(  FAILED|  PASSED|==========)|^\[[a-z]|FAILED|Failure|error' | tee -a "$OUT/cuda_summary.log"
log "benchmark"
# CUDA_BENCH_FP8=1: also the FP8 (E4M3, block 128) checkpoint of the same random weights
# (GEMV, decode, prefill; "fp8" in the JSON). Creating it adds the host quantization time.
FP8_ARGS=()
[ "${CUDA_BENCH_FP8:-0}" = 1 ] && FP8_ARGS=(--fp8-model /tmp/qwen3-4b-random-fp8)
timeout 420 "$BENCH" --model /tmp/qwen3-4b-random ${FP8_ARGS[@]+"${FP8_ARGS[@]}"} --init-random qwen3-4b --json "$OUT/cuda_bench.json" \
  2>&1 | tee "$OUT/cuda_bench.log" | tee -a "$OUT/cuda_summary.log"
if [ "${CUDA_SANITIZE:-0}" = 1 ] && command -v compute-sanitizer >/dev/null; then
  log "compute-sanitizer memcheck (kernel tests)"
  timeout 120 compute-sanitizer --tool memcheck "$TESTS" --gtest_filter='CudaKernels*:*PagedAttention*:*QkNorm*' \
    >"$OUT/cuda_sanitizer.log" 2>&1
  tail -5 "$OUT/cuda_sanitizer.log" | tee -a "$OUT/cuda_summary.log"
fi
if [ "${CUDA_PROFILE:-0}" = 1 ] && command -v ncu >/dev/null; then
  log "ncu: kernel times of batch-1 decode steps (no graphs), context 512"
  timeout 240 ncu --clock-control none --profile-from-start off --metrics gpu__time_duration.sum \
    --print-summary per-kernel "$BENCH" --model /tmp/qwen3-4b-random --profile-decode 1 \
    >"$OUT/ncu_decode.log" 2>&1
  grep -E "^\s+[a-z_]+.*\(|gpu__time_duration.sum|Invocations" "$OUT/ncu_decode.log" | head -80 | tee -a "$OUT/cuda_summary.log"
fi
