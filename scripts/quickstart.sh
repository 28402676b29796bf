#!/usr/bin/env bash
# Quick start, command 1: install dependencies, build, create the embedded default model
# (a small random-weight Qwen3 checkpoint with the real tokenizer) if it is missing, and
# run the main job on it: on the GPU when one is present (--device auto), else on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target qwen3

MODEL=models/default
if [[ ! -f $MODEL/config.json ]]; then
  ./build/qwen3 init-random --like tiny --seed 0 --tokenizer third_party/tokenizer/qwen3 --out "$MODEL"
fi
# Greedy, 32 new tokens. The weights are random, so the text is too; the tokenizer is real.
./build/qwen3 generate --model "$MODEL" --prompt "Hello, my name is" -n 32
