#include "tokenizer/bpe.h"

#include <algorithm>
#include <array>
#include <queue>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace qwen3::text {
namespace {

// GPT-2's alphabet: printable Latin-1 bytes stand for themselves, the others map to
// U+0100 + n in byte order.
const std::array<char32_t, 256>& byte_alphabet() {
  static const auto table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      t[b] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

constexpr size_t kSmallWord = 24;  // below this, rescanning beats a heap

}  // namespace

char32_t byte_to_unicode(uint8_t b) { return byte_alphabet()[b]; }

bool unicode_to_bytes(std::string_view mapped, std::string& out) {
  static const auto inverse = [] {
    std::array<int16_t, 512> inv;
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[byte_alphabet()[b]] = static_cast<int16_t>(b);
    return inv;
  }();
  out.clear();
  for (size_t i = 0; i < mapped.size();) {
    char32_t cp;
    size_t bad = 0;
    const size_t n = decode_utf8(mapped, i, &cp, &bad);
    if (n == 0 || cp >= inverse.size() || inverse[cp] < 0) return false;
    out.push_back(static_cast<char>(inverse[cp]));
    i += n;
  }
  return true;
}

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   const std::string& label)
    : vocab_(std::move(vocab)) {
  for (int b = 0; b < 256; ++b) {
    const auto it = vocab_.find(std::string(1, static_cast<char>(b)));
    if (it == vocab_.end()) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: byte-level vocabulary lacks the token for byte {}",
                  label, b);
    }
    byte_ids_[b] = it->second;
  }
  merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const auto ia = vocab_.find(a), ib = vocab_.find(b), im = vocab_.find(a + b);
    if (ia == vocab_.end() || ib == vocab_.end() || im == vocab_.end()) {
      QWEN3_THROW(ErrorCode::kInvalidModel,
                  "{}: merge {} refers to a token missing from the vocabulary", label, r);
    }
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) |
                         static_cast<uint32_t>(ib->second);
    merges_.emplace(key, Merge{static_cast<int32_t>(r), im->second});  // first (lowest) rank wins
  }
}

void BpeModel::merge_small(std::vector<int32_t>& s) const {
  while (s.size() > 1) {
    int32_t best_rank = INT32_MAX;
    size_t best = 0;
    int32_t merged = 0;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      const Merge* m = find_merge(s[i], s[i + 1]);
      if (m != nullptr && m->rank < best_rank) {
        best_rank = m->rank;
        best = i;
        merged = m->merged;
      }
    }
    if (best_rank == INT32_MAX) return;
    s[best] = merged;
    s.erase(s.begin() + static_cast<ptrdiff_t>(best) + 1);
  }
}

void BpeModel::merge_large(std::vector<int32_t>& s) const {
  // Doubly linked symbols; heap of candidate pairs (rank, left position), validated on pop.
  const size_t n = s.size();
  std::vector<int32_t> prev(n), next(n);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Cand {
    int32_t rank;
    int32_t pos;
    int32_t left;  // symbol ids at push time, to detect stale entries
    int32_t right;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto push = [&](int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    if (const Merge* m = find_merge(s[pos], s[next[pos]]))
      heap.push({m->rank, pos, s[pos], s[next[pos]]});
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  std::vector<bool> dead(n, false);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int32_t r = next[c.pos];
    if (dead[c.pos] || r < 0 || s[c.pos] != c.left || s[r] != c.right) continue;
    s[c.pos] = find_merge(c.left, c.right)->merged;
    dead[r] = true;
    next[c.pos] = next[r];
    if (next[r] >= 0) prev[next[r]] = c.pos;
    push(prev[c.pos]);
    push(c.pos);
  }
  std::vector<int32_t> out;
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(s[i]);
  s.swap(out);
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  std::vector<int32_t> symbols(word.size());
  for (size_t i = 0; i < word.size(); ++i) symbols[i] = byte_ids_[static_cast<uint8_t>(word[i])];
  if (symbols.size() < kSmallWord)
    merge_small(symbols);
  else
    merge_large(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

}  // namespace qwen3::text
