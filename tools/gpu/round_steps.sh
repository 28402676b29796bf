# Sourced by the time-boxed GPU-call scripts (cuda_round.sh, tp_round.sh) once they have
# set START (date +%s when the call began), DEADLINE (seconds for the whole call) and SUM
# (their summary log).
# log MESSAGE: one line with the seconds since START, to stdout and SUM.
log() { echo "== [$(($(date +%s) - START)) s] $*" | tee -a "$SUM"; }
# box CAP: seconds for a step: CAP, or what is left before the deadline (minus a margin),
# at least 1.
box() {
  local left=$((DEADLINE - ($(date +%s) - START) - 10))
  left=$((left < $1 ? left : $1))
  echo $((left < 1 ? 1 : left))
}
# qwen3_run NAME CAP ARGS...: `qwen3 ARGS --output-json $OUT/NAME.json`, output in
# $OUT/NAME.log, time-boxed to CAP seconds (skipped when under 20 are left); its result
# lines (throughput, the GPU's busy / idle time, errors) go to SUM. Needs BIN and OUT.
qwen3_run() {
  local name=$1 cap=$2
  shift 2
  if [ "$(box "$cap")" -lt 20 ]; then
    log "$name skipped: out of time"
    return
  fi
  log "$name: qwen3 $*"
  timeout "$(box "$cap")" "$BIN/qwen3" "$@" --output-json "$OUT/$name.json" >"$OUT/$name.log" 2>&1 ||
    echo "exit $?" | tee -a "$SUM"
  grep -E "Throughput:|Decode throughput|Prefill throughput|GPU (busy|idle)|tensor_parallel_size|attention window|error|decoder profile" \
    "$OUT/$name.log" | tail -6 | tee -a "$SUM"
}
# serve_bench NAME PORT PROMPTS [serve flags...]: starts `qwen3 serve $MODEL --device cuda`
# with the flags on loopback PORT, waits for /health (60 s), logs the start-up time and the
# KV capacity, runs `qwen3 bench serve` (512 in / 128 out, PROMPTS prompts, all at once,
# result $OUT/NAME.json), then stops the server with SIGTERM (SIGKILL after 10 s). The
# server's and the client's output go to $OUT/NAME.log. Needs BIN, MODEL (with the
# tokenizer files in it) and OUT.
serve_bench() {
  local name=$1 port=$2 prompts=$3 server ready=0 t0
  shift 3
  t0=$(date +%s.%N)
  "$BIN/qwen3" serve "$MODEL" --device cuda --host 127.0.0.1 --port "$port" \
    --served-model-name qwen3-4b-random "$@" >"$OUT/$name.serve.tmp" 2>&1 &
  server=$!
  for _ in $(seq 1 1200); do
    curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && { ready=1; break; }
    kill -0 $server 2>/dev/null || break
    sleep 0.05
  done
  if [ $ready = 1 ]; then
    log "$name: serving after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}') s"
    grep -E "loaded|KV cache" "$OUT/$name.serve.tmp" | tee -a "$SUM"
    timeout "$(box 120)" "$BIN/qwen3" bench serve --base-url "http://127.0.0.1:$port" \
      --model qwen3-4b-random --tokenizer "$MODEL" --random-input-len 512 --random-output-len 128 \
      --num-prompts "$prompts" --request-rate inf --ignore-eos --seed 0 --no-progress \
      --result-file "$OUT/$name.json" >"$OUT/$name.bench.tmp" 2>&1 || log "$name: bench serve exit $?"
    tee -a "$SUM" <"$OUT/$name.bench.tmp"
  else
    log "$name: server not ready"
    tail -20 "$OUT/$name.serve.tmp" | tee -a "$SUM"
  fi
  kill -TERM $server 2>/dev/null
  for _ in $(seq 1 100); do kill -0 $server 2>/dev/null || break; sleep 0.1; done
  kill -KILL $server 2>/dev/null
  wait $server 2>/dev/null
  { echo "===== qwen3 serve log"; cat "$OUT/$name.serve.tmp"; echo "===== bench serve";
    cat "$OUT/$name.bench.tmp" 2>/dev/null; } >"$OUT/$name.log"
  rm -f "$OUT/$name.serve.tmp" "$OUT/$name.bench.tmp"
}
# copy_bandwidth: device-to-device copy bandwidth of GPU 0 (torch, 2 GiB, read + write), the
# memory-bandwidth roofline's ceiling, to stdout and SUM.
copy_bandwidth() {
  python3 - <<'EOF' 2>&1 | tee -a "$SUM"
import torch
n = 2 << 30
a = torch.empty(n, dtype=torch.uint8, device="cuda")
b = torch.empty_like(a)
for _ in range(3):
    b.copy_(a)
s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(20):
    b.copy_(a)
e.record()
torch.cuda.synchronize()
gb_s = 2 * n * 20 / (s.elapsed_time(e) / 1e3) / 1e9
print(f"device-to-device copy (GPU 0, torch, 2 GiB): {gb_s:,.0f} GB/s (read + write)")
EOF
}
# lab_begin NAME: the start of a one-call lab script (gemv_pipe_lab.sh, decode_split_sweep.sh,
# decode_attention_lab.sh)
# once DEADLINE is set: OUT (default /tmp/NAME, created), START, SUM, BIN (the carried
# binaries), MODEL (the random Qwen3-4B BF16 checkpoint's path), then the GPU's name and the
# copy bandwidth into SUM.
lab_begin() {
  OUT=${OUT:-/tmp/$1}
  mkdir -p "$OUT"
  START=$(date +%s)
  SUM=$OUT/summary.log
  BIN=$PWD/.gpu-carry-cuda/bin
  MODEL=/tmp/qwen3-4b-random
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$SUM"
  copy_bandwidth
}
# lab_checkpoint CAP DIR [init-random flags]: the random Qwen3-4B checkpoint (seed 1) into
# DIR unless it is there, in the background (the GPU tests run meanwhile; `wait` before
# using it), time-boxed to CAP seconds. Needs BIN.
lab_checkpoint() {
  local cap=$1 dir=$2
  shift 2
  [ -f "$dir/config.json" ] || timeout "$(box "$cap")" "$BIN/qwen3" init-random --like qwen3-4b \
    --seed 1 --out "$dir" "$@" >/dev/null 2>&1 &
}
# lab_tests CAP FILTER: the carried GPU test binary with that gtest filter, time-boxed to
# CAP seconds, its log in OUT/tests.log (with the exit status), the pass / fail / skip
# lines into SUM.
lab_tests() {
  log "GPU tests $2"
  timeout "$(box "$1")" "$BIN/qwen3_cuda_tests" --gtest_filter="$2" >"$OUT/tests.log" 2>&1
  echo "exit $?" >>"$OUT/tests.log"
  grep -E '^\[  (PASSED|FAILED|SKIPPED)|tests ran|^exit|FAILED  \]|SKIPPED \]' "$OUT/tests.log" |
    tee -a "$SUM"
}
# lab_runs RUNS: engine runs `qwen3 bench latency` (128 output tokens, 2 iterations), RUNS =
# "name env input_len batch [flags]; ..." with env = VAR=VALUE[,VAR=VALUE...] for that
# run (e.g. QWEN3_CUDA_DECODE_MMA=0) or "-" for none; names fp8w_* use $MODEL-fp8.
lab_runs() {
  local run name envs len batch flags dir
  local -a run_list
  IFS=';' read -ra run_list <<<"${1//$'\n'/ }"
  for run in "${run_list[@]}"; do
    read -r name envs len batch flags <<<"$run"
    [ -n "${name:-}" ] || continue
    [ "$envs" = - ] && envs=
    dir=$MODEL
    [[ "$name" == fp8w_* ]] && dir=$MODEL-fp8
    # shellcheck disable=SC2086
    (
      [ -z "$envs" ] || export ${envs//,/ }
      qwen3_run "latency_$name" 90 bench latency --device cuda --model "$dir" \
        --input-len "$len" --output-len 128 --batch-size "$batch" --num-iters-warmup 1 \
        --num-iters 2 ${flags:-}
    )
  done
}
# lab_hf LIMIT: HF transformers on $MODEL (tools/gpu/cuda_vs_hf.py: its BF16 matmul rate,
# prefill, eager decode, then static cache + torch.compile within LIMIT seconds), when the
# call has the time; the figures into SUM, the JSON in OUT/hf.json.
lab_hf() {
  [ "$(box 400)" -ge $(($1 + 40)) ] || { log "HF transformers skipped: out of time"; return; }
  log "HF transformers, compile limit $1 s"
  timeout "$(box $(($1 + 60)))" python3 tools/gpu/cuda_vs_hf.py "$MODEL" "$OUT/hf.json" \
    --compile-timeout "$1" --log-dir "$OUT" >"$OUT/hf.log" 2>&1
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print({k: r.get(k) for k in ('matmul_bf16_tflop_s','prefill_512','prefill_4096','decode_dynamic','decode_static_compiled')})" \
    "$OUT/hf.json" 2>&1 | cut -c1-1500 | tee -a "$SUM"
}
# lab_sanitize CAP FILTER: compute-sanitizer memcheck on the GPU tests FILTER names (a gtest
# filter), time-boxed to CAP seconds, its log in OUT/memcheck.log, the summary lines into SUM.
lab_sanitize() {
  command -v compute-sanitizer >/dev/null || { log "no compute-sanitizer"; return; }
  log "compute-sanitizer memcheck: $2"
  timeout "$(box "$1")" compute-sanitizer --tool memcheck "$BIN/qwen3_cuda_tests" \
    --gtest_filter="$2" >"$OUT/memcheck.log" 2>&1
  echo "exit $?" >>"$OUT/memcheck.log"
  grep -E 'ERROR SUMMARY|^\[  (PASSED|FAILED)|^exit' "$OUT/memcheck.log" | tee -a "$SUM"
}
# lab_pack: the device tool brings back 8 files: keep SUM and pack the rest of OUT into
# OUT/logs.tgz.
lab_pack() {
  (cd "$OUT" && tar -czf logs.tgz --exclude=logs.tgz --exclude=summary.log -- * &&
    find . -mindepth 1 ! -name logs.tgz ! -name summary.log -delete 2>/dev/null)
}
