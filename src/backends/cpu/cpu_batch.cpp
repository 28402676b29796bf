#include "backends/cpu/cpu_batch.h"

#include <algorithm>
#include <limits>
#include <new>

#include "core/error.h"

namespace qwen3::cpu {

int64_t PagedKvPool::bytes_per_block(const ModelConfig& config, int64_t block_size) {
  return config.kv_cache_bytes_per_token(DType::kF32) * block_size;
}

PagedKvPool::PagedKvPool(const ModelConfig& config, int64_t num_blocks, int64_t block_size)
    : num_blocks_(num_blocks), block_size_(block_size), kv_dim_(config.kv_dim()) {
  if (num_blocks < 1 || block_size < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "the KV pool needs at least one block of at least one token, got {} blocks of {}",
                num_blocks, block_size);
  }
  // K and V of each block are bytes_per_block / 2 bytes of float32 each.
  const int64_t per_block = bytes_per_block(config, block_size);
  const int64_t max_blocks = std::numeric_limits<int64_t>::max() / std::max<int64_t>(per_block, 1);
  if (num_blocks <= max_blocks) {
    const auto floats = static_cast<size_t>(num_blocks * (per_block / 8));
    k_.reset(new (std::nothrow) float[floats]);
    v_.reset(new (std::nothrow) float[floats]);
  }
  if (!k_ || !v_) {
    const double mib = static_cast<double>(num_blocks) * static_cast<double>(per_block) / 1048576;
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "cannot allocate the KV cache pool: {} blocks of {} tokens = {:.0f} MiB; lower "
                "--kv-cache-memory or --num-gpu-blocks-override",
                num_blocks, block_size, mib);
  }
}

namespace {

void check_slice(const SeqSlice& s, size_t index, int64_t next_row, int64_t rows,
                 const PagedKvPool& pool) {
  if (s.token_offset != next_row || s.num_tokens < 1 || s.token_offset + s.num_tokens > rows ||
      s.start_pos < 0) {
    QWEN3_THROW(ErrorCode::kInternal,
                "batch sequence {}: rows [{}, +{}) at start position {} do not follow row {} of {}",
                index, s.token_offset, s.num_tokens, s.start_pos, next_row, rows);
  }
  const int64_t need = (s.start_pos + s.num_tokens + pool.block_size() - 1) / pool.block_size();
  if (static_cast<int64_t>(s.block_table.size()) < need) {
    QWEN3_THROW(ErrorCode::kInternal,
                "batch sequence {}: its block table has {} blocks, {} tokens need {} of {} tokens",
                index, s.block_table.size(), s.start_pos + s.num_tokens, need, pool.block_size());
  }
  for (int64_t b = 0; b < need; ++b) {
    if (s.block_table[b] < 0 || s.block_table[b] >= pool.num_blocks()) {
      QWEN3_THROW(ErrorCode::kInternal,
                  "batch sequence {}: block table entry {} is {}, outside the pool [0, {})", index,
                  b, s.block_table[b], pool.num_blocks());
    }
  }
}

}  // namespace

BatchPlan plan_batch(const BatchMeta& meta, const PagedKvPool& pool, int64_t vocab_size) {
  const auto rows = static_cast<int64_t>(meta.tokens.size());
  BatchPlan plan;
  plan.window = meta.window;
  plan.row_pos.reserve(meta.tokens.size());
  plan.row_table.reserve(meta.tokens.size());
  for (size_t i = 0; i < meta.seqs.size(); ++i) {
    const SeqSlice& s = meta.seqs[i];
    check_slice(s, i, plan.rows(), rows, pool);
    for (int64_t t = 0; t < s.num_tokens; ++t) {
      const int32_t token = meta.tokens[s.token_offset + t];
      if (token < 0 || token >= vocab_size) {
        QWEN3_THROW(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})",
                    token, vocab_size);
      }
      plan.row_pos.push_back(s.start_pos + t);
      plan.row_table.push_back(s.block_table);
    }
    plan.max_context = std::max(plan.max_context, s.start_pos + s.num_tokens);
  }
  if (plan.rows() != rows) {
    QWEN3_THROW(ErrorCode::kInternal, "batch sequences cover {} of its {} tokens", plan.rows(),
                rows);
  }
  return plan;
}

void write_kv(PagedKvPool& pool, int64_t layer, const BatchPlan& plan, const float* k,
              const float* v) {
  const int64_t bs = pool.block_size();
  const int64_t kv_dim = pool.kv_dim();
  for (int64_t r = 0; r < plan.rows(); ++r) {
    const int64_t pos = plan.row_pos[r];
    const int32_t block = plan.row_table[r][pos / bs];
    std::copy_n(k + r * kv_dim, kv_dim, pool.k(layer, block, pos % bs));
    std::copy_n(v + r * kv_dim, kv_dim, pool.v(layer, block, pos % bs));
  }
}

}  // namespace qwen3::cpu
