#!/usr/bin/env bash
# Prefill attention (issue 9: >= 50 % of the measured tensor-core rate at 128K), one call:
# copy bandwidth; the GPU tests (LAB_TESTS: a gtest filter, default all, "none" skips);
# (LAB_TESTS_CAP seconds at most, default 220); with LAB_SANITIZE (a gtest filter)
# compute-sanitizer memcheck on those tests;
# `qwen3_cuda_bench --attention-only prefill` (the BF16 matmul rate, then causal prompts of
# 4,096 / 32,768 / 131,072 tokens over a BF16 and an FP8 pool, each as a share of it) under
# each environment of LAB_AB (default QWEN3_CUDA_PV_WGMMA=1 / 0, twice each, alternating;
# an environment of several variables joins them with commas); with LAB_NCU (an
# environment) ncu's warp-state and scheduler sections for one 32,768-token launch;
# then with LAB_LC (contexts, e.g. "131072") one engine request per context and
# environment of LAB_LC_AB (default: LAB_AB's first two) and KV dtype of LAB_LC_KV (default
# bf16; e.g. "bf16 fp8"), chunked
# prefill of 8,192 tokens per step and 32 decode steps, as tools/gpu/long_context.sh does.
# Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="LAB_LC=131072 bash tools/gpu/prefill_attention_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${LAB_DEADLINE_S:-540}
source tools/gpu/round_steps.sh
lab_begin prefill_attention_lab
[ -z "${LAB_LC:-}" ] || lab_checkpoint 150 "$MODEL"
[ "${LAB_TESTS:-*}" = none ] || lab_tests "${LAB_TESTS_CAP:-220}" "${LAB_TESTS:-*}"
[ -z "${LAB_SANITIZE:-}" ] || lab_sanitize 150 "$LAB_SANITIZE"
AB=${LAB_AB:-"QWEN3_CUDA_PV_WGMMA=1 QWEN3_CUDA_PV_WGMMA=0 QWEN3_CUDA_PV_WGMMA=1 QWEN3_CUDA_PV_WGMMA=0"}
i=0
for env in $AB; do
  i=$((i + 1))
  [ "$(box 60)" -ge 30 ] || { log "attention $env skipped: out of time"; continue; }
  log "prefill attention alone, $env"
  env ${env//,/ } timeout "$(box 60)" "$BIN/qwen3_cuda_bench" --attention-only prefill \
    >"$OUT/attention_$i.log" 2>&1
  echo "exit $?" >>"$OUT/attention_$i.log"
  # Each prompt line with its share of the matmul rate (the line after it).
  awk '/^BF16 matmul/ {print} /^attention/ {a=$0} /of matmul/ {print a $0} /^exit [^0]/ {print}' \
    "$OUT/attention_$i.log" | sed -e 's/(h32 kv8 d128, //' -e 's/ pool, [a-z-]* kernel)//' \
    -e "s|^|[$env] |" | tee -a "$SUM"
done
# One launch of the prefill attention kernel (the first 32,768-token one over a BF16 pool:
# 24 launches at 4,096 tokens before it) under ncu with the environment LAB_NCU.
if [ -n "${LAB_NCU:-}" ] && [ "$(box 120)" -ge 60 ]; then
  log "ncu, one 32,768-token prefill attention launch, $LAB_NCU"
  env ${LAB_NCU//,/ } timeout "$(box 120)" ncu --clock-control none -k regex:paged_attention_ \
    --launch-skip 24 --launch-count 1 --section WarpStateStats --section SchedulerStats \
    --section ComputeWorkloadAnalysis --section InstructionStats --section Occupancy \
    --metrics "regex:smsp__warp_issue_stalled_.*_per_warp_active.pct" \
    "$BIN/qwen3_cuda_bench" --attention-only prefill >"$OUT/ncu_attention.txt" 2>&1
  grep -E "paged_attention|stalled|Warp Cycles|Issued|Eligible|Pipe|Executed Ipc|Registers|Occupancy" \
    "$OUT/ncu_attention.txt" | head -90 >>"$SUM"
fi
wait  # the checkpoint
read -ra LC_AB <<<"${LAB_LC_AB:-$(echo "$AB" | awk '{print $1, $2}')}"
for ctx in ${LAB_LC:-}; do
  for kv in ${LAB_LC_KV:-bf16}; do
    for env in "${LC_AB[@]}"; do
      [ "$(box 150)" -ge 60 ] || { log "context $ctx $kv $env skipped: out of time"; continue; }
      name="lc_${ctx}_${kv}_${env//[^A-Za-z0-9]/_}"
      log "engine request, context $ctx, $kv KV, $env"
      env ${env//,/ } timeout "$(box 150)" "$BIN/qwen3" bench latency --device cuda \
        --model "$MODEL" --input-len $((ctx - 32)) --output-len 32 --batch-size 1 \
        --max-model-len "$ctx" --max-num-batched-tokens 8192 --kv-cache-dtype "$kv" \
        --num-iters 1 --num-iters-warmup 0 --output-json "$OUT/$name.json" >"$OUT/$name.log" 2>&1
      echo "exit $?" >>"$OUT/$name.log"
      grep -E "prefill|decode|latency|^exit [^0]" "$OUT/$name.log" | tail -5 | sed "s|^|[$kv $env] |" |
        tee -a "$SUM"
    done
  done
done
log "done"
lab_pack
