#!/usr/bin/env python3
"""Chat templates: transformers' own Jinja rendering (the reference behind
apply_chat_template) against tests/fixtures/templates/expected.json, which came from
@huggingface/jinja. Same variables as tools/fixtures/make_template_fixtures.mjs.

Usage: python3 tools/gpu/check_templates_hf.py TOKENIZER_DIR OUT_DIR
"""
import glob
import json
import os
import sys

import transformers
from transformers.utils.chat_template_utils import _compile_jinja_template


def normalize(messages):
    out = []
    for m in messages:
        m = dict(m)
        if isinstance(m.get("content"), list):
            m["content"] = "\n".join(p.get("text", "") for p in m["content"])
        if "content" in m and m["content"] is None:
            m["content"] = ""
        out.append(m)
    return out


def main():
    tok_dir, out_dir = sys.argv[1:3]
    eos = json.load(open(os.path.join(tok_dir, "tokenizer_config.json"))).get("eos_token")
    cases = json.load(open("tests/data/templates/cases.json"))
    expected = json.load(open("tests/fixtures/templates/expected.json"))["outputs"]
    report = {"transformers": transformers.__version__, "compared": 0, "equal": 0, "differ": []}
    for path in sorted(glob.glob("tests/data/templates/*.jinja")):
        name = os.path.basename(path)
        compiled = _compile_jinja_template(open(path, encoding="utf-8").read())
        for case in cases:
            want = expected.get(name, {}).get(case["name"])
            if want is None or isinstance(want, dict):
                continue  # error cases are checked by our own tests
            kwargs = dict(case.get("kwargs", {}))
            try:
                got = compiled.render(messages=normalize(case["messages"]), tools=case.get("tools"),
                                      add_generation_prompt=case.get("add_generation_prompt", False),
                                      eos_token=eos, **kwargs)
            except Exception as e:  # noqa: BLE001
                got = f"<error {type(e).__name__}: {e}>"
            report["compared"] += 1
            if got == want:
                report["equal"] += 1
            else:
                report["differ"].append({"template": name, "case": case["name"], "transformers": got, "jinja_js": want})
    print(json.dumps({k: v for k, v in report.items() if k != "differ"}, indent=1))
    for d in report["differ"][:5]:
        print(json.dumps(d, ensure_ascii=False)[:1500])
    json.dump(report, open(os.path.join(out_dir, "templates_hf.json"), "w"), ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
