#!/usr/bin/env bash
# Builds the CUDA backend's GPU test and benchmark binaries and the qwen3 CLI (serve,
# bench, generate with --device cuda) here (portable x86-64-v4, sm_90a) into
# .gpu-carry-cuda/ (git-ignored), with the shared libraries the GPU image lacks and the
# Qwen3 tokenizer files (for init-random --tokenizer and the server), so
# tools/gpu/cuda_round.sh runs them there without our Debian dev packages; carry
# .gpu-carry-cuda.txz (the same, compressed).
# Local builds share the machine: nice, one job. -Werror: CI does not compile CUDA
# (scripts/test.sh), so this build is where the CUDA sources' warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake -S . -B build-cuda -G Ninja -DQWEN3_NATIVE=OFF -DCMAKE_CXX_FLAGS=-march=x86-64-v4 \
  -DCMAKE_CUDA_ARCHITECTURES=90a -DQWEN3_CUDA=ON -DQWEN3_WERROR=ON >/dev/null
nice -n 19 ninja -C build-cuda -j1 qwen3_cuda_tests qwen3_cuda_bench qwen3
rm -rf .gpu-carry-cuda && mkdir -p .gpu-carry-cuda/bin .gpu-carry-cuda/lib .gpu-carry-cuda/tokenizer
cp build-cuda/tests/cuda/qwen3_cuda_tests build-cuda/bench/cuda/qwen3_cuda_bench build-cuda/qwen3 \
  .gpu-carry-cuda/bin/
strip .gpu-carry-cuda/bin/*
for lib in libfmt.so.9 libgomp.so.1 libutf8proc.so.2 libxxhash.so.0; do
  cp -L "$(ldconfig -p | awk -v l=$lib '$1==l {print $NF; exit}')" .gpu-carry-cuda/lib/
done
cp third_party/tokenizer/qwen3/tokenizer.json third_party/tokenizer/qwen3/tokenizer_config.json \
  .gpu-carry-cuda/tokenizer/
# The device tool carries at most 64 MiB: the three binaries' GPU code alone is more, so
# what travels is one xz archive (about a fifth), unpacked by tools/gpu/cuda_round.sh.
tar -cf - .gpu-carry-cuda | xz -6 -T2 >.gpu-carry-cuda.txz
du -sh .gpu-carry-cuda .gpu-carry-cuda.txz
