#!/usr/bin/env bash
# Builds the tokenizer benchmark text (~1.5 MB, mixed English / Chinese / other scripts /
# code): the project's sources and docs plus the multilingual fixture corpus, repeated
# texts removed. Output: bench/results/tokenizer_text.txt
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p bench/results
out=bench/results/tokenizer_text.txt
{
  cat README.md docs/*.md
  find src tests -name '*.cpp' -o -name '*.h' | sort | xargs cat
  node -e 'const fs=require("fs");for(const l of fs.readFileSync("tests/fixtures/tokenizer/corpus.jsonl","utf8").split("\n")){if(!l)continue;const j=JSON.parse(l);if(j.text!==undefined)process.stdout.write(j.text+"\n\n");}'
} > "$out"
wc -c "$out"
