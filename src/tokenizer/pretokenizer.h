// The Qwen2/Qwen3 pre-tokenizer, hand-written: splits text the way HF `tokenizers`
// applies tokenizer.json's Split regex (Oniguruma, behavior "Isolated")
//
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}
//   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
//
// in one left-to-right pass with at most one character of lookahead per decision:
// O(n) for any input (no backtracking blow-up).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace qwen3::text {

// The exact pattern string this pre-tokenizer implements (checked against tokenizer.json).
extern const std::string_view kQwenSplitPattern;

struct Span {
  uint32_t begin;  // byte offsets into the text
  uint32_t end;
};

// Appends the pieces of `text` (valid UTF-8) to `out`; they cover the text in order.
void pretokenize(std::string_view text, std::vector<Span>& out);

}  // namespace qwen3::text
