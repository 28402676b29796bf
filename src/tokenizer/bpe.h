// Byte-level BPE merges (the model part of a tokenizer.json with "type": "BPE").
//
// Tokens are kept as raw bytes (the GPT-2 byte-to-unicode alphabet of tokenizer.json is
// undone at load), so encoding needs no per-character mapping. A word is merged by
// lowest rank first, leftmost among equal ranks, exactly as HF `tokenizers` does:
// O(n^2) scan for short words, O(n log n) with a heap for long ones (a 1 MB run of one
// character stays fast).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qwen3::text {

class BpeModel {
 public:
  // vocab: raw-byte token -> id. merges: pairs of raw-byte tokens, in rank order.
  BpeModel(std::unordered_map<std::string, int32_t> vocab,
           const std::vector<std::pair<std::string, std::string>>& merges,
           const std::string& label);

  // Appends the ids of one pre-tokenized piece (raw bytes).
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  const std::unordered_map<std::string, int32_t>& vocab() const { return vocab_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  const Merge* find_merge(int32_t left, int32_t right) const {
    const auto it = merges_.find((static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
                                 static_cast<uint32_t>(right));
    return it == merges_.end() ? nullptr : &it->second;
  }
  void merge_small(std::vector<int32_t>& symbols) const;
  void merge_large(std::vector<int32_t>& symbols) const;

  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t byte_ids_[256];
};

// tokenizer.json's byte-level alphabet: the code point standing for each byte.
char32_t byte_to_unicode(uint8_t b);
// Inverse mapping of a vocab string to raw bytes; false if a character is outside the alphabet.
bool unicode_to_bytes(std::string_view mapped, std::string& out);

}  // namespace qwen3::text
