#!/usr/bin/env bash
# Issue 9's prefill numbers in one GPU call (about 7 minutes): the GPU tests and the prefill
# attention alone (prefill_attention_lab.sh; LAB_TESTS, default all), end-to-end prefill
# at 512 / 4,096 tokens with the prefill attention's P V on wgmma and on mma.sync
# (prefill_lab.sh), the long-context requests at 8K / 32K / 128K / 256K with BF16 and FP8 KV
# (long_context.sh; LC_CONTEXTS / LC_KV as there), then with ROUND_NCU=1 ncu's warp-state,
# scheduler and pipe sections for one launch of the prefill attention kernel (a 32,768-token
# causal prompt, BF16 pool; skipped past 470 s into the call). Brings back summary.log (all steps' summaries),
# long_context.log / .json and one archive per step (the device tool returns 8 files).
# Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="ROUND_NCU=1 bash tools/gpu/prefill_round.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
R=${OUT:-/tmp/prefill_round}
mkdir -p "$R"
LAB_TESTS=${LAB_TESTS:-*} LAB_AB="QWEN3_CUDA_PV_WGMMA=1" LAB_DEADLINE_S=230 OUT=$R/att \
  bash tools/gpu/prefill_attention_lab.sh >/dev/null 2>&1
LAB_TESTS=none LAB_AB="QWEN3_CUDA_PV_WGMMA=1 QWEN3_CUDA_PV_WGMMA=0" LAB_DEADLINE_S=120 \
  OUT=$R/pre bash tools/gpu/prefill_lab.sh >/dev/null 2>&1
OUT=$R/lc bash tools/gpu/long_context.sh >/dev/null 2>&1
cp "$R/lc/long_context.log" "$R/lc/long_context.json" "$R/" 2>/dev/null
if [ "${ROUND_NCU:-0}" = 1 ] && [ "$SECONDS" -lt 470 ]; then
  # The bench's launches before the first 32,768-token one: 12 per pool at 4,096 tokens.
  timeout 150 ncu --clock-control none -k regex:paged_attention_mma --launch-skip 24 \
    --launch-count 1 --section WarpStateStats --section SchedulerStats \
    --section ComputeWorkloadAnalysis --section InstructionStats --section Occupancy \
    --metrics "regex:smsp__warp_issue_stalled_.*_per_warp_active.pct" \
    .gpu-carry-cuda/bin/qwen3_cuda_bench --attention-only prefill >"$R/lc/ncu_attention.txt" 2>&1
  grep -E "stalled|Stall|Warp Cycles|Issued|Eligible|No Eligible|Pipe|Executed Ipc|Registers|Theoretical Occ|Achieved Occ" \
    "$R/lc/ncu_attention.txt" | head -80 >"$R/ncu_attention_summary.txt"
fi
(cd "$R/lc" && tar -czf ../lc.tgz .) && rm -rf "$R/lc"
for d in att pre; do
  [ -d "$R/$d" ] || continue
  cat "$R/$d/summary.log" >>"$R/summary.log"
  (cd "$R/$d" && tar -czf "../$d.tgz" .) && rm -rf "${R:?}/$d"
done
