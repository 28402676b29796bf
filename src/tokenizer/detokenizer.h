// Incremental detokenizer for streaming: feed token ids one at a time, get the text that
// became complete. Never emits part of a UTF-8 character; the concatenation of all
// outputs plus finish() equals Tokenizer::decode of the whole sequence (same lossy rule
// for invalid bytes).
#pragma once

#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace qwen3::text {

class IncrementalDetokenizer {
 public:
  IncrementalDetokenizer(const Tokenizer& tokenizer, bool skip_special_tokens)
      : tokenizer_(tokenizer), skip_special_(skip_special_tokens) {}

  // Text completed by this token (possibly empty while a character is split across tokens).
  std::string push(int32_t id);
  // Flushes bytes still held (an incomplete character at the end becomes U+FFFD).
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_;
  std::string pending_;  // bytes of a character not yet complete (< 4)
};

}  // namespace qwen3::text
