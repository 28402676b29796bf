// The Qwen3 tokenizer, read from a model folder's tokenizer.json (no tables compiled in):
// added tokens matched first (leftmost-longest), NFC on the text between them, the Qwen
// Split pre-tokenizer, byte-level BPE. Decoding maps ids back to bytes and decodes UTF-8
// lossily (U+FFFD per invalid sequence), as HF `tokenizers` does.
//
// Input text that is not valid UTF-8 is first made valid by the same lossy rule; that is
// the documented behaviour for bad input (the server rejects such JSON earlier).
//
// Thread-safe: encode/decode are const; the word cache is sharded and locked.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/bpe.h"

namespace qwen3::text {

class PieceCache;  // tokenizer/piece_cache.h: this thread's BPE results

struct AddedToken {
  int32_t id;
  std::string content;
  bool special;  // skipped by decode(skip_special_tokens=true)
};

class Tokenizer {
 public:
  // DIR/tokenizer.json (+ DIR/tokenizer_config.json for special token names if present).
  static std::unique_ptr<Tokenizer> load(const std::string& model_dir);
  static std::unique_ptr<Tokenizer> from_json_file(const std::string& tokenizer_json_path);

  // `parse_special`: recognise added tokens written in the text (HF's default).
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Ids past the tokenizer's vocabulary (a model's embedding is often padded beyond it,
  // 151,936 rows for 151,669 tokens in Qwen3) have no text: decode skips them, as HF
  // `tokenizers` does. Negative ids are an error.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special_tokens = false) const;

  // Raw bytes of one token (may be a partial UTF-8 character); throws outside [0, vocab).
  const std::string& token_bytes(int32_t id) const;
  bool beyond_vocab(int32_t id) const;  // id >= vocab_size(): padding rows of the model
  bool is_special(int32_t id) const;
  std::optional<int32_t> token_id(std::string_view content) const;  // added or vocab token
  int32_t vocab_size() const { return static_cast<int32_t>(id_to_bytes_.size()); }
  const std::vector<AddedToken>& added_tokens() const { return added_; }

 private:
  Tokenizer() = default;
  void encode_text(std::string_view text, std::vector<int32_t>& out) const;  // no added tokens
  void encode_piece(std::string_view piece, PieceCache& cache, std::vector<int32_t>& out) const;

  std::unique_ptr<BpeModel> bpe_;
  std::vector<std::string> id_to_bytes_;
  std::vector<bool> special_;
  std::vector<AddedToken> added_;
  struct ViewHash {  // lets string_view look-ups skip building a std::string
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, int32_t, ViewHash, std::equal_to<>> added_by_content_;
  std::array<bool, 256> added_first_byte_{};
  size_t added_max_len_ = 0;
  bool nfc_ = false;

  // Pieces are cached per thread (tokenizer/piece_cache.h): no locks, so batch encoding
  // scales with threads.
  uint64_t instance_id_ = 0;  // keys the thread-local caches
};

}  // namespace qwen3::text
