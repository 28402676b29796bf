#!/usr/bin/env python3
"""HF transformers at long context, issue 9's peer figure, on the same checkpoint as ours.

BF16, attn_implementation="sdpa" (PyTorch's flash / memory-efficient attention), batch 1,
one prompt per context: the prefill of the whole prompt in one forward (logits of the last
row only, like our engine; the KV cache kept), then DECODE greedy tokens one forward at a
time on that cache (eager: Python per layer, so this is HF's plain decode rate, not a
kernel bound). Peak GPU memory per context from torch. Contexts that do not fit (out of
memory) are recorded as such and the run goes on. Prints one JSON line per context and
writes the list to OUT_JSON.

Usage: python3 tools/gpu/hf_long_context.py MODEL_DIR OUT_JSON [CONTEXT ...]
"""
import json
import sys
import time

import torch
import transformers

from cuda_vs_hf import load, prompt  # the same model load and prompt tokens

DECODE = 8


def main():
    model_dir, out = sys.argv[1], sys.argv[2]
    contexts = [int(c) for c in sys.argv[3:]] or [8192, 32768, 131072]
    model, load_s = load(model_dir)
    vocab = model.config.vocab_size
    rows = []
    with torch.inference_mode():
        # Warm-up: kernels and allocator at a small size.
        model(input_ids=prompt(512, vocab), logits_to_keep=1, use_cache=True)
        for ctx in contexts:
            n_prompt = ctx - DECODE
            row = {"context": ctx, "prompt": n_prompt, "transformers": transformers.__version__,
                   "torch": torch.__version__, "load_s": load_s}
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            try:
                ids = prompt(n_prompt, vocab)
                torch.cuda.synchronize()
                t = time.perf_counter()
                outp = model(input_ids=ids, logits_to_keep=1, use_cache=True)
                torch.cuda.synchronize()
                row["prefill_s"] = time.perf_counter() - t
                row["prefill_tok_s"] = n_prompt / row["prefill_s"]
                cache = outp.past_key_values
                tok = outp.logits[:, -1:].argmax(-1)
                del outp
                times = []
                for _ in range(DECODE):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    o = model(input_ids=tok, past_key_values=cache, use_cache=True)
                    tok = o.logits[:, -1:].argmax(-1)
                    torch.cuda.synchronize()
                    times.append(time.perf_counter() - t)
                    cache = o.past_key_values
                    del o
                # The first decode step warms the one-token shapes: the median of the rest.
                times = sorted(times[1:])
                row["decode_ms_per_token"] = 1e3 * times[len(times) // 2]
                row["decode_tok_s"] = 1e3 / row["decode_ms_per_token"]
                del cache
            except torch.OutOfMemoryError as e:
                row["error"] = "out of memory: " + str(e).split("\n")[0][:200]
            row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
            print(json.dumps(row), flush=True)
            rows.append(row)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
