#!/usr/bin/env bash
# Round Q: the persistent batch-1 decoder (kernels/decode_persistent.cu), one call: copy
# bandwidth, the GPU tests (LAB_TESTS: the persistent decoder's own, the runner / engine /
# attention ones), then `qwen3 bench latency` at batch 1 on the random Qwen3-4B checkpoint
# in BF16 and FP8, prompts of LAB_LENS (512 and 4,096) tokens, with the persistent decoder
# (QWEN3_CUDA_PERSISTENT=1, its per-region profile in the log) and without (=0), same
# binary, same call; LAB_VARIANTS lists the persistent decoder's settings to run, each
# NAME:VAR=VALUE[,VAR=VALUE...] (default "p1:-", as it is); LAB_SANITIZE (a
# gtest filter; the parametrized suites' names start with "Models/", so
# '*CudaPersistent.Bf16AndFp8*', not 'CudaPersistent*') runs compute-sanitizer memcheck on
# those tests; then (LAB_ACCURACY=1)
# `qwen3 bench accuracy` FP8 vs BF16. Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/persistent_lab.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${LAB_DEADLINE_S:-560}
source tools/gpu/round_steps.sh
lab_begin persistent_lab
lab_checkpoint 150 "$MODEL"
lab_checkpoint 150 "$MODEL-fp8" --dtype fp8
lab_tests "${LAB_TESTS_S:-200}" "${LAB_TESTS:-*Persistent*:*CudaVsCpu*:*CudaGreedy*:*Runner*:*Window*:*Attention*}"
wait
if grep -q '^exit 124' "$OUT/tests.log"; then  # a hang: the runs would hang too
  log "tests timed out: no runs"
  lab_pack
  exit 0
fi
[ -n "${LAB_SANITIZE:-}" ] && lab_sanitize "${LAB_SANITIZE_S:-150}" "$LAB_SANITIZE"
for len in ${LAB_LENS:-512 4096}; do
  for dir in "$MODEL" "$MODEL-fp8"; do
    tag=bf16
    [ "$dir" = "$MODEL-fp8" ] && tag=fp8
    for variant in ${LAB_VARIANTS:-p1:-} p0:QWEN3_CUDA_PERSISTENT=0; do
      (
        export QWEN3_CUDA_PERSISTENT=1 QWEN3_PERSISTENT_PROFILE=1
        IFS=,
        for kv in ${variant#*:}; do [ "$kv" = - ] || export "${kv?}"; done
        unset IFS
        qwen3_run "b1_${tag}_${variant%%:*}_in${len}" 60 bench latency --device cuda \
          --model "$dir" --input-len "$len" --output-len 128 --batch-size 1 \
          --num-iters-warmup 1 --num-iters 2
      )
    done
  done
done
if [ "${LAB_ACCURACY:-1}" = 1 ] && [ "$(box 90)" -ge 45 ]; then
  timeout "$(box 90)" "$BIN/qwen3" bench accuracy --device cuda --model "$MODEL-fp8" \
    --reference "$MODEL" --prompt-len 64 --steps 1000 --output-json "$OUT/accuracy_fp8.json" \
    2>&1 | tail -8 | tee -a "$SUM"
fi
log "done"
lab_pack
