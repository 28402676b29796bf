#!/usr/bin/env bash
# Where the persistent batch-1 decoder (kernels/decode_persistent.cu) spends its time:
# ncu's warp-state (stall reasons, incl. waiting for instructions), scheduler, instruction
# and source-counter sections for one decode step's launch (Qwen3-4B geometry, context
# 512), FP8 weights (NCU_MODELS="fp8 bf16" for both); with NCU_SOURCE=1 also the per-SASS
# page, summarised by tools/gpu/ncu_source_summary.py. Text reports in $OUT. Needs
# .gpu-carry-cuda.txz.
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/persistent_ncu.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/persistent_ncu}
mkdir -p "$OUT"
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/summary.log"
# profile DIR REPORT NCU_ARGS...: one persistent decode launch of the checkpoint in DIR under
# ncu with those sections / pages, its output in REPORT.
profile() {
  local dir=$1 report=$2
  shift 2
  QWEN3_CUDA_PERSISTENT=1 timeout "${NCU_TIMEOUT_S:-150}" ncu --kernel-name "regex:persistent_decode" \
    --launch-count 1 --clock-control none --cache-control none --profile-from-start off "$@" \
    "$BIN/qwen3_cuda_bench" --model "$dir" --init-random qwen3-4b --profile-decode 1 \
    --profile-batch 1 --profile-sampled 0 >"$report" 2>&1
}
for m in ${NCU_MODELS:-fp8}; do
  dir=$MODEL-$m
  flags=()
  [ "$m" = fp8 ] && flags=(--dtype fp8)
  [ -f "$dir/config.json" ] ||
    "$BIN/qwen3" init-random --like qwen3-4b "${flags[@]}" --seed 1 --out "$dir" >/dev/null 2>&1
  profile "$dir" "$OUT/$m.txt" --section SpeedOfLight --section WarpStateStats \
    --section SchedulerStats --section InstructionStats --section LaunchStats \
    --section SourceCounters
  echo "$m: exit $?" | tee -a "$OUT/summary.log"
  # Per SASS instruction: executed instructions and stall samples (NCU_SOURCE=1).
  if [ "${NCU_SOURCE:-0}" = 1 ]; then
    profile "$dir" "$OUT/$m.source.csv" --section SourceCounters --section WarpStateStats \
      --page source --print-source sass --csv
    echo "$m source: exit $?" | tee -a "$OUT/summary.log"
    python3 tools/gpu/ncu_source_summary.py "$OUT/$m.source.csv" --top 15 2>&1 |
      tee -a "$OUT/summary.log"
    xz -6 "$OUT/$m.source.csv"
  fi
  grep -E "^  [a-z_].*\(|Duration|DRAM Throughput|Issued Warp|No Eligible|Stall|stall|Warp Cycles|Executed Ipc" \
    "$OUT/$m.txt" | head -60 | tee -a "$OUT/summary.log"
done
