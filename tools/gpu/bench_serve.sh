#!/usr/bin/env bash
# On the GPU machine: `qwen3 bench serve` against `qwen3 serve` on the Qwen3-4B-geometry
# random BF16 model (and the tiny CPU fixture model), with the machine's card and CPU
# named in the log. Until the CUDA backend lands the server computes on the host CPU
# (16 cores). Needs .gpu-carry/ from tools/gpu/prepare_carry.sh; results under $OUT.
#
#   device run, carry [".gpu-carry"]: bash tools/gpu/bench_serve.sh
set -euo pipefail
export LD_LIBRARY_PATH="$PWD/.gpu-carry/lib"
BIN="$PWD/.gpu-carry/bin/qwen3"
TOK="$PWD/.gpu-carry/tokenizer"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  lscpu | grep -E "Model name|^CPU\(s\)"
} | tee "$OUT/machine.txt"

# name, init-random geometry, serve flags, bench flags
run_one() {
  local name=$1 like=$2 serve_flags=$3 bench_flags=$4 port=$5
  local model=/tmp/model_$name
  "$BIN" init-random --like "$like" --seed 0 --tokenizer "$TOK" --out "$model" >/dev/null
  local t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$BIN" serve "$model" --host 127.0.0.1 --port "$port" --served-model-name "$name" $serve_flags \
    >"$OUT/serve_$name.log" 2>&1 &
  local server=$!
  until curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    kill -0 $server 2>/dev/null || { cat "$OUT/serve_$name.log"; return 1; }
    sleep 0.05
  done
  echo "$name: serving after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') s" | tee -a "$OUT/machine.txt"
  # shellcheck disable=SC2086
  "$BIN" bench serve --base-url "http://127.0.0.1:$port" --model "$name" --tokenizer "$model" \
    --ignore-eos --seed 0 --no-progress --result-file "$OUT/bench_serve_$name.json" $bench_flags \
    2>&1 | tee "$OUT/bench_serve_$name.txt"
  kill -TERM $server
  wait $server || true
}

run_one tiny tiny "--threads 16" \
  "--random-input-len 128 --random-output-len 64 --num-prompts 400 --request-rate inf --max-concurrency 64" 8201
run_one qwen3-4b qwen3-4b "--threads 16 --max-model-len 2048" \
  "--random-input-len 128 --random-output-len 32 --num-prompts 16 --request-rate inf --max-concurrency 4" 8202
