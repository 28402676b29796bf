// Causal GQA attention over the paged KV pool, and the one-sequence KV cache of the
// single-sequence forward (a pool of one block, so both paths share one decoder).
#pragma once

#include <cstdint>
#include <span>

#include "backends/cpu/cpu_batch.h"
#include "model/config.h"

namespace qwen3::cpu {

// K and V of one sequence, float32, layout [layer][position][kv_heads * head_dim]: a
// PagedKvPool of one block of `capacity` tokens, whose block table is {0}.
class KvCache {
 public:
  // Throws kOutOfMemory (naming --max-model-len) when it cannot be allocated.
  KvCache(const ModelConfig& config, int64_t capacity_tokens);

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }
  float* k(int64_t layer, int64_t pos) { return pool_.k(layer, 0, pos); }
  float* v(int64_t layer, int64_t pos) { return pool_.v(layer, 0, pos); }
  const float* k(int64_t layer, int64_t pos) const { return pool_.k(layer, 0, pos); }
  const float* v(int64_t layer, int64_t pos) const { return pool_.v(layer, 0, pos); }

  PagedKvPool& pool() { return pool_; }
  std::span<const int32_t> block_table() const { return {&kBlockTable, 1}; }

 private:
  static constexpr int32_t kBlockTable = 0;
  int64_t capacity_;
  int64_t length_ = 0;
  PagedKvPool pool_;
};

struct AttentionShape {
  int64_t heads;
  int64_t kv_heads;
  int64_t head_dim;
};

// Each batch row r attends causally over its sequence's positions [0, plan.row_pos[r]]
// (with plan.window: those it sees, AttentionWindow::sees), read from the pool through
// plan.row_table[r]; unseen positions are not read. q: [rows, heads * head_dim]; out: same.
// Every (row, head) is computed on its own, in a fixed order over positions, so the
// result does not depend on the batch or on how the prompt was chunked.
void paged_attention(const float* q, const PagedKvPool& pool, int64_t layer, const BatchPlan& plan,
                     const AttentionShape& shape, float* out);

}  // namespace qwen3::cpu
