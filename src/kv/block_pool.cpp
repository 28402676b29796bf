#include "kv/block_pool.h"

#include <algorithm>

#include "core/error.h"

namespace qwen3 {

BlockPool::BlockPool(int64_t num_blocks, int64_t block_size) : block_size_(block_size) {
  if (num_blocks < 2 || block_size < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "the KV pool needs at least 2 blocks of at least 1 token, got {} x {}", num_blocks,
                block_size);
  }
  meta_.resize(static_cast<size_t>(num_blocks));
  tokens_.resize(static_cast<size_t>(num_blocks * block_size));
  meta_[0].refs = 1;  // the null block is permanently in use
  for (int32_t id = 1; id < num_blocks; ++id) push_tail(id);
}

double BlockPool::usage() const {
  return static_cast<double>(num_usable() - num_free_) / static_cast<double>(num_usable());
}

void BlockPool::unlink(int32_t id) {
  Meta& m = meta_[id];
  if (m.prev >= 0)
    meta_[m.prev].next = m.next;
  else
    head_ = m.next;
  if (m.next >= 0)
    meta_[m.next].prev = m.prev;
  else
    tail_ = m.prev;
  m.prev = m.next = -1;
  --num_free_;
}

void BlockPool::push_tail(int32_t id) {
  Meta& m = meta_[id];
  m.prev = tail_;
  m.next = -1;
  if (tail_ >= 0)
    meta_[tail_].next = id;
  else
    head_ = id;
  tail_ = id;
  ++num_free_;
}

void BlockPool::evict(int32_t id) {
  Meta& m = meta_[id];
  if (m.cached) {
    auto it = index_.find(m.hash);
    if (it != index_.end() && it->second == id) index_.erase(it);
    m.cached = false;
  }
  ++m.gen;  // children recorded against the old content no longer match
}

bool BlockPool::allocate(int64_t n, std::vector<int32_t>& out) {
  if (n > num_free_) return false;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = head_;
    unlink(id);
    evict(id);
    meta_[id].refs = 1;
    out.push_back(id);
  }
  return true;
}

void BlockPool::release(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    Meta& m = meta_[id];
    QWEN3_CHECK(id > 0 && m.refs > 0);
    if (--m.refs == 0) {
      if (!m.cached) ++m.gen;  // uncached content is garbage from now on
      push_tail(id);
    }
  }
}

void BlockPool::acquire(std::span<const int32_t> ids) {
  for (int32_t id : ids) {
    Meta& m = meta_[id];
    QWEN3_CHECK(id > 0);
    if (m.refs++ == 0) unlink(id);
  }
}

std::optional<int32_t> BlockPool::lookup(BlockHash hash, int32_t parent,
                                         std::span<const int32_t> tokens) const {
  const auto it = index_.find(hash);
  if (it == index_.end()) return std::nullopt;
  const int32_t id = it->second;
  const Meta& m = meta_[id];
  if (m.parent != parent || m.parent_gen != meta_[parent].gen ||
      static_cast<int64_t>(tokens.size()) != block_size_ ||
      !std::equal(tokens.begin(), tokens.end(), tokens_.begin() + id * block_size_)) {
    return std::nullopt;
  }
  return id;
}

void BlockPool::insert(int32_t id, BlockHash hash, int32_t parent,
                       std::span<const int32_t> tokens) {
  Meta& m = meta_[id];
  QWEN3_CHECK(id > 0 && m.refs > 0 && static_cast<int64_t>(tokens.size()) == block_size_);
  if (m.cached || index_.contains(hash)) return;
  m.cached = true;
  m.hash = hash;
  m.parent = parent;
  m.parent_gen = meta_[parent].gen;
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + id * block_size_);
  index_.emplace(hash, id);
}

void BlockPool::clear_cache() {
  for (int32_t id = 1; id < num_blocks(); ++id) {
    if (meta_[id].cached) evict(id);
  }
}

void BlockPool::check_integrity() const {
  int64_t listed = 0;
  int32_t prev = -1;
  for (int32_t id = head_; id >= 0; id = meta_[id].next) {
    QWEN3_CHECK(id > 0 && id < num_blocks());
    QWEN3_CHECK(meta_[id].refs == 0 && meta_[id].prev == prev);
    prev = id;
    QWEN3_CHECK(++listed <= num_blocks());
  }
  QWEN3_CHECK(prev == tail_ && listed == num_free_);
  int64_t referenced = 0, cached = 0;
  for (int32_t id = 1; id < num_blocks(); ++id) {
    const Meta& m = meta_[id];
    QWEN3_CHECK(m.refs >= 0);
    if (m.refs > 0) ++referenced;
    if (m.refs > 0) QWEN3_CHECK(m.prev == -1 && m.next == -1 && head_ != id);
    if (m.cached) {
      ++cached;
      const auto it = index_.find(m.hash);
      QWEN3_CHECK(it != index_.end() && it->second == id);
    }
  }
  QWEN3_CHECK(referenced + num_free_ == num_usable());
  QWEN3_CHECK(cached == static_cast<int64_t>(index_.size()));
}

}  // namespace qwen3
