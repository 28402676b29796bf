#!/usr/bin/env bash
# On the GPU machine (device tool): HF-transformers fixtures + HF checks of our init-random.
# Expects .gpu-carry/ prepared by tools/gpu/prepare_carry.sh (portable qwen3 binary, its
# shared libraries, small init-random checkpoints). Results land in $OUT.
set -euo pipefail
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
export LD_LIBRARY_PATH="$PWD/.gpu-carry/lib"
BIN="$PWD/.gpu-carry/bin/qwen3"
"$BIN" --help >/dev/null

python3 tools/fixtures/make_hf_fixtures.py --out /tmp/fixtures \
  --initrandom .gpu-carry/initrandom/ir_bf16 .gpu-carry/initrandom/ir_fp8 2>&1 | tee "$OUT/fixtures.log"
tar czf "$OUT/fixtures.tgz" -C /tmp/fixtures .

if [[ "${SKIP_4B:-0}" != 1 ]]; then
  "$BIN" init-random --like qwen3-4b --seed 0 --out /tmp/q4b 2>&1 | tee "$OUT/initrandom_4b.log"
  ls -la /tmp/q4b | tee -a "$OUT/initrandom_4b.log"
  python3 tools/gpu/check_4b.py /tmp/q4b "$BIN" "$OUT/check_4b.json" 2>&1 | tee "$OUT/check_4b.log"
  "$BIN" init-random --like qwen3-4b --dtype fp8 --seed 0 --out /tmp/q4b_fp8 2>&1 | tee -a "$OUT/initrandom_4b.log"
  python3 - <<'PY' 2>&1 | tee -a "$OUT/check_4b.log"
import torch
from transformers import AutoModelForCausalLM
try:
    m = AutoModelForCausalLM.from_pretrained("/tmp/q4b_fp8", device_map="cuda")
    print("HF loads 4B fp8 init-random:", m.model.layers[0].mlp.down_proj.weight.dtype)
except Exception as e:
    print("HF fp8 4B load failed:", type(e).__name__, str(e)[:300])
PY
fi
