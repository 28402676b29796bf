#!/usr/bin/env bash
# One GPU-machine call that measures what issues 7 and 8 ask, in this order, each step
# time-boxed inside a total of ROUND_DEADLINE_S seconds (default 450):
#   1. the CUDA GPU tests;
#   2. qwen3_cuda_bench: copy-bandwidth roofline, GEMV bandwidth, batch-1 decode at
#      context 512, batched decode, prefill 512/4096, attention alone, for the BF16
#      checkpoint and (ROUND_FP8=1, default) its FP8 twin (makes /tmp/qwen3-4b-random{,-fp8});
#   2b. `qwen3 bench latency` (the engine) batch 1 and 64, and FP8 batch 1, 512 in / 128
#      out: tokens/s and the GPU's busy / idle time per step;
#   3a. (ROUND_FP8=1) `qwen3 quantize` of the BF16 checkpoint, HF FineGrainedFP8 loading
#      the result (tools/gpu/check_quantize_hf.py), `qwen3 bench accuracy` FP8 vs BF16;
#   3. (ROUND_HF=1, default) tools/gpu/cuda_vs_hf.py: HF transformers on the same
#      checkpoint (BF16, sdpa);
#   4. `qwen3 serve --device cuda` + `qwen3 bench serve` (512 in / 128 out, 200 prompts,
#      all at once; skipped with ROUND_SERVE=0);
#   5. `qwen3 bench throughput --device cuda` (same shape), when time is left.
# Needs .gpu-carry-cuda/ from tools/gpu/cuda_prepare_carry.sh. Files in $OUT:
# round_summary.log (ends with a table), cuda_tests.log, cuda_bench.{json,log}, hf.json,
# bench_serve.json, throughput.json, round_extra.log (HF, server and bench output), and
# with ROUND_FP8: quantize.log, quantize_hf.json, accuracy_fp8{,dq,h}.json.
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/cuda_round.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/cuda_round_out}
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE=${ROUND_DEADLINE_S:-450}
SUM=$OUT/round_summary.log
EXTRA=$OUT/round_extra.log
MODEL=/tmp/qwen3-4b-random
CARRY=$PWD/.gpu-carry-cuda
BIN=$CARRY/bin
source tools/gpu/round_steps.sh

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee -a "$SUM"

log "1. GPU tests"
timeout "$(box 150)" "$BIN/qwen3_cuda_tests" >"$OUT/cuda_tests.log" 2>&1
echo "exit $?" >>"$OUT/cuda_tests.log"
grep -E '^\[  (PASSED|FAILED)|tests ran|^exit' "$OUT/cuda_tests.log" | tee -a "$SUM"

log "2. qwen3_cuda_bench"
FP8_ARGS=()
[ "${ROUND_FP8:-1}" = 1 ] && FP8_ARGS=(--fp8-model "$MODEL-fp8")
timeout "$(box 200)" "$BIN/qwen3_cuda_bench" --model "$MODEL" ${FP8_ARGS[@]+"${FP8_ARGS[@]}"} \
  --init-random qwen3-4b --json "$OUT/cuda_bench.json" 2>&1 | tee "$OUT/cuda_bench.log" |
  grep -v '^linear' | tee -a "$SUM"

# Issue 7's host overhead: the same decode through the engine (scheduler, GPU sampling at
# temperature 1 with no top_k / top_p cut, detokenizing), with the GPU's busy and idle time
# per step from CUDA events around each step.
# The FP8 model with its lm_head in FP8 too (init-random --quantize-lm-head, same draws).
if [ "${ROUND_FP8:-1}" = 1 ] && [ -f "$MODEL-fp8/config.json" ] && [ ! -f "$MODEL-fp8h/config.json" ] &&
  [ "$(box 60)" -ge 50 ]; then
  timeout "$(box 60)" "$BIN/qwen3" init-random --like qwen3-4b --dtype fp8 --quantize-lm-head \
    --seed 1 --out "$MODEL-fp8h" 2>&1 | tail -1 | tee -a "$SUM"
fi
# FP8 batch 64: prefill and decode above the GEMV's rows on the block-scaled FP8 GEMM, and
# (latency_fp8dq_b64) the same with FP8 weights dequantized for the BF16 cuBLAS product.
for lat in "latency_b1 1 3 $MODEL" "latency_b64 64 2 $MODEL" "latency_fp8_b1 1 3 $MODEL-fp8" \
  "latency_fp8h_b1 1 3 $MODEL-fp8h" \
  "latency_fp8_b64 64 2 $MODEL-fp8 1" "latency_fp8dq_b64 64 2 $MODEL-fp8 0"; do
  read -r name batch iters dir fp8_gemm <<<"$lat"
  [ -f "$dir/config.json" ] && [ "$(box 60)" -ge 30 ] || continue
  QWEN3_CUDA_FP8_GEMM=${fp8_gemm:-1} qwen3_run "$name" 60 bench latency --device cuda \
    --model "$dir" --input-len 512 --output-len 128 --batch-size "$batch" \
    --num-iters-warmup 1 --num-iters "$iters"
  { echo "===== $name"; cat "$OUT/$name.log"; } >>"$EXTRA" 2>/dev/null && rm -f "$OUT/$name.log"
done

if [ "${ROUND_FP8:-1}" = 1 ] && [ -f "$MODEL/config.json" ] && [ "$(box 120)" -ge 60 ]; then
  # Issue 8: our quantizer on the 4B checkpoint (its bytes must equal init-random --dtype fp8
  # of the same seed, which the bench used), HF FineGrainedFP8 loading it, and the FP8
  # engine's logits against the BF16 engine's over 1,000 teacher-forced decode steps.
  log "3a. qwen3 quantize + HF FineGrainedFP8 load check + bench accuracy"
fi
if [ "${ROUND_FP8:-1}" = 1 ] && [ "${ROUND_QUANTIZE:-1}" = 1 ] && [ -f "$MODEL/config.json" ]; then
  rm -rf "$MODEL-q8"
  /usr/bin/time -f "quantize: %e s, max RSS %M KiB" timeout "$(box 90)" "$BIN/qwen3" quantize \
    "$MODEL" "$MODEL-q8" >"$OUT/quantize.log" 2>&1 || log "quantize exit $?"
  tail -3 "$OUT/quantize.log" | tee -a "$SUM"
  # Shard boundaries differ (quantize keeps the BF16 input's), so compare tensor by tensor.
  python3 - "$MODEL-q8" "$MODEL-fp8" <<'PY' 2>&1 | tee -a "$SUM"
import glob, os, sys
import torch
from safetensors import safe_open
def tensors(d):
    out = {}
    for f in glob.glob(os.path.join(d, "*.safetensors")):
        with safe_open(f, framework="pt") as h:
            for k in h.keys():
                out[k] = h.get_tensor(k)
    return out
a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
diff = [k for k in a if k not in b or a[k].dtype != b[k].dtype or
        not torch.equal(a[k].view(torch.uint8), b[k].view(torch.uint8))]
print(f"quantize vs init-random --dtype fp8: {len(a)} tensors, {len(diff)} differ {diff[:5]}")
PY
  PYTHONUNBUFFERED=1 timeout "$(box 90)" python3 tools/gpu/check_quantize_hf.py "$MODEL" "$MODEL-q8" \
    "$OUT/quantize_hf.json" >>"$EXTRA" 2>&1 || log "check_quantize_hf.py exit $?"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print({k: d[k] for k in d if k not in ("rel_rms", "per_tensor")})' \
    "$OUT/quantize_hf.json" 2>&1 | cut -c1-600 | tee -a "$SUM"
fi
if [ "${ROUND_FP8:-1}" = 1 ] && [ -f "$MODEL-fp8/config.json" ] && [ "$(box 60)" -ge 30 ]; then
  # FP8 vs BF16 logits: the prompt's step (and so the KV every decode step reads) on the
  # block-scaled FP8 GEMM, with activations quantized; (accuracy_fp8dq) dequantized for
  # cuBLAS; (accuracy_fp8h) the same weights with the lm_head in FP8 too.
  for run in "1 fp8 fp8" "0 fp8 fp8dq" "1 fp8h fp8h"; do
    read -r gemm dir name <<<"$run"
    [ "$(box 60)" -ge 30 ] && [ -f "$MODEL-$dir/config.json" ] || continue
    QWEN3_CUDA_FP8_GEMM=$gemm timeout "$(box 90)" "$BIN/qwen3" bench accuracy --device cuda \
      --model "$MODEL-$dir" --reference "$MODEL" --prompt-len 64 --steps 1000 \
      --output-json "$OUT/accuracy_$name.json" 2>&1 | tee -a "$SUM"
  done
fi

if [ "${ROUND_HF:-1}" = 1 ] && [ -f "$MODEL/config.json" ]; then
  log "3. HF transformers (cuda_vs_hf.py)"
  PYTHONUNBUFFERED=1 timeout "$(box $((${ROUND_COMPILE_TIMEOUT:-80} + 50)))" python3 tools/gpu/cuda_vs_hf.py "$MODEL" "$OUT/hf.json" \
    --compile-timeout "${ROUND_COMPILE_TIMEOUT:-80}" >>"$EXTRA" 2>&1 || log "cuda_vs_hf.py exit $?"
fi
# The server and the load generator need the tokenizer in the model folder.
[ -d "$MODEL" ] && cp "$CARRY"/tokenizer/tokenizer.json "$CARRY"/tokenizer/tokenizer_config.json "$MODEL"/

if [ "${ROUND_SERVE:-1}" = 1 ] && [ "$(box 100)" -ge 60 ]; then
  log "4. qwen3 serve --device cuda + qwen3 bench serve"
  serve_bench bench_serve 8300 200
  cat "$OUT/bench_serve.log" >>"$EXTRA" && rm -f "$OUT/bench_serve.log"
fi

if [ "$(box 100)" -ge 45 ]; then
  log "5. qwen3 bench throughput --device cuda"
  timeout "$(box 100)" "$BIN/qwen3" bench throughput --device cuda --model "$MODEL" \
    --input-len 512 --output-len 128 --num-prompts 200 --output-json "$OUT/throughput.json" \
    >"$OUT/tput.tmp" 2>&1 || log "bench throughput exit $?"
  tail -15 "$OUT/tput.tmp" | tee -a "$SUM"
  { echo "===== bench throughput"; cat "$OUT/tput.tmp"; } >>"$EXTRA"
  rm -f "$OUT/tput.tmp"
else
  log "5. bench throughput skipped: out of time"
fi

log "summary"
python3 - "$OUT" <<'EOF' 2>&1 | tee -a "$SUM"
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except Exception as e:
        return {"_missing": repr(e)}
b, h, s, t = (load(n) for n in ("cuda_bench.json", "hf.json", "bench_serve.json", "throughput.json"))
def g(d, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d
def f(v, fmt="{:,.1f}"):
    return "-" if v is None else fmt.format(v)
roof, mm = b.get("roofline_tok_s"), h.get("matmul_bf16_tflop_s")
pre = {p["tokens"]: p for p in b.get("prefill", [])}
rows = [("copy bandwidth GB/s (read+write)", f(b.get("copy_gb_s")), ""),
        ("decode roofline tok/s (copy / weight bytes)", f(roof), ""),
        ("BF16 matmul TFLOP/s (torch 8192^3)", f(mm), "")]
d1 = g(b, "decode_b1", "tok_s"); hd = g(h, "decode_dynamic", "tok_s"); hc = g(h, "decode_static_compiled", "tok_s")
rows.append(("ours decode b=1 ctx 512 tok/s", f(d1), f"{f(g(b, 'decode_b1', 'pct_roofline'))} % of roofline; "
             f"x{f(d1 / hd if d1 and hd else None, '{:.1f}')} HF eager; x{f(d1 / hc if d1 and hc else None, '{:.2f}')} HF compiled"))
rows.append(("HF decode b=1 ctx 512, dynamic cache tok/s", f(hd), ""))
rows.append(("HF decode b=1, static cache + compile tok/s", f(hc),
             str(g(h, "decode_static_compiled", "skipped") or g(h, "decode_static_compiled", "error") or
                 f"compile warm-up {f(g(h, 'decode_static_compiled', 'compile_warmup_s'))} s")[:120]))
for n in (512, 4096):
    ours, hf = g(pre, n, "tok_s"), g(h, f"prefill_{n}", "tok_s")
    rows.append((f"ours prefill {n} tok/s", f(ours),
                 f"{f(g(pre, n, 'tflop_s'))} TFLOP/s linears = {f(100 * g(pre, n, 'tflop_s') / mm if mm and g(pre, n, 'tflop_s') else None)} % of matmul; "
                 f"x{f(ours / hf if ours and hf else None, '{:.2f}')} HF"))
    rows.append((f"HF prefill {n} tok/s", f(hf), ""))
for name, what in (("latency_b1", "engine decode b=1 (bench latency) tok/s"),
                   ("latency_b64", "engine decode b=64 (bench latency) tok/s"),
                   ("latency_fp8_b1", "engine decode b=1 FP8 weights tok/s"),
                   ("latency_fp8h_b1", "engine decode b=1 FP8 weights + FP8 lm_head tok/s"),
                   ("latency_fp8_b64", "engine decode b=64 FP8 weights, FP8 GEMM tok/s"),
                   ("latency_fp8dq_b64", "engine decode b=64 FP8 weights, dequantized tok/s")):
    j = load(name + ".json")
    if "avg_decode_time_per_step" in j:
        v = j["batch_size"] / j["avg_decode_time_per_step"]
        rows.append((what, f(v), f"step {1e3 * j['avg_decode_time_per_step']:.3f} ms; GPU busy "
                     f"{f(j.get('gpu_busy_ms_per_step'), '{:.3f}')} ms/step, idle "
                     f"{f(j.get('gpu_idle_pct'), '{:.1f}')} %; prefill "
                     f"{f(j.get('avg_prefill_latency'), '{:.3f}')} s; "
                     f"{f(100 * v / roof if roof and j['batch_size'] == 1 and 'fp8' not in name else None)} % of roofline"))
for x in b.get("decode_batched", []):
    rows.append((f"ours batched decode b={x['batch']} tok/s", f(x["tok_s"]), f"step {x['step_ms']} ms, GPU {x['gpu_ms']} ms"))
rows.append(("serve 512/128 x200 total tok/s", f(s.get("total_token_throughput")),
             f"output {f(s.get('output_throughput'))} tok/s; TTFT median {f(s.get('median_ttft_ms'))} ms; "
             f"TPOT median {f(s.get('median_tpot_ms'))} ms; failed {s.get('failed')}"))
rows.append(("bench throughput 512/128 x200 total tok/s", f(t.get("tokens_per_second")),
             f"output {f(t.get('output_tokens_per_second'))} tok/s; {f(t.get('requests_per_second'), '{:.2f}')} req/s"))
print("| what | number | note |\n| --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(r) + " |")
EOF
log "done"
