#!/usr/bin/env python3
"""CPU path: our `qwen3 generate` vs HF transformers on the same CPU, in one run.

For each model folder: prefill tokens/s for a P-token prompt and decode tokens/s over N
greedy steps, ours (all cores) and HF transformers (torch CPU, all cores; BF16 weights as
stored, and float32 - our compute precision), plus the CPU copy bandwidth (1 GiB,
read + write) as the roofline. Writes a JSON file and prints a table.

Usage: python3 tools/gpu/bench_cpu_vs_hf.py QWEN3_BINARY OUT_JSON MODEL_DIR [MODEL_DIR ...]
"""
import json
import os
import re
import subprocess
import sys
import time

import torch
from transformers import AutoModelForCausalLM

P, N = 128, 16


def copy_bandwidth():
    a = torch.ones(2**28)
    b = torch.empty_like(a)
    b.copy_(a)
    best = 1e9
    for _ in range(5):
        t = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - t)
    return 2 * a.numel() * 4 / best / 1e9


def ours(binary, model, vocab):
    ids = ",".join(str((i * 7919 + 11) % vocab) for i in range(P))
    best = None
    for _ in range(2):
        r = subprocess.run([binary, "generate", "-m", model, "--prompt-ids", ids, "-n", str(N), "--ignore-eos"],
                           capture_output=True, text=True, check=True)
        m = re.search(r"prefill (\d+) tokens: ([\d.]+) ms \(([\d.]+) tok/s\); decode (\d+) tokens: ([\d.]+) tok/s", r.stderr)
        cur = {"prefill_tok_s": float(m.group(3)), "decode_tok_s": float(m.group(5))}
        if best is None or cur["decode_tok_s"] > best["decode_tok_s"]:
            best = cur
    return best


def hf(model_dir, dtype, vocab):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval()
    ids = torch.tensor([[(i * 7919 + 11) % vocab for i in range(P)]])
    with torch.no_grad():
        model(ids[:, :8])  # warm-up
        t = time.perf_counter()
        out = model(ids, use_cache=True)
        prefill = P / (time.perf_counter() - t)
        past, tok = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        t = time.perf_counter()
        for _ in range(N - 1):
            out = model(tok, past_key_values=past, use_cache=True)
            past, tok = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        decode = (N - 1) / (time.perf_counter() - t)
    return {"prefill_tok_s": prefill, "decode_tok_s": decode}


def main():
    binary, out_json, models = sys.argv[1], sys.argv[2], sys.argv[3:]
    torch.set_num_threads(os.cpu_count())
    res = {"cpu": open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": "),
           "threads": os.cpu_count(), "torch": torch.__version__, "copy_GB_s": copy_bandwidth(), "models": {}}
    for m in models:
        cfg = json.load(open(os.path.join(m, "config.json")))
        weight_bytes = sum(os.path.getsize(os.path.join(m, f)) for f in os.listdir(m) if f.endswith(".safetensors"))
        r = {"weight_bytes": weight_bytes, "ours": ours(binary, m, cfg["vocab_size"])}
        r["hf_bf16"] = hf(m, torch.bfloat16, cfg["vocab_size"])
        r["hf_fp32"] = hf(m, torch.float32, cfg["vocab_size"])
        res["models"][os.path.basename(m)] = r
        print(json.dumps({os.path.basename(m): r}), flush=True)
    json.dump(res, open(out_json, "w"), indent=1)
    print(f"\nCPU {res['cpu']}, {res['threads']} threads, copy {res['copy_GB_s']:.1f} GB/s")
    print(f"{'model':10} {'who':8} {'prefill tok/s':>14} {'decode tok/s':>13} {'decode GB/s':>12}")
    for name, r in res["models"].items():
        for who in ("ours", "hf_bf16", "hf_fp32"):
            x = r[who]
            print(f"{name:10} {who:8} {x['prefill_tok_s']:14.1f} {x['decode_tok_s']:13.2f} "
                  f"{x['decode_tok_s'] * r['weight_bytes'] / 1e9:12.1f}")


if __name__ == "__main__":
    main()
