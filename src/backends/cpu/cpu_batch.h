// Paged KV storage and the batched forward description of the CPU backend.
//
// A batch is several sequences, each a prefill chunk or one decode token, run as one
// forward: their tokens are concatenated into rows, every matmul takes all rows, and
// attention reads each sequence's K/V through its block table (vLLM's paged layout).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/config.h"
#include "sched/batch.h"

namespace qwen3::cpu {

// K and V of all sequences, float32, in fixed-size blocks:
// [layer][block][block_size][kv_heads * head_dim]. Block b of a sequence's block table
// holds its positions b * block_size .. b * block_size + block_size - 1.
class PagedKvPool {
 public:
  // Throws kOutOfMemory (naming --kv-cache-memory / --num-gpu-blocks-override) when
  // the pool cannot be allocated, kInvalidArgument for a count or size < 1.
  PagedKvPool(const ModelConfig& config, int64_t num_blocks, int64_t block_size);

  // K and V of every layer for block_size tokens.
  static int64_t bytes_per_block(const ModelConfig& config, int64_t block_size);
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t kv_dim() const { return kv_dim_; }
  float* k(int64_t layer, int64_t block, int64_t slot) {
    return k_.get() + offset(layer, block, slot);
  }
  float* v(int64_t layer, int64_t block, int64_t slot) {
    return v_.get() + offset(layer, block, slot);
  }
  const float* k(int64_t layer, int64_t block, int64_t slot) const {
    return k_.get() + offset(layer, block, slot);
  }
  const float* v(int64_t layer, int64_t block, int64_t slot) const {
    return v_.get() + offset(layer, block, slot);
  }

 private:
  size_t offset(int64_t layer, int64_t block, int64_t slot) const {
    return static_cast<size_t>(((layer * num_blocks_ + block) * block_size_ + slot) * kv_dim_);
  }
  int64_t num_blocks_;
  int64_t block_size_;
  int64_t kv_dim_;
  std::unique_ptr<float[]> k_;  // uninitialised: pages are touched only when written
  std::unique_ptr<float[]> v_;
};

// One sequence's rows in a batched forward.
struct SeqSlice {
  int64_t token_offset = 0;  // first row of this sequence in BatchMeta::tokens
  int64_t num_tokens = 0;
  int64_t start_pos = 0;                 // its tokens already in the pool
  std::span<const int32_t> block_table;  // covers [0, start_pos + num_tokens)
  bool want_logits = false;              // logits of its last row
};

struct BatchMeta {
  std::span<const int32_t> tokens;  // all sequences' new tokens, concatenated
  std::vector<SeqSlice> seqs;
  AttentionWindow window;  // on: block-table entries of unseen positions may be null
};

// The per-row view of a BatchMeta, computed once per forward (plan, then run): RoPE,
// K/V writes and attention of every layer read it instead of walking the sequences.
struct BatchPlan {
  std::vector<int64_t> row_pos;                     // [rows] position in its sequence
  std::vector<std::span<const int32_t>> row_table;  // [rows] its sequence's block table
  int64_t max_context = 0;                          // max over rows of row_pos + 1
  AttentionWindow window;                           // BatchMeta::window
  int64_t rows() const { return static_cast<int64_t>(row_pos.size()); }
};

// Checks `meta` against the pool (kInternal: slices must tile the tokens, block tables
// cover start_pos + num_tokens with ids in range: a scheduler bug otherwise) and the
// vocabulary (kInvalidArgument: a bad token id is a bad request), then plans the rows.
BatchPlan plan_batch(const BatchMeta& meta, const PagedKvPool& pool, int64_t vocab_size);

// Writes rows' K and V ([rows, kv_dim] each) of `layer` at their positions in the pool.
void write_kv(PagedKvPool& pool, int64_t layer, const BatchPlan& plan, const float* k,
              const float* v);

}  // namespace qwen3::cpu
