#!/usr/bin/env bash
# Times every kernel of one decode step (context 512, Qwen3-4B geometry, BF16; batch
# NCU_BATCH, default 1; NCU_SAMPLED=1 samples every row on the GPU with Qwen3's
# generation_config, top_k 20 / top_p 0.8 / T 0.7; no CUDA graphs, kernels serialized by
# ncu, caches flushed between kernels; NCU_CACHE=none keeps L2 as the previous kernel left
# it, as in the decoder) with ncu and prints them grouped by kernel and grid, largest total
# first. Needs .gpu-carry-cuda(.txz) and makes /tmp/qwen3-4b-random when missing. Output:
# $OUT/ncu_decode.{csv,log}.
#
#   run(carry=[".gpu-carry-cuda.txz"], command="bash tools/gpu/ncu_decode.sh")
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/ncu_decode_out}
mkdir -p "$OUT"
source tools/gpu/cuda_env.sh
# NCU_KERNELS=REGEX profiles only the kernels whose names match (faster: the rest run plainly).
timeout 240 ncu ${NCU_KERNELS:+--kernel-name "regex:$NCU_KERNELS"} --clock-control none \
  --cache-control "${NCU_CACHE:-all}" --profile-from-start off --metrics gpu__time_duration.sum \
  --csv .gpu-carry-cuda/bin/qwen3_cuda_bench --model "${MODEL:-/tmp/qwen3-4b-random}" \
  --init-random qwen3-4b --profile-decode 1 --profile-batch "${NCU_BATCH:-1}" \
  --profile-sampled "${NCU_SAMPLED:-0}" >"$OUT/ncu_decode.csv" 2>"$OUT/ncu_decode.err"
python3 - "$OUT/ncu_decode.csv" <<'PY' | tee "$OUT/ncu_decode.log"
import collections, csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 10]
hdr, rows = rows[0], rows[1:]
ki, gi = hdr.index("Kernel Name"), hdr.index("Grid Size")
vi, ui = hdr.index("Metric Value"), hdr.index("Metric Unit")
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
starts = [i for i, r in enumerate(rows) if "embedding" in r[ki]]
step = rows[starts[-1]:] if starts else rows  # the last forward is the decode step
tot = collections.defaultdict(lambda: [0, 0.0])
for r in step:
    name = r[ki].split("(")[0].replace("qwen3::", "").replace("<unnamed>::", "")[:64]
    key = f"{name} {r[gi]}"
    tot[key][0] += 1
    tot[key][1] += float(r[vi].replace(",", "")) * scale.get(r[ui], 1.0)
s = sum(t for _, t in tot.values())
print(f"ncu, one decode step: {s:.1f} us in {len(step)} kernels")
for n, (c, t) in sorted(tot.items(), key=lambda x: -x[1][1]):
    print(f"{n:80s} {c:4d} x {t / c:8.2f} us = {t:8.1f} us")
PY
