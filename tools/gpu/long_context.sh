#!/usr/bin/env bash
# Issue 9 on the GPU machine: one request per context length through the engine
# (`qwen3 bench latency --device cuda`, chunked prefill of 8,192 tokens per step, then 32
# greedy decode steps), at 8K, 32K, 128K and the full 262,144 (prompt 262,112 + 32
# generated = the model's max_position_embeddings), with the BF16 and the FP8 KV cache.
# Peak GPU memory per run from nvidia-smi (sampled every 0.5 s). The copy bandwidth first;
# with LC_HF=1, HF transformers' prefill and decode at the same contexts
# (hf_long_context.py). Writes one JSON per run, long_context.log and long_context.json
# (the table) to $OUT. Needs .gpu-carry-cuda(.txz).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/long_context.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/long_context_out}
mkdir -p "$OUT"
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
LOG=$OUT/long_context.log
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$LOG"
# The copy bandwidth of this card, this call (the KV-read floor of the decode figures).
SUM=$LOG
source tools/gpu/round_steps.sh
copy_bandwidth
[ -f "$MODEL/config.json" ] || "$BIN/qwen3" init-random --like qwen3-4b --seed 0 --out "$MODEL" >/dev/null
OUTPUT=32
run() {  # name, context, kv dtype
  local name=$1 ctx=$2 kv=$3 peak=0
  local input=$((ctx - OUTPUT))
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 >"$OUT/$name.mem" &
  local smi=$!
  local t0=$(date +%s.%N)
  timeout "${LC_TIMEOUT:-200}" "$BIN/qwen3" bench latency --device cuda --model "$MODEL" \
    --input-len "$input" --output-len "$OUTPUT" --batch-size 1 --max-model-len "$ctx" \
    --max-num-batched-tokens 8192 --kv-cache-dtype "$kv" --num-iters 1 \
    --num-iters-warmup "$([ "$ctx" -le 32768 ] && echo 1 || echo 0)" \
    --output-json "$OUT/$name.json" >"$OUT/$name.out" 2>&1
  local rc=$?
  kill $smi 2>/dev/null; wait $smi 2>/dev/null
  peak=$(sort -n "$OUT/$name.mem" | tail -1)
  echo "== $name: context $ctx (prompt $input + $OUTPUT), kv $kv, exit $rc, wall $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}') s, peak GPU memory ${peak} MiB" | tee -a "$LOG"
  grep -E "KV cache|prefill|decode|latency" "$OUT/$name.out" | tail -6 | tee -a "$LOG"
  echo "{\"name\":\"$name\",\"context\":$ctx,\"prompt\":$input,\"kv\":\"$kv\",\"exit\":$rc,\"peak_mib\":${peak:-0}}" >"$OUT/$name.meta"
}
# LC_CONTEXTS / LC_KV: a subset (default: all four contexts, both caches).
for ctx in ${LC_CONTEXTS:-8192 32768 131072 262144}; do
  for kv in ${LC_KV:-bf16 fp8}; do run "ctx${ctx}_$kv" "$ctx" "$kv"; done
done
# HF transformers (BF16, sdpa) on the same checkpoint where it fits: LC_HF=1, at
# LC_HF_CONTEXTS (default: the contexts above), tools/gpu/hf_long_context.py.
if [ "${LC_HF:-0}" = 1 ]; then
  echo "== HF transformers, sdpa, BF16" | tee -a "$LOG"
  timeout "${LC_HF_TIMEOUT:-300}" python3 tools/gpu/hf_long_context.py "$MODEL" \
    "$OUT/hf_long_context.json" ${LC_HF_CONTEXTS:-${LC_CONTEXTS:-8192 32768 131072 262144}} \
    2>"$OUT/hf_long_context.err" | tee -a "$LOG"
fi
python3 - "$OUT" <<'PY' | tee -a "$LOG"
import glob, json, os, sys
out = sys.argv[1]
rows = []
for meta in sorted(glob.glob(os.path.join(out, "*.meta")), key=lambda p: (json.load(open(p))["context"], p)):
    m = json.load(open(meta))
    try:
        r = json.load(open(os.path.join(out, m["name"] + ".json")))
    except Exception:
        r = {}
    pre, dec = r.get("avg_prefill_latency"), r.get("avg_decode_time_per_step")
    m.update({"prefill_s": pre, "prefill_tok_s": m["prompt"] / pre if pre else None,
              "decode_ms_per_token": dec * 1e3 if dec else None, "decode_tok_s": 1 / dec if dec else None})
    rows.append(m)
json.dump(rows, open(os.path.join(out, "long_context.json"), "w"), indent=1)
print("| context | KV | prefill s | prefill tok/s | decode ms/token | decode tok/s | peak GPU MiB | exit |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
f = lambda v, p: "-" if v is None else f"{v:,.{p}f}"
for m in rows:
    print(f"| {m['context']:,} | {m['kv']} | {f(m['prefill_s'], 2)} | {f(m['prefill_tok_s'], 0)} | "
          f"{f(m['decode_ms_per_token'], 2)} | {f(m['decode_tok_s'], 1)} | {m['peak_mib']:,} | {m['exit']} |")
PY
