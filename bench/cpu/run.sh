#!/usr/bin/env bash
# CPU forward benchmark: human table on stdout, JSON in bench/results/ (git-ignored).
#   bench/cpu/run.sh [BUILD_DIR] [--model DIR] [--prompt N]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
mkdir -p bench/results
out="bench/results/cpu_forward_$(hostname)_$(date +%Y%m%d-%H%M%S).json"
cmake --build "$build" --target bench_cpu_forward >/dev/null
"$build/bench/bench_cpu_forward" "$@" --benchmark_min_time=2 --benchmark_out="$out" --benchmark_out_format=json
echo "JSON: $out"
