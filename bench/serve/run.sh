#!/usr/bin/env bash
# `qwen3 bench serve` against a local `qwen3 serve`, start to finish: creates the CPU
# fixture model (init-random --like tiny --seed 0 with the real Qwen3 tokenizer) unless
# MODEL is set, starts the server on PORT, waits for /health, runs the benchmark, stops
# the server. Table on stdout; JSON, SVG and the server log in OUT (default
# bench/results/, git-ignored).
#
#   bench/serve/run.sh [BUILD_DIR] [extra `qwen3 bench serve` flags...]
#   e.g. bench/serve/run.sh build --num-prompts 200 --request-rate 8 --max-concurrency 16
#
# Env: MODEL (model folder), PORT (8123), OUT, SERVE_ARGS (extra `qwen3 serve` flags).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
shift || true
qwen3="$build/qwen3"
[[ -x $qwen3 ]] || { echo "no $qwen3: build first (cmake --build $build --target qwen3)" >&2; exit 2; }
port=${PORT:-8123}
out=${OUT:-bench/results}
mkdir -p "$out"
stamp="$(hostname)_$(date +%Y%m%d-%H%M%S)"
model=${MODEL:-}
if [[ -z $model ]]; then
  model="$out/tiny_seed0"
  [[ -f $model/config.json ]] ||
    "$qwen3" init-random --like tiny --seed 0 --tokenizer third_party/tokenizer/qwen3 --out "$model" >/dev/null
fi

# shellcheck disable=SC2086
"$qwen3" serve "$model" --host 127.0.0.1 --port "$port" ${SERVE_ARGS:-} >"$out/serve_$stamp.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || { cat "$out/serve_$stamp.log" >&2; exit 1; }
  sleep 0.1
done

"$qwen3" bench serve --base-url "http://127.0.0.1:$port" --tokenizer "$model" \
  --result-file "$out/serve_$stamp.json" --plot "$out/serve_$stamp.svg" "$@"
echo "JSON: $out/serve_$stamp.json  plot: $out/serve_$stamp.svg  server log: $out/serve_$stamp.log"
