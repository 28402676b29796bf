#include "tokenizer/detokenizer.h"

#include "tokenizer/utf8.h"

namespace qwen3::text {

std::string IncrementalDetokenizer::push(int32_t id) {
  if ((skip_special_ && tokenizer_.is_special(id)) || tokenizer_.beyond_vocab(id)) return {};
  pending_ += tokenizer_.token_bytes(id);
  std::string out;
  const size_t used = append_utf8_lossy(pending_, out, /*final=*/false);
  pending_.erase(0, used);
  return out;
}

std::string IncrementalDetokenizer::finish() {
  std::string out;
  append_utf8_lossy(pending_, out, /*final=*/true);
  pending_.clear();
  return out;
}

}  // namespace qwen3::text
