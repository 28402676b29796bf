#!/usr/bin/env bash
# On the GPU machine: tokenizer exactness and speed against HF `tokenizers`, chat
# templates against transformers' apply_chat_template. Needs .gpu-carry/ from
# tools/gpu/prepare_carry.sh. Results in $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1 LD_LIBRARY_PATH="$PWD/.gpu-carry/lib"
lscpu | grep -E "Model name|^CPU\(s\)" | tee "$OUT/cpu.txt"
python3 tools/gpu/check_tokenizer_hf.py .gpu-carry/tokenizer/tokenizer.json tests/fixtures/tokenizer/corpus.jsonl \
  .gpu-carry/bench_text.txt "$OUT" 2>&1 | tee "$OUT/tokenizer_hf.log"
.gpu-carry/bin/bench_tokenizer --tokenizer .gpu-carry/tokenizer --text .gpu-carry/bench_text.txt \
  --benchmark_out="$OUT/bench_tokenizer_ours.json" --benchmark_out_format=json 2>&1 | tee "$OUT/bench_tokenizer_ours.log"
if [[ -f tools/gpu/check_templates_hf.py ]]; then
  python3 tools/gpu/check_templates_hf.py .gpu-carry/tokenizer "$OUT" 2>&1 | tee "$OUT/templates_hf.log"
fi
