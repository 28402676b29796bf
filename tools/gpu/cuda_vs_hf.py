#!/usr/bin/env python3
"""HF transformers on the GPU, the baseline of issue 7, on the same checkpoint as ours.

BF16, attn_implementation="sdpa", batch 1, on the model folder that qwen3_cuda_bench
made (init-random --like qwen3-4b):
  - prefill tokens/s of one 512- and one 4096-token prompt (logits of the last row only,
    like our engine), median of 3 after a warm-up;
  - the card's BF16 matmul rate (8192^3 through torch), the prefill ceiling;
  - greedy decode tokens/s after a 512-token prompt with the dynamic cache (eager);
  - the same with a static cache, which makes generate() compile the decode step
    (torch.compile, mode="reduce-overhead", fullgraph=True), in a child process killed
    after --compile-timeout seconds (its compile warm-up included); when it does not
    finish, the JSON says so (--log-dir keeps the child's whole output).
Decode tokens/s = (N - 1) / (end - time of the first new token), timed through a
streamer, so prefill is not counted; generation ignores EOS (min_new_tokens = N).

Usage: python3 tools/gpu/cuda_vs_hf.py MODEL_DIR OUT_JSON [--compile-timeout 75] [--log-dir DIR]
       python3 tools/gpu/cuda_vs_hf.py MODEL_DIR - --phase compiled   (the child)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM
from transformers.generation.streamers import BaseStreamer

CONTEXT = 512
N_EAGER, N_COMPILED = 64, 128


def prompt(n, vocab):
    return torch.tensor([[(i * 7919 + 11) % vocab for i in range(n)]], device="cuda")


def load(model_dir):
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.bfloat16, attn_implementation="sdpa", device_map="cuda").eval()
    torch.cuda.synchronize()
    return model, time.perf_counter() - t


class Clock(BaseStreamer):
    """Notes when generate() hands over its first new token (the prompt comes first)."""

    def __init__(self):
        self.calls, self.first_token = 0, None

    def put(self, value):
        self.calls += 1
        if self.calls == 2:
            self.first_token = time.perf_counter()

    def end(self):
        pass


def decode_rate(model, ids, n):
    clock = Clock()
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                             streamer=clock, pad_token_id=0)
    torch.cuda.synchronize()
    end = time.perf_counter()
    new = out.shape[1] - ids.shape[1]
    return {"tok_s": (new - 1) / (end - clock.first_token), "new_tokens": int(new)}


def prefill_rate(model, n, vocab):
    ids = prompt(n, vocab)
    times = []
    with torch.no_grad():
        for i in range(4):
            torch.cuda.synchronize()
            t = time.perf_counter()
            model(ids, logits_to_keep=1)
            torch.cuda.synchronize()
            if i > 0:
                times.append(time.perf_counter() - t)
    s = statistics.median(times)
    return {"tokens": n, "ms": s * 1e3, "tok_s": n / s}


def matmul_tflops(n=8192):
    """The card's BF16 matmul rate through torch (cuBLAS), the prefill ceiling."""
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t, reps = time.perf_counter(), 20
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def eager(args):
    model, load_s = load(args.model)
    vocab = model.config.vocab_size
    r = {"load_s": load_s}
    for n in (512, 4096):
        try:
            r[f"prefill_{n}"] = prefill_rate(model, n, vocab)
        except Exception as e:  # noqa: BLE001 - report and go on
            r[f"prefill_{n}"] = {"error": repr(e)[:300]}
    try:
        ids = prompt(CONTEXT, vocab)
        decode_rate(model, ids, 4)  # warm-up
        r["decode_dynamic"] = decode_rate(model, ids, N_EAGER)
    except Exception as e:  # noqa: BLE001
        r["decode_dynamic"] = {"error": repr(e)[:300]}
    r["max_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    return r


def compiled(args):
    """transformers' own compiled decode: with a static cache generate() compiles the
    decode step itself (its default compile_config: fullgraph, mode="reduce-overhead") and
    runs the prefill eagerly. (Compiling model.forward ourselves and calling generate()
    gave no result with transformers 5.17: see docs/PERFORMANCE.md.)"""
    model, load_s = load(args.model)
    model.generation_config.cache_implementation = "static"
    model.generation_config.disable_compile = False
    ids = prompt(CONTEXT, model.config.vocab_size)
    t = time.perf_counter()
    decode_rate(model, ids, N_COMPILED)  # compiles the decode step, records its graphs
    compile_s = time.perf_counter() - t
    r = decode_rate(model, ids, N_COMPILED)
    r.update({"load_s": load_s, "compile_warmup_s": compile_s,
              "compiled_by_generate": getattr(model, "_compiled_call", None) is not None})
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("out")
    p.add_argument("--phase", default="eager", choices=["eager", "compiled"])
    p.add_argument("--compile-timeout", type=float, default=75)
    p.add_argument("--log-dir", default=None, help="keep the compiled child's whole output there")
    args = p.parse_args()
    if args.phase == "compiled":
        print("RESULT " + json.dumps(compiled(args)), flush=True)
        return
    t0 = time.perf_counter()
    res = {"torch": torch.__version__, "transformers": transformers.__version__,
           "device": torch.cuda.get_device_name(0), "attn_implementation": "sdpa",
           "dtype": "bfloat16", "context": CONTEXT, "model": args.model}
    res["matmul_bf16_tflop_s"] = matmul_tflops()
    res.update(eager(args))
    torch.cuda.empty_cache()
    with open(args.out, "w") as f:  # in case the compiled phase outlives the caller's limit
        json.dump(res, f, indent=1)
    # The child logs recompilations and graph breaks: on a timeout their tail says where
    # the compile time went.
    env = dict(os.environ, TORCH_LOGS="recompiles,graph_breaks")
    try:
        c = subprocess.run([sys.executable, __file__, args.model, "-", "--phase", "compiled"],
                           capture_output=True, text=True, timeout=args.compile_timeout, env=env)
        if args.log_dir:
            with open(os.path.join(args.log_dir, "hf_compiled.log"), "w") as f:
                f.write(f"exit {c.returncode}\n===== stdout\n{c.stdout}\n===== stderr\n{c.stderr}")
        line = [x for x in c.stdout.splitlines() if x.startswith("RESULT ")]
        err = c.stderr or c.stdout
        tb = err.rfind("Traceback")  # the exception, not the compiler's warnings after it
        res["decode_static_compiled"] = (json.loads(line[-1][7:]) if line else
                                         {"exit": c.returncode,
                                          "error": err[tb:tb + 2000] if tb >= 0 else err[-1500:]})
    except subprocess.TimeoutExpired as e:
        tail = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        res["decode_static_compiled"] = {
            "skipped": f"static cache + torch.compile did not load, compile and run within "
                       f"{args.compile_timeout:.0f} s",
            "stderr_tail": tail[-1500:]}
    res["wall_s"] = time.perf_counter() - t0
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
