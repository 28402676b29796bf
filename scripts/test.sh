#!/usr/bin/env bash
# Quick start, command 2 (and all of CI): install dependencies, build with -Werror, run
# the whole test suite, then run it again under AddressSanitizer + UndefinedBehaviorSanitizer.
# GPU tests skip cleanly on machines without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

jobs=$(nproc)
# Unity builds (several sources per compiler run) cut the compile time of both builds on a
# small CI machine; the code also builds file by file (the quick start's build).
unity=-DCMAKE_UNITY_BUILD=ON
# Where nvcc exists, the CUDA backend is compiled too: machine code for Hopper (sm_90a) and
# PTX for sm_80, which compiles the pre-Ada code paths (no FP8 conversion instructions)
# at about half the time of three full targets (the default build: 90a;89;80).
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Release -DQWEN3_WERROR=ON "$unity" \
  -DCMAKE_CUDA_ARCHITECTURES="90a-real;80-virtual" >/dev/null
cmake --build build-test -j "$jobs"

# -O1 without debug info keeps this build short (reports still name functions; rebuild
# with -g to get file:line when one fires). The CUDA backend is checked by the Release
# build above (when a CUDA compiler is present) and on the GPU machine, not under the
# host sanitizers. It builds while the Release tests run: many of those tests wait on
# sockets and child processes, so the two overlap well on a small CI machine.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" \
  -DQWEN3_WERROR=ON -DQWEN3_SANITIZE=ON -DQWEN3_BUILD_BENCH=OFF -DQWEN3_CUDA=OFF "$unity" >/dev/null
cmake --build build-asan -j "$jobs" >build-asan/build.log 2>&1 &
asan_build=$!
trap 'kill "$asan_build" 2>/dev/null || true' EXIT

echo "== tests (Release, -Werror)"
ctest --test-dir build-test -j "$jobs" --output-on-failure

echo "== sanitizer build (log: build-asan/build.log)"
if ! wait "$asan_build"; then
  tail -n 100 build-asan/build.log
  exit 1
fi
trap - EXIT
echo "== tests (ASan + UBSan)"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan -j "$jobs" --output-on-failure
