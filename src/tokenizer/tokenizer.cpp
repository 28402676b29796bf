#include "tokenizer/tokenizer.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/piece_cache.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace qwen3::text {
namespace {

using nlohmann::json;

std::atomic<uint64_t> g_next_instance{1};  // Tokenizer::instance_id_

// Checks that tokenizer.json describes the pipeline this class implements; anything else
// is refused by name rather than tokenized differently.
void check_pipeline(const json& root, const std::string& label, bool* nfc) {
  auto fail = [&](const std::string& what) {
    QWEN3_THROW(ErrorCode::kUnsupported, "{}: unsupported tokenizer: {}", label, what);
  };
  const json& model = root.value("model", json::object());
  if (model.value("type", "") != "BPE") fail("model.type must be BPE");
  if (model.value("byte_fallback", false)) fail("byte_fallback BPE");
  if (model.value("ignore_merges", false)) fail("ignore_merges BPE");
  const json& norm = root.value("normalizer", json());
  *nfc = false;
  if (norm.is_object()) {
    if (norm.value("type", "") != "NFC") fail("normalizer " + norm.dump());
    *nfc = true;
  } else if (!norm.is_null()) {
    fail("normalizer " + norm.dump());
  }
  const json& pre = root.value("pre_tokenizer", json());
  bool split_ok = false, byte_level_ok = false;
  if (pre.is_object() && pre.value("type", "") == "Sequence") {
    for (const auto& p : pre.value("pretokenizers", json::array())) {
      if (p.value("type", "") == "Split") {
        const json& pat = p.value("pattern", json::object());
        split_ok = pat.value("Regex", "") == kQwenSplitPattern &&
                   p.value("behavior", "") == "Isolated" && !p.value("invert", false);
      } else if (p.value("type", "") == "ByteLevel") {
        byte_level_ok = !p.value("add_prefix_space", false) && !p.value("use_regex", true);
      } else {
        fail("pre-tokenizer " + p.dump());
      }
    }
  }
  if (!split_ok || !byte_level_ok) fail("pre_tokenizer is not the Qwen Split + ByteLevel sequence");
  const json& dec = root.value("decoder", json());
  if (!dec.is_object() || dec.value("type", "") != "ByteLevel") fail("decoder must be ByteLevel");
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& model_dir) {
  return from_json_file((std::filesystem::path(model_dir) / "tokenizer.json").string());
}

std::unique_ptr<Tokenizer> Tokenizer::from_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    QWEN3_THROW(ErrorCode::kIo, "{}: cannot open (the model folder needs tokenizer.json)", path);
  const json root = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded() || !root.is_object())
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: not valid JSON", path);
  auto t = std::unique_ptr<Tokenizer>(new Tokenizer());
  t->instance_id_ = g_next_instance.fetch_add(1);
  check_pipeline(root, path, &t->nfc_);

  const json& model = root.at("model");
  std::unordered_map<std::string, int32_t> vocab;
  std::string bytes;
  int32_t max_id = -1;
  for (const auto& [token, id] : model.at("vocab").items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: vocab entry '{}' has a bad id", path, token);
    }
    if (!unicode_to_bytes(token, bytes)) {
      QWEN3_THROW(ErrorCode::kInvalidModel,
                  "{}: vocab entry '{}' is outside the byte-level alphabet", path, token);
    }
    vocab[bytes] = id.get<int32_t>();
    max_id = std::max(max_id, id.get<int32_t>());
  }
  std::vector<std::pair<std::string, std::string>> merges;
  for (const auto& m : model.at("merges")) {
    std::string a, b, left, right;
    if (m.is_array() && m.size() == 2) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else if (m.is_string()) {  // older "a b" spelling
      const std::string s = m.get<std::string>();
      const size_t sp = s.find(' ');
      if (sp == std::string::npos)
        QWEN3_THROW(ErrorCode::kInvalidModel, "{}: malformed merge '{}'", path, s);
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: malformed merge {}", path, m.dump());
    }
    if (!unicode_to_bytes(a, left) || !unicode_to_bytes(b, right)) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: merge '{} {}' is outside the byte-level alphabet",
                  path, a, b);
    }
    merges.emplace_back(left, right);
  }

  for (const auto& a : root.value("added_tokens", json::array())) {
    AddedToken tok{a.at("id").get<int32_t>(), a.at("content").get<std::string>(),
                   a.value("special", false)};
    if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false) ||
        a.value("normalized", false) || tok.content.empty()) {
      QWEN3_THROW(ErrorCode::kUnsupported,
                  "{}: added token '{}' uses lstrip/rstrip/single_word/normalized", path,
                  tok.content);
    }
    max_id = std::max(max_id, tok.id);
    t->added_by_content_[tok.content] = tok.id;
    t->added_first_byte_[static_cast<uint8_t>(tok.content[0])] = true;
    t->added_max_len_ = std::max(t->added_max_len_, tok.content.size());
    t->added_.push_back(std::move(tok));
  }
  t->id_to_bytes_.assign(static_cast<size_t>(max_id) + 1, std::string());
  t->special_.assign(t->id_to_bytes_.size(), false);
  for (const auto& [b, id] : vocab) t->id_to_bytes_[id] = b;
  for (const auto& a : t->added_) {
    t->id_to_bytes_[a.id] = a.content;
    t->special_[a.id] = a.special;
  }
  t->bpe_ = std::make_unique<BpeModel>(std::move(vocab), merges, path);
  return t;
}

namespace {

// One cache per (thread, tokenizer instance).
PieceCache& thread_cache(uint64_t instance) {
  thread_local std::unordered_map<uint64_t, PieceCache> caches;
  return caches[instance];
}

}  // namespace

void Tokenizer::encode_piece(std::string_view piece, PieceCache& cache,
                             std::vector<int32_t>& out) const {
  if (piece.size() > PieceCache::kMaxKey) return bpe_->encode_word(piece, out);
  const uint64_t h = PieceCache::hash(piece);
  if (cache.lookup(piece, h, out)) return;
  const size_t start = out.size();
  bpe_->encode_word(piece, out);
  cache.insert(piece, h, out.data() + start, out.size() - start);
}

void Tokenizer::encode_text(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string normalized;
  if (nfc_ && !is_nfc_fast(text)) {
    normalized = nfc(text);
    text = normalized;
  }
  thread_local std::vector<Span> pieces;
  pieces.clear();
  pretokenize(text, pieces);
  PieceCache& cache = thread_cache(instance_id_);
  for (const Span& p : pieces) encode_piece(text.substr(p.begin, p.end - p.begin), cache, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view input, bool parse_special) const {
  std::string sanitized;
  if (!is_valid_utf8(input)) sanitized = sanitize_utf8(input);
  const std::string_view text = sanitized.empty() ? input : std::string_view(sanitized);
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 1);
  size_t start = 0;
  if (parse_special && !added_.empty()) {
    // Leftmost-longest match of added tokens; the text between them goes through BPE.
    for (size_t i = 0; i < text.size();) {
      if (!added_first_byte_[static_cast<uint8_t>(text[i])]) {
        ++i;
        continue;
      }
      size_t best_len = 0;
      int32_t best_id = -1;
      for (size_t len = std::min(added_max_len_, text.size() - i); len > 0; --len) {
        const auto it = added_by_content_.find(text.substr(i, len));
        if (it != added_by_content_.end()) {
          best_len = len;
          best_id = it->second;
          break;
        }
      }
      if (best_len == 0) {
        ++i;
        continue;
      }
      encode_text(text.substr(start, i - start), out);
      out.push_back(best_id);
      i += best_len;
      start = i;
    }
  }
  encode_text(text.substr(start), out);
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if ((skip_special_tokens && is_special(id)) || beyond_vocab(id)) continue;
    bytes += token_bytes(id);
  }
  return sanitize_utf8(bytes);
}

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_bytes_.size()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})", id,
                id_to_bytes_.size());
  }
  return id_to_bytes_[id];
}

bool Tokenizer::beyond_vocab(int32_t id) const {
  return static_cast<size_t>(id) >= id_to_bytes_.size() && id >= 0;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < special_.size() && special_[id];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view content) const {
  if (const auto it = added_by_content_.find(content); it != added_by_content_.end())
    return it->second;
  const auto& v = bpe_->vocab();
  if (const auto it = v.find(std::string(content)); it != v.end()) return it->second;
  return std::nullopt;
}

}  // namespace qwen3::text
