#!/usr/bin/env bash
# Prefill (issue 7's second benchmark: tokens/s and % of the BF16 matmul rate), one call:
# copy bandwidth; the GPU tests (LAB_TESTS: a gtest filter, default all, "none" skips);
# with LAB_SANITIZE (a gtest filter) compute-sanitizer memcheck on those tests;
# `qwen3_cuda_bench --prefill-only 1` (the BF16 matmul rate, then one step of 512 / 4,096
# / 16,384 tokens, each line with its share of that rate) under each
# environment of LAB_AB (default: QWEN3_CUDA_BF16_MLP=1 / 0, twice each, alternating), on
# the BF16 checkpoint and, with LAB_PREFILL_FP8=1, the FP8 one (same seed);
# with LAB_NCU (tokens, e.g. 4096) ncu's duration and DRAM bytes of every kernel of one
# prefill step of that many tokens, summed per kernel name (ncu_summary.txt; LAB_NCU_KERNELS
# caps the kernels profiled, default 200 = embedding + the first ~16 layers); then the
# LAB_RUNS engine runs (lab_runs in round_steps.sh); with LAB_THROUGHPUT (a prompt count)
# `qwen3 bench throughput` 512 / 128; with LAB_HF_COMPILE_S, HF transformers
# (cuda_vs_hf.py: the matmul rate, HF's own prefill and decode, static cache + compile).
# Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="LAB_NCU=4096 bash tools/gpu/prefill_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${LAB_DEADLINE_S:-540}
source tools/gpu/round_steps.sh
lab_begin prefill_lab
lab_checkpoint 120 "$MODEL"
[[ "${LAB_RUNS:-}" != *fp8w_* && -z "${LAB_PREFILL_FP8:-}" ]] ||
  lab_checkpoint 150 "$MODEL-fp8" --dtype fp8
[ "${LAB_TESTS:-*}" = none ] || lab_tests 220 "${LAB_TESTS:-*}"
[ -z "${LAB_SANITIZE:-}" ] || lab_sanitize 150 "$LAB_SANITIZE"
log "checkpoint"
wait
AB=${LAB_AB:-"QWEN3_CUDA_BF16_MLP=1 QWEN3_CUDA_BF16_MLP=0 QWEN3_CUDA_BF16_MLP=1 QWEN3_CUDA_BF16_MLP=0"}
i=0
for env in $AB; do
  for dir in "$MODEL" ${LAB_PREFILL_FP8:+"$MODEL-fp8"}; do
    i=$((i + 1))
    [ "$(box 90)" -ge 40 ] || { log "prefill $env skipped: out of time"; continue; }
    log "prefill, $env, $dir"
    env ${env//,/ } timeout "$(box 90)" "$BIN/qwen3_cuda_bench" --model "$dir" --prefill-only 1 \
      >"$OUT/prefill_$i.log" 2>&1
    echo "exit $?" >>"$OUT/prefill_$i.log"
    grep -E '^prefill|^BF16 matmul|^exit [^0]' "$OUT/prefill_$i.log" | sed "s|^|[$env ${dir##*/}] |" |
      tee -a "$SUM"
  done
done
if [ -n "${LAB_NCU:-}" ] && [ "$(box 200)" -ge 60 ]; then
  log "ncu: one prefill step of $LAB_NCU tokens"
  timeout "$(box 200)" ncu --profile-from-start off --clock-control none \
    --launch-count "${LAB_NCU_KERNELS:-200}" \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum \
    --csv --page raw --print-units base \
    "$BIN/qwen3_cuda_bench" --model "$MODEL" --profile-prefill "$LAB_NCU" >"$OUT/ncu.csv" 2>"$OUT/ncu.err"
  echo "exit $?" >>"$OUT/ncu.err"
  python3 - "$OUT/ncu.csv" <<'EOF' 2>&1 | tee "$OUT/ncu_summary.txt" | tee -a "$SUM"
import csv, collections, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
head = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
cols = rows[head]
k, t = cols.index("Kernel Name"), cols.index("gpu__time_duration.sum")
rd, wr = cols.index("dram__bytes_read.sum"), cols.index("dram__bytes_write.sum")
agg = collections.defaultdict(lambda: [0, 0.0, 0.0])
for r in rows[head + 1:]:  # (a units row, if any, fails to parse)
    try:
        a = agg[r[k][:60]]
        num = lambda v: float(v.replace(",", ""))  # ncu prints thousands separators
        a[0] += 1; a[1] += num(r[t]); a[2] += num(r[rd]) + num(r[wr])
    except (ValueError, IndexError):
        pass
total = sum(a[1] for a in agg.values())
print(f"{sum(a[0] for a in agg.values())} kernels, {total / 1e6:.2f} ms in all (ns: ncu's clocks)")
for name, (n, ns, b) in sorted(agg.items(), key=lambda x: -x[1][1]):
    print(f"{ns / total * 100:5.1f} % {ns / 1e6:8.3f} ms {n:4d}x {b / max(ns, 1):7.0f} GB/s  {name}")
EOF
fi
lab_runs "${LAB_RUNS:-}"
# Offline throughput (issue 7's third benchmark) when LAB_THROUGHPUT gives the prompt count.
if [ -n "${LAB_THROUGHPUT:-}" ]; then
  qwen3_run "throughput_$LAB_THROUGHPUT" 120 bench throughput --device cuda --model "$MODEL" \
    --input-len 512 --output-len 128 --num-prompts "$LAB_THROUGHPUT"
fi
[ -z "${LAB_HF_COMPILE_S:-}" ] || lab_hf "$LAB_HF_COMPILE_S"
log "done"
lab_pack
