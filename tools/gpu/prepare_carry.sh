#!/usr/bin/env bash
# Builds what tools/gpu/make_fixtures.sh needs into .gpu-carry/ (git-ignored): a portable
# qwen3 binary (x86-64-v4, no -march=native), the shared libraries it needs beyond the
# GPU image's, and two small init-random checkpoints for the HF load check.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-portable -G Ninja -DQWEN3_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v4 \
  -DQWEN3_BUILD_TESTS=OFF -DQWEN3_BUILD_BENCH=ON -DQWEN3_CUDA=OFF >/dev/null
ninja -C build-portable qwen3 bench_tokenizer >/dev/null
rm -rf .gpu-carry && mkdir -p .gpu-carry/bin .gpu-carry/lib .gpu-carry/initrandom .gpu-carry/tokenizer
cp build-portable/qwen3 build-portable/bench/bench_tokenizer .gpu-carry/bin/
for lib in libfmt.so.9 libgomp.so.1 libutf8proc.so.2 libxxhash.so.0 libbenchmark.so.1debian; do
  cp -L "$(ldconfig -p | awk -v l=$lib '$1==l {print $NF; exit}')" .gpu-carry/lib/
done
cp third_party/tokenizer/qwen3/tokenizer.json third_party/tokenizer/qwen3/tokenizer_config.json .gpu-carry/tokenizer/
bash bench/tokenizer/make_text.sh >/dev/null && cp bench/results/tokenizer_text.txt .gpu-carry/bench_text.txt
cfg=tests/data/initrandom_small.json
./build-portable/qwen3 init-random --like $cfg --seed 7 --out .gpu-carry/initrandom/ir_bf16
./build-portable/qwen3 init-random --like $cfg --seed 7 --dtype fp8 --out .gpu-carry/initrandom/ir_fp8
du -sh .gpu-carry
