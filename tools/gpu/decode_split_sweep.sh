#!/usr/bin/env bash
# The decode attention's shortest split (QWEN3_DECODE_SPLIT_TOKENS, default 128 keys) swept
# end to end, one call: copy bandwidth, the attention / engine GPU tests with the split at
# SWEEP_TEST_SPLIT (default 512), then `qwen3 bench latency` at batch 1 on the random
# Qwen3-4B BF16 checkpoint, prompts of 512 and 4,096 tokens, for each split in SWEEP_SPLITS
# (and the default once more at the end). Needs .gpu-carry-cuda.txz (cuda_prepare_carry.sh).
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/decode_split_sweep.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
source tools/gpu/cuda_env.sh
DEADLINE=${SWEEP_DEADLINE_S:-400}
source tools/gpu/round_steps.sh
lab_begin decode_split_sweep
lab_checkpoint 120 "$MODEL"
log "GPU tests, QWEN3_DECODE_SPLIT_TOKENS=${SWEEP_TEST_SPLIT:-512}"
QWEN3_DECODE_SPLIT_TOKENS=${SWEEP_TEST_SPLIT:-512} timeout "$(box 150)" "$BIN/qwen3_cuda_tests" \
  --gtest_filter="${SWEEP_TESTS:-*Attention*:*CudaVsCpu*:*CudaGreedy*:*Window*:*DecodeRope*:*Runner*}" \
  >"$OUT/tests.log" 2>&1
echo "exit $?" >>"$OUT/tests.log"
grep -E '^\[  (PASSED|FAILED)|^exit|FAILED  \]' "$OUT/tests.log" | tee -a "$SUM"
wait
i=0
for split in ${SWEEP_SPLITS:-128 256 512 1024 128}; do
  i=$((i + 1))
  for len in 512 4096; do
    QWEN3_DECODE_SPLIT_TOKENS=$split qwen3_run "latency_${i}_split${split}_in${len}" 60 \
      bench latency \
        --device cuda --model "$MODEL" --input-len "$len" --output-len 128 --batch-size 1 \
        --num-iters-warmup 1 --num-iters 2
  done
done
log "done"
lab_pack
