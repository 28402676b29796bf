// The pool of KV blocks: a flat array of block metadata with an index-linked free list
// (vLLM's free-block queue) and the prefix-cache index over full blocks.
//
// - Block 0 is the reserved null block: never handed out, parent of every first block.
// - A free block may still hold a cached prefix block; it stays findable until it is
//   handed out again. Allocation takes the head of the free list (least recently freed),
//   freeing appends at the tail: eviction is LRU.
// - A cached block records its tokens and its parent block (id + generation), so a
//   lookup is verified exactly: a 64-bit hash collision is a miss, never wrong KV.
// All operations are O(blocks touched); check_integrity() is O(pool) and for tests.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"

namespace qwen3 {

class BlockPool {
 public:
  BlockPool(int64_t num_blocks, int64_t block_size);

  int64_t num_blocks() const { return static_cast<int64_t>(meta_.size()); }
  int64_t block_size() const { return block_size_; }
  int64_t num_usable() const { return num_blocks() - 1; }  // all but the null block
  int64_t num_free() const { return num_free_; }           // includes cached, unreferenced
  int64_t num_cached() const { return static_cast<int64_t>(index_.size()); }
  int64_t ref_count(int32_t id) const { return meta_[id].refs; }
  double usage() const;  // referenced blocks / usable blocks

  // Takes n blocks (refs = 1), evicting cached prefixes they held. Returns false and
  // changes nothing when fewer than n are free.
  bool allocate(int64_t n, std::vector<int32_t>& out);
  // Drops one reference of each block, in order; blocks reaching 0 join the free tail.
  void release(std::span<const int32_t> ids);
  // Adds one reference to each (cached) block, taking it off the free list if needed.
  void acquire(std::span<const int32_t> ids);

  // The cached full block with these tokens whose parent is `parent` (0 = none).
  std::optional<int32_t> lookup(BlockHash hash, int32_t parent,
                                std::span<const int32_t> tokens) const;
  // Registers full block `id` (referenced) under `hash`; a no-op if an equal block is
  // already indexed (the pool then holds two copies until this one is evicted).
  void insert(int32_t id, BlockHash hash, int32_t parent, std::span<const int32_t> tokens);
  void clear_cache();  // forget all cached prefixes (blocks in use stay allocated)

  void check_integrity() const;  // throws kInternal on any broken invariant

 private:
  struct Meta {
    int32_t prev = -1, next = -1;  // free-list links (-1: not on the list)
    int32_t refs = 0;
    bool cached = false;  // indexed in index_
    BlockHash hash = 0;
    int32_t parent = 0;  // parent block id and its generation at insert time
    uint32_t parent_gen = 0;
    uint32_t gen = 0;  // bumped whenever the block's content is forgotten
  };
  void unlink(int32_t id);
  void push_tail(int32_t id);
  void evict(int32_t id);

  int64_t block_size_;
  std::vector<Meta> meta_;
  std::vector<int32_t> tokens_;  // [num_blocks][block_size], valid when cached
  int32_t head_ = -1, tail_ = -1;
  int64_t num_free_ = 0;
  std::unordered_map<BlockHash, int32_t> index_;
};

}  // namespace qwen3
