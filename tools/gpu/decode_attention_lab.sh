#!/usr/bin/env bash
# The tensor-core decode attention (kernels/attention_decode_mma.cu) against the SIMT one,
# one call: copy bandwidth; the GPU tests (all by default; LAB_TESTS is a gtest filter;
# both decode kernels against float64 in test_cuda_attention / test_cuda_kv_fp8 /
# test_cuda_decode_rope); `qwen3_cuda_bench --attention-only decode` (decode rows alone,
# contexts 512 to 262,144, batches 1 to 64, BF16 and FP8 pools, both kernels and both CTA
# shapes); then `qwen3 bench latency` on the random Qwen3-4B BF16 checkpoint, e.g. with
# QWEN3_CUDA_DECODE_MMA=1 / 0 alternating (LAB_RUNS: below); with LAB_LONG set,
# long_context.sh at those contexts; with LAB_SANITIZE (a gtest
# filter), compute-sanitizer memcheck on those tests; with LAB_HF_COMPILE_S, HF transformers
# (cuda_vs_hf.py) with that compile limit; LAB_TESTS=none skips the tests. Needs
# .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/decode_attention_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${LAB_DEADLINE_S:-540}
source tools/gpu/round_steps.sh
lab_begin decode_attention_lab
lab_checkpoint 120 "$MODEL"
# Runs named fp8w_* use the FP8-weight checkpoint (same seed), made when one is listed.
[[ "${LAB_RUNS:-}" != *fp8w_* ]] || lab_checkpoint 150 "$MODEL-fp8" --dtype fp8
if [ "${LAB_TESTS:-*}" != none ]; then
  lab_tests 220 "${LAB_TESTS:-*}"
  grep -E '^\[fp8 KV' "$OUT/tests.log" | head -20 | tee -a "$SUM"
fi
# compute-sanitizer memcheck on the tests LAB_SANITIZE names (a gtest filter), if set.
[ -z "${LAB_SANITIZE:-}" ] || lab_sanitize 150 "$LAB_SANITIZE"
if [ "${LAB_ATTENTION:-1}" = 1 ]; then
  log "attention alone, decode rows"
  timeout "$(box 120)" "$BIN/qwen3_cuda_bench" --attention-only decode >"$OUT/attention.log" 2>&1
  echo "exit $?" >>"$OUT/attention.log"
  grep -E 'decode|copy|^exit' "$OUT/attention.log" | tee -a "$SUM"
fi
log "checkpoint"
wait
# Engine runs (lab_runs in round_steps.sh says the format).
RUNS=${LAB_RUNS:-"mma_512 - 512 1; simt_512 QWEN3_CUDA_DECODE_MMA=0 512 1;
  mma_4k - 4096 1; simt_4k QWEN3_CUDA_DECODE_MMA=0 4096 1;
  mma_b64 - 1024 64; simt_b64 QWEN3_CUDA_DECODE_MMA=0 1024 64"}
lab_runs "$RUNS"
# HF transformers' batch-1 decode with a static cache + torch.compile (tools/gpu/cuda_vs_hf.py,
# its eager figures first) when LAB_HF_COMPILE_S gives the compile's time limit.
[ -z "${LAB_HF_COMPILE_S:-}" ] || lab_hf "$LAB_HF_COMPILE_S"
# Issue 9's full context through the engine (tools/gpu/long_context.sh: a 262,144-token
# request, BF16 and FP8 KV) when LAB_LONG lists the contexts (e.g. LAB_LONG=262144).
if [ -n "${LAB_LONG:-}" ] && [ "$(box 400)" -ge 150 ]; then
  log "long context: $LAB_LONG"
  LC_CONTEXTS=$LAB_LONG LC_TIMEOUT=$(($(box 400) / 2)) OUT=$OUT/long timeout "$(box 400)" \
    bash tools/gpu/long_context.sh >/dev/null 2>&1
  tail -8 "$OUT/long/long_context.log" | tee -a "$SUM"
fi
log "done"
lab_pack
