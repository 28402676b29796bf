#!/usr/bin/env python3
"""Checks a checkpoint written by `qwen3 quantize` against HF transformers' FineGrainedFP8.

Run on an H200 on 2026-11-30 against the 4B random checkpoint: ok (docs/PERFORMANCE.md).

1. Loads OUT_DIR with AutoModelForCausalLM (the config's quantization_config selects
   FineGrainedFP8): every linear not in modules_to_not_convert must come back as an FP8
   module whose `weight` bytes and `weight_scale_inv` equal the tensors in our files, and
   every skipped one (and lm_head, embedding) as plain BF16 equal to the input.
2. Loads it again with FineGrainedFP8Config(dequantize=True): HF's own dequantization of
   our file must equal ours (fp8 value x block scale, rounded to BF16) exactly, and be
   within the format's error of the BF16 source (the relative RMS printed by quantize).

HF's FP8 modules hold float8_e4m3fn only: run it on `--fmt e4m3` outputs (E5M2 is our
extension; transformers would convert its codes on load).

Usage: python3 tools/gpu/check_quantize_hf.py BF16_DIR QUANTIZED_DIR OUT_JSON
"""
import glob
import json
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, FineGrainedFP8Config


def load_dir(d):
    tensors = {}
    for f in sorted(glob.glob(os.path.join(d, "*.safetensors"))):
        tensors.update(load_file(f))
    return tensors


def dequant(w, s, block):
    rows, cols = w.shape
    s = s.float().repeat_interleave(block[0], 0)[:rows].repeat_interleave(block[1], 1)[:, :cols]
    return w.float() * s


def main():
    bf16_dir, q_dir, out_json = sys.argv[1:4]
    ours, src = load_dir(q_dir), load_dir(bf16_dir)
    qc = json.load(open(os.path.join(q_dir, "config.json")))["quantization_config"]
    assert qc["fmt"] == "e4m3", "HF FineGrainedFP8 holds e4m3fn weights only"
    block = qc["weight_block_size"]
    report = {"quantization_config": qc, "fp8_modules": 0, "bf16_linears": [], "mismatch": []}

    # 1. Raw FP8 parameters as HF loads them.
    model = AutoModelForCausalLM.from_pretrained(q_dir, dtype=torch.bfloat16, device_map="cuda")
    for name, mod in model.named_modules():
        if not hasattr(mod, "weight") or mod.weight is None or mod.weight.dim() != 2:
            continue
        key = name + ".weight"
        if hasattr(mod, "weight_scale_inv"):
            report["fp8_modules"] += 1
            w = mod.weight.detach().cpu()
            s = mod.weight_scale_inv.detach().cpu().float()
            if w.dtype != ours[key].dtype or not torch.equal(w.view(torch.uint8), ours[key].view(torch.uint8)):
                report["mismatch"].append(key)
            if not torch.equal(s, ours[key + "_scale_inv"].float()):
                report["mismatch"].append(key + "_scale_inv")
        elif key in ours:
            report["bf16_linears"].append(key)
            if not torch.equal(mod.weight.detach().cpu(), src[key]):
                report["mismatch"].append(key)
    expected_fp8 = sum(1 for k in ours if k.endswith("weight_scale_inv"))
    report["fp8_modules_expected"] = expected_fp8
    del model

    # 2. HF's dequantization of our file vs ours and vs the BF16 source.
    model = AutoModelForCausalLM.from_pretrained(
        q_dir, dtype=torch.bfloat16, device_map="cuda",
        quantization_config=FineGrainedFP8Config(dequantize=True, weight_block_size=tuple(block)))
    params = dict(model.named_parameters())
    worst_vs_ours, rel_rms = 0.0, {}
    for key in ours:
        if not key.endswith("weight_scale_inv"):
            continue
        w = key[: -len("_scale_inv")]
        hf = params[w].detach().float().cpu()
        mine = dequant(ours[w], ours[key], block).to(torch.bfloat16).float()
        worst_vs_ours = max(worst_vs_ours, (hf - mine).abs().max().item())
        ref = src[w].float()
        rel_rms[w] = ((hf - ref).norm() / ref.norm()).item()
    report["hf_dequant_vs_ours_max_abs"] = worst_vs_ours
    report["hf_dequant_vs_bf16_rel_rms_max"] = max(rel_rms.values())
    report["rel_rms"] = rel_rms
    report["ok"] = (not report["mismatch"] and report["fp8_modules"] == expected_fp8
                    and worst_vs_ours == 0.0)
    print(json.dumps({k: v for k, v in report.items() if k != "rel_rms"}, indent=1))
    json.dump(report, open(out_json, "w"), indent=1)
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
