#include "kv/kv_cache_manager.h"

#include <algorithm>
#include <iterator>

#include "core/error.h"

namespace qwen3 {

KvCacheManager::KvCacheManager(int64_t num_blocks, int64_t block_size, bool enable_prefix_caching,
                               AttentionWindow window)
    : pool_(num_blocks, block_size), caching_(enable_prefix_caching), window_(window) {}

int64_t kv_tokens_held(int64_t len, int64_t chunk, int64_t block_size, const AttentionWindow& w) {
  if (!w.on()) return len;
  auto blocks = [&](int64_t tokens) { return (tokens + block_size - 1) / block_size; };
  return std::min(len, (blocks(w.sinks) + blocks(w.window + chunk) + 2) * block_size);
}

PrefixHit KvCacheManager::find_prefix(std::span<const int32_t> tokens) const {
  PrefixHit hit;
  if (!caching_) return hit;
  const int64_t bs = pool_.block_size();
  const int64_t max_blocks = (static_cast<int64_t>(tokens.size()) - 1) / bs;
  BlockHash parent_hash = kNoParentHash;
  int32_t parent = 0;
  for (int64_t b = 0; b < max_blocks; ++b) {
    const auto block_tokens = tokens.subspan(static_cast<size_t>(b * bs), static_cast<size_t>(bs));
    parent_hash = hash_block(parent_hash, block_tokens);
    const auto id = pool_.lookup(parent_hash, parent, block_tokens);
    if (!id) break;
    hit.blocks.push_back(*id);
    hit.hashes.push_back(parent_hash);
    parent = *id;
  }
  return hit;
}

bool KvCacheManager::allocate(uint64_t seq, const PrefixHit* hit, int64_t num_computed,
                              int64_t num_new) {
  auto it = seqs_.find(seq);
  const bool fresh = it == seqs_.end() || it->second.blocks.empty();
  const int64_t have = fresh ? 0 : static_cast<int64_t>(it->second.blocks.size());
  // The hit's table: with a window, its blocks out of sight of the queries from
  // num_computed on are not taken (null entries, as commit() would leave them), so a hit
  // longer than the pool still fits.
  std::vector<int32_t> hit_blocks = fresh && hit != nullptr ? hit->blocks : std::vector<int32_t>{};
  const auto hit_n = static_cast<int64_t>(hit_blocks.size());
  int64_t hit_released_to = 0;
  if (window_.on() && hit_n > 0) {
    hit_released_to = unseen_end(num_computed, hit_n, hit_n);
    for (int64_t b = blocks_for(window_.sinks); b < hit_released_to; ++b) hit_blocks[b] = 0;
  }
  const int64_t need = std::max<int64_t>(0, blocks_for(num_computed + num_new) - have - hit_n);
  // Hit blocks sitting unreferenced on the free list stop being free once acquired.
  int64_t hit_free = 0;
  for (int32_t id : hit_blocks) hit_free += id != 0 && pool_.ref_count(id) == 0;
  if (need + hit_free > pool_.num_free()) return false;

  SeqBlocks& s = seqs_[seq];
  if (hit_n > 0) {
    std::vector<int32_t> taken;
    std::copy_if(hit_blocks.begin(), hit_blocks.end(), std::back_inserter(taken),
                 [](int32_t id) { return id != 0; });
    pool_.acquire(taken);
    s.blocks = std::move(hit_blocks);
    s.released_to = hit_released_to;
    if (caching_) s.hashes = hit->hashes;
  }
  QWEN3_CHECK(pool_.allocate(need, s.blocks));
  return true;
}

int64_t KvCacheManager::unseen_end(int64_t num_computed, int64_t blocks, int64_t indexed) const {
  // Queries at p >= num_computed see no key at sinks <= j <= num_computed - window, so
  // block b (past the sink blocks) is unseen once (b + 1) * bs <= num_computed - window + 1.
  const int64_t last_unseen = num_computed - window_.window;  // a position, may be < 0
  if (last_unseen < 0) return 0;
  int64_t end = std::min((last_unseen + 1) / pool_.block_size(), blocks);
  if (caching_) end = std::min(end, indexed - 1);  // the last indexed block: the next's parent
  return std::max<int64_t>(end, 0);
}

void KvCacheManager::commit(uint64_t seq, std::span<const int32_t> tokens, int64_t num_computed) {
  SeqBlocks& s = seqs_.at(seq);
  if (caching_) index_full_blocks(s, tokens, num_computed);
  if (window_.on()) release_unseen(s, num_computed);
}

void KvCacheManager::release_unseen(SeqBlocks& s, int64_t num_computed) {
  const int64_t end = unseen_end(num_computed, static_cast<int64_t>(s.blocks.size()),
                                 static_cast<int64_t>(s.hashes.size()));
  for (int64_t b = std::max(s.released_to, blocks_for(window_.sinks)); b < end; ++b) {
    if (s.blocks[b] == 0) continue;
    pool_.release(std::span<const int32_t>(&s.blocks[b], 1));
    s.blocks[b] = 0;
  }
  s.released_to = std::max(s.released_to, end);
}

void KvCacheManager::index_full_blocks(SeqBlocks& s, std::span<const int32_t> tokens,
                                       int64_t num_computed) {
  const int64_t bs = pool_.block_size();
  const int64_t full = std::min<int64_t>(num_computed / bs, static_cast<int64_t>(s.blocks.size()));
  for (auto b = static_cast<int64_t>(s.hashes.size()); b < full; ++b) {
    const auto block_tokens = tokens.subspan(static_cast<size_t>(b * bs), static_cast<size_t>(bs));
    const BlockHash parent_hash = b == 0 ? kNoParentHash : s.hashes[b - 1];
    const BlockHash h = hash_block(parent_hash, block_tokens);
    pool_.insert(s.blocks[b], h, b == 0 ? 0 : s.blocks[b - 1], block_tokens);
    s.hashes.push_back(h);
  }
}

void KvCacheManager::free(uint64_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  std::vector<int32_t>& blocks = it->second.blocks;
  std::erase(blocks, 0);  // entries a window released
  std::reverse(blocks.begin(), blocks.end());
  pool_.release(blocks);
  seqs_.erase(it);
}

const std::vector<int32_t>& KvCacheManager::block_table(uint64_t seq) const {
  return seqs_.at(seq).blocks;
}

}  // namespace qwen3
