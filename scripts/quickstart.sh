#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build, create the embedded default model
# (a small random-weight Qwen3 checkpoint with the real tokenizer) if it is missing, and
# run the main job on it. Runs on CPU (the CUDA backend lands with its own issue).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target qwen3

MODEL=models/default
if [[ ! -f $MODEL/config.json ]]; then
  ./build/qwen3 init-random --like tiny --seed 0 --tokenizer third_party/tokenizer/qwen3 --out "$MODEL"
fi
# Token ids of "Hello, my name is" in the Qwen3 vocabulary (text prompts arrive with the
# tokenizer); greedy, 32 new tokens.
./build/qwen3 generate --model "$MODEL" --prompt-ids 9707,11,847,829,374 -n 32
