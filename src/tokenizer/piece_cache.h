// Per-thread cache of BPE results: piece bytes -> token ids.
//
// Open addressing over a power-of-two table (linear probing, no per-entry allocation);
// keys and ids live in two arenas. When half full, everything is dropped at once: the
// working set of a text is small, and a reset is cheaper than LRU bookkeeping on the
// hot path. Not thread-safe by design: one instance per thread.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace qwen3::text {

class PieceCache {
 public:
  static constexpr size_t kMaxKey = 64;  // longer pieces are not cached

  PieceCache() : slots_(kSlots) {}

  // Appends the cached ids of `piece` to `out` and returns true, or returns false.
  bool lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>& out) const {
    for (size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      const Slot& s = slots_[i];
      if (s.key_len == 0) return false;
      if (s.hash == hash && s.key_len == piece.size() &&
          std::memcmp(keys_.data() + s.key_offset, piece.data(), piece.size()) == 0) {
        out.insert(out.end(), ids_.begin() + s.ids_offset, ids_.begin() + s.ids_offset + s.ids_len);
        return true;
      }
    }
  }

  void insert(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n) {
    if (piece.empty() || piece.size() > kMaxKey || n > UINT16_MAX) return;
    if (used_ * 2 >= kSlots) clear();
    size_t i = hash & (kSlots - 1);
    while (slots_[i].key_len != 0) i = (i + 1) & (kSlots - 1);
    slots_[i] = Slot{hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(ids_.size()),
                     static_cast<uint16_t>(piece.size()), static_cast<uint16_t>(n)};
    keys_.append(piece);
    ids_.insert(ids_.end(), ids, ids + n);
    ++used_;
  }

  static uint64_t hash(std::string_view piece) { return XXH3_64bits(piece.data(), piece.size()); }

 private:
  static constexpr size_t kSlots = size_t{1} << 17;
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0;
    uint32_t ids_offset = 0;
    uint16_t key_len = 0;  // 0: empty slot
    uint16_t ids_len = 0;
  };

  void clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    keys_.clear();
    ids_.clear();
    used_ = 0;
  }

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t used_ = 0;
};

}  // namespace qwen3::text
