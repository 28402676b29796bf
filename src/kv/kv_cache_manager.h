// Per-sequence block tables over a BlockPool, with prefix caching: the scheduler asks
// for slots, this class finds cached prefix blocks, allocates new ones, registers
// blocks as they fill, and returns them when a sequence ends or is preempted.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "sched/batch.h"

namespace qwen3 {

// The longest cached prefix of a sequence: whole blocks, never the last token (it must
// run to produce logits).
struct PrefixHit {
  std::vector<int32_t> blocks;
  std::vector<BlockHash> hashes;  // of each block's prefix
  int64_t num_blocks() const { return static_cast<int64_t>(blocks.size()); }
};

// Most KV tokens one sequence of `len` tokens holds at once when each step adds at most
// `chunk` of them: len, or with an attention window its sink blocks, the window and a
// chunk, and two blocks of slack (partial blocks at both ends of the window; the last
// indexed block kept as its successor's parent).
int64_t kv_tokens_held(int64_t len, int64_t chunk, int64_t block_size, const AttentionWindow& w);

class KvCacheManager {
 public:
  // With an attention window, commit() releases the blocks no later query sees.
  KvCacheManager(int64_t num_blocks, int64_t block_size, bool enable_prefix_caching,
                 AttentionWindow window = {});

  int64_t block_size() const { return pool_.block_size(); }
  int64_t capacity_tokens() const { return pool_.num_usable() * pool_.block_size(); }
  int64_t blocks_for(int64_t tokens) const {
    return (tokens + pool_.block_size() - 1) / pool_.block_size();
  }
  const BlockPool& pool() const { return pool_; }

  // For a sequence with no blocks: its cached prefix (empty when caching is off).
  PrefixHit find_prefix(std::span<const int32_t> tokens) const;
  // Makes `seq` hold KV slots for num_computed + num_new tokens. A sequence without
  // blocks first takes `hit` (from find_prefix, may be null). Returns false, changing
  // nothing, when the pool cannot supply the blocks.
  bool allocate(uint64_t seq, const PrefixHit* hit, int64_t num_computed, int64_t num_new);
  // The sequence's KV now holds tokens[0, num_computed): index its newly full blocks. With
  // an attention window, then release every block outside the sinks whose positions no
  // query at num_computed or later sees (its table entry becomes the null block 0); the
  // last indexed block stays until the next one is indexed (it is that block's parent).
  void commit(uint64_t seq, std::span<const int32_t> tokens, int64_t num_computed);
  // Returns the sequence's blocks, last block first (evicted first: least shareable).
  void free(uint64_t seq);
  int64_t tokens_held(int64_t len, int64_t chunk) const {
    return kv_tokens_held(len, chunk, pool_.block_size(), window_);
  }
  const std::vector<int32_t>& block_table(uint64_t seq) const;
  bool has(uint64_t seq) const { return seqs_.contains(seq); }
  void reset_prefix_cache() { pool_.clear_cache(); }

  // Prompt tokens looked up / found, for the prefix-cache hit rate.
  int64_t prefix_queries() const { return queries_; }
  int64_t prefix_hits() const { return hits_; }
  void record_lookup(int64_t queried, int64_t hit) {
    queries_ += queried;
    hits_ += hit;
  }

 private:
  struct SeqBlocks {
    std::vector<int32_t> blocks;
    std::vector<BlockHash> hashes;  // of blocks[0, hashes.size()), the indexed prefix
    int64_t released_to = 0;        // window: blocks [sink blocks, released_to) are released
  };
  void index_full_blocks(SeqBlocks& s, std::span<const int32_t> tokens, int64_t num_computed);
  // Window: blocks [sink blocks, unseen_end) of a table of `blocks` blocks, `indexed` of
  // them indexed, are out of sight of every query at num_computed or later.
  int64_t unseen_end(int64_t num_computed, int64_t blocks, int64_t indexed) const;
  void release_unseen(SeqBlocks& s, int64_t num_computed);

  BlockPool pool_;
  bool caching_;
  AttentionWindow window_;
  std::unordered_map<uint64_t, SeqBlocks> seqs_;
  int64_t queries_ = 0;
  int64_t hits_ = 0;
};

}  // namespace qwen3
