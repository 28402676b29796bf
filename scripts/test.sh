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
# The CUDA backend is not compiled here: its tests need a GPU, and CI's time goes to the
# CPU suite twice. tools/gpu/cuda_prepare_carry.sh builds it with -Werror (sm_90a) for the
# GPU machine, where tools/gpu/cuda_round.sh runs its tests.
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Release -DQWEN3_WERROR=ON "$unity" \
  -DQWEN3_CUDA=OFF >/dev/null
cmake --build build-test -j "$jobs"

# -O1 without debug info keeps this build short (reports still name functions; rebuild
# with -g to get file:line when one fires). It builds while the Release tests run: many
# of those tests wait on sockets and child processes, so the two overlap well on a small
# CI machine.
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
