#!/usr/bin/env bash
# Issue 10 on a machine with 2+ GPUs (device kind nvidia-h200-x2 or larger), one call:
#   1. how the GPUs are linked (nvidia-smi topo -m), the NCCL library found, and the
#      device-to-device copy bandwidth of GPU 0 (torch, 2 GiB: the roofline's ceiling);
#   2. the CUDA GPU tests: CudaTp* repeated (TP_TEST_REPEAT, default 10: a rank-ordering
#      hang shows up intermittently), the sampling tests then CudaTp* in one process (an
#      order that once hung: the kernels' per-device setup), then the whole binary once;
#   3. the Qwen3-4B-geometry random BF16 checkpoint at TP = 1, 2 (and 4 when the GPUs are
#      there), same call: `bench latency` batch 1 and batch 64 (512 in / 128 out) and
#      `bench throughput` (512 / 128, TP_PROMPTS prompts, default 1000);
#   4. the same latency runs for its FP8 twin (init-random --dtype fp8, same seed);
#   5. `qwen3 serve --tensor-parallel-size N` + `qwen3 bench serve` (512 / 128, 500
#      prompts at once) per TP size.
# Writes tp_summary.log (ends with a table) and one JSON per run to $OUT. Every step is
# time-boxed inside TP_DEADLINE_S seconds (default 540). Needs .gpu-carry-cuda(.txz)
# from tools/gpu/cuda_prepare_carry.sh (an NCCL build). NVLink multicast stays off.
#
#   run(kind="nvidia-h200-x2", carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/tp_round.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
OUT=${OUT:-/tmp/tp_round_out}
mkdir -p "$OUT"
START=$(date +%s)
DEADLINE=${TP_DEADLINE_S:-540}
SUM=$OUT/tp_summary.log
BIN=$PWD/.gpu-carry-cuda/bin
MODEL=/tmp/qwen3-4b-random
source tools/gpu/round_steps.sh

GPUS=$(nvidia-smi --list-gpus | wc -l)
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$SUM"
log "1. topology ($GPUS GPUs)"
nvidia-smi topo -m 2>&1 | tee -a "$SUM"
ldd "$BIN/qwen3" | grep -E "nccl|cublas" | tee -a "$SUM"

copy_bandwidth

log "2. GPU tests: tensor parallel repeated, sampling then tensor parallel, then all"
tests() {  # name, cap seconds, then the test binary's flags
  local name=$1 cap=$2
  shift 2
  timeout "$(box "$cap")" "$BIN/qwen3_cuda_tests" "$@" >"$OUT/$name.log" 2>&1
  echo "exit $?" >>"$OUT/$name.log"
  echo "$name:" | tee -a "$SUM"
  grep -E '^\[  (PASSED|FAILED)|^\[ +(FAILED|SKIPPED) |^exit|TP=2 vs 1' "$OUT/$name.log" |
    sort | uniq -c | tee -a "$SUM"
}
tests cuda_tests_tp 150 --gtest_filter='*CudaTp*' --gtest_repeat="${TP_TEST_REPEAT:-10}"
tests cuda_tests_sampling_tp 60 --gtest_filter='CudaSampling*:*CudaTp*' --gtest_repeat=2
tests cuda_tests 200

log "3. checkpoints"
[ -f "$MODEL/config.json" ] || "$BIN/qwen3" init-random --like qwen3-4b --seed 0 --out "$MODEL" >/dev/null
[ -f "$MODEL-fp8/config.json" ] ||
  "$BIN/qwen3" init-random --like qwen3-4b --dtype fp8 --seed 0 --out "$MODEL-fp8" >/dev/null
SIZES="1 2"
[ "$GPUS" -ge 4 ] && SIZES="1 2 4"
each_tp() {  # name, cap seconds, then the qwen3 arguments: one run per TP size, adjacent
  local name=$1 cap=$2 tp
  shift 2
  for tp in $SIZES; do qwen3_run "${name}_tp$tp" "$cap" "$@" --tensor-parallel-size "$tp"; done
}
LAT=(bench latency --device cuda --input-len 512 --output-len 128 --num-iters-warmup 1)
each_tp latency_b1 60 "${LAT[@]}" --model "$MODEL" --batch-size 1 --num-iters 3
each_tp latency_fp8_b1 60 "${LAT[@]}" --model "$MODEL-fp8" --batch-size 1 --num-iters 3
each_tp latency_b64 60 "${LAT[@]}" --model "$MODEL" --batch-size 64 --num-iters 2
each_tp throughput 90 bench throughput --device cuda --model "$MODEL" --input-len 512 \
  --output-len 128 --num-prompts "${TP_PROMPTS:-1000}"

cp .gpu-carry-cuda/tokenizer/tokenizer.json .gpu-carry-cuda/tokenizer/tokenizer_config.json "$MODEL"/
for tp in $SIZES; do
  if [ "$(box 90)" -ge 60 ]; then
    log "5. serve_tp$tp: qwen3 serve --tensor-parallel-size $tp + bench serve 512/128 x500"
    serve_bench "serve_tp$tp" $((8300 + tp)) 500 --tensor-parallel-size "$tp"
  else
    log "serve_tp$tp skipped: out of time"
  fi
done

log "summary"
python3 - "$OUT" <<'EOF' 2>&1 | tee -a "$SUM"
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(out, name + ".json")) as f:
            return json.load(f)
    except Exception:
        return None
rows = []
for what, prefix, key in [("batch-1 decode BF16 (tok/s)", "latency_b1", "decode"),
                          ("batch-1 decode FP8 (tok/s)", "latency_fp8_b1", "decode"),
                          ("batch-64 decode BF16 (tok/s)", "latency_b64", "decode"),
                          ("throughput 512/128 total (tok/s)", "throughput", "total"),
                          ("serve 512/128 x500 total (tok/s)", "serve", "serve")]:
    base = None
    for tp in (1, 2, 4):
        j = load(f"{prefix}_tp{tp}")
        if j is None:
            continue
        if key == "decode":
            v = j["batch_size"] / j["avg_decode_time_per_step"]
        elif key == "serve":
            v = j["total_token_throughput"]
        else:
            v = j["tokens_per_second"]
        base = v if tp == 1 else base
        ratio = f"x{v / base:.2f} TP=1" if base else "-"
        rows.append((what, tp, f"{v:,.1f}", ratio))
print("| what | TP | number | vs TP=1 |\n| --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(str(x) for x in r) + " |")
EOF
