#!/usr/bin/env python3
"""Checks a Qwen3-4B-geometry checkpoint written by our `qwen3 init-random` against HF.

HF transformers loads the folder unchanged (float32, TF32 off) and computes logits and
greedy tokens; our binary's CPU forward runs the same prompt with --trace-out. Prints the
per-layer and logit differences and whether the greedy tokens agree.

Usage: python3 tools/gpu/check_4b.py MODEL_DIR QWEN3_BINARY OUT_JSON
"""
import json
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False


def main():
    model_dir, binary, out_json = sys.argv[1:4]
    prompt = [9707, 11, 847, 829, 374, 1207, 16948, 13]
    n_new = 8
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).cuda().eval()
    load_s = time.time() - t0
    ids = torch.tensor([prompt], device="cuda")
    with torch.no_grad():
        out = model(ids, output_hidden_states=True)
        gen = model.generate(ids, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False,
                             eos_token_id=None, pad_token_id=0)
    hf_tokens = gen[0, len(prompt):].tolist()
    t0 = time.time()
    res = subprocess.run([binary, "generate", "-m", model_dir, "--prompt-ids", ",".join(map(str, prompt)),
                          "-n", str(n_new), "--ignore-eos", "--trace-out", "/tmp/trace_4b.safetensors"],
                         capture_output=True, text=True, check=True)
    ours_s = time.time() - t0
    our_tokens = [int(x) for x in res.stdout.strip().split(",")]
    trace = load_file("/tmp/trace_4b.safetensors")
    layers = model.config.num_hidden_layers
    report = {"hf_load_s": load_s, "ours_generate_s": ours_s, "ours_stderr": res.stderr,
              "hf_tokens": hf_tokens, "our_tokens": our_tokens, "tokens_equal": hf_tokens == our_tokens}

    def rel(a, b):
        return ((a - b).abs().max() / b.abs().max()).item()

    hs = [h[0].float().cpu() for h in out.hidden_states]
    report["layer_out_rel"] = [rel(trace[f"layers.{i}.layer_out"], hs[i + 1]) for i in range(layers - 1)]
    report["final_norm_rel"] = rel(trace["final_norm"], hs[layers])
    report["logits_rel"] = rel(trace["logits"], out.logits[0].float().cpu())
    report["logits_max_abs"] = (trace["logits"] - out.logits[0].float().cpu()).abs().max().item()
    print(json.dumps({k: v for k, v in report.items() if k != "layer_out_rel"}, indent=1))
    print("worst layer rel diff:", max(report["layer_out_rel"]))
    json.dump(report, open(out_json, "w"), indent=1)


if __name__ == "__main__":
    main()
