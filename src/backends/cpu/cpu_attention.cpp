#include "backends/cpu/cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "backends/cpu/cpu_simd.h"
#include "core/error.h"

namespace qwen3::cpu {
namespace {

PagedKvPool make_one_block_pool(const ModelConfig& config, int64_t capacity_tokens) {
  try {
    return PagedKvPool(config, 1, std::max<int64_t>(capacity_tokens, 1));
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kOutOfMemory) throw;
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "cannot allocate a KV cache of {} tokens ({} MiB); lower --max-model-len",
                capacity_tokens, PagedKvPool::bytes_per_block(config, capacity_tokens) >> 20);
  }
}

// One query vector against positions [0, pos] of a sequence's pages: scaled scores,
// softmax, then the weighted sum of V, each over positions in ascending order.
// scores: scratch of pos + 1 floats.
void attend(const float* qv, const PagedKvPool& pool, int64_t layer, std::span<const int32_t> table,
            int64_t pos, int64_t kv_offset, int64_t head_dim, float* scores, float* o) {
  const int64_t bs = pool.block_size();
  const int64_t kv_dim = pool.kv_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  float max_score = -std::numeric_limits<float>::infinity();
  for (int64_t j0 = 0, b = 0; j0 <= pos; j0 += bs, ++b) {
    const float* kb = pool.k(layer, table[b], 0) + kv_offset;
    const int64_t n = std::min(bs, pos + 1 - j0);
    for (int64_t s = 0; s < n; ++s) {
      scores[j0 + s] = dot(kb + s * kv_dim, qv, head_dim) * scale;
      max_score = std::max(max_score, scores[j0 + s]);
    }
  }
  float sum = 0.0f;
  for (int64_t j = 0; j <= pos; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  std::fill_n(o, head_dim, 0.0f);
  for (int64_t j0 = 0, b = 0; j0 <= pos; j0 += bs, ++b) {
    const float* vb = pool.v(layer, table[b], 0) + kv_offset;
    const int64_t n = std::min(bs, pos + 1 - j0);
    for (int64_t s = 0; s < n; ++s) {
      const float p = scores[j0 + s] * inv;
      const float* vv = vb + s * kv_dim;
#pragma omp simd
      for (int64_t i = 0; i < head_dim; ++i) o[i] += p * vv[i];
    }
  }
}

}  // namespace

KvCache::KvCache(const ModelConfig& config, int64_t capacity_tokens)
    : capacity_(capacity_tokens), pool_(make_one_block_pool(config, capacity_tokens)) {}

void paged_attention(const float* q, const PagedKvPool& pool, int64_t layer, const BatchPlan& plan,
                     const AttentionShape& s, float* out) {
  const int64_t group = s.heads / s.kv_heads;
  const int64_t q_stride = s.heads * s.head_dim;
  const int64_t rows = plan.rows();
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(plan.max_context));
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t offset = r * q_stride + h * s.head_dim;
        attend(q + offset, pool, layer, plan.row_table[r], plan.row_pos[r],
               (h / group) * s.head_dim, s.head_dim, scores.data(), out + offset);
      }
    }
  }
}

}  // namespace qwen3::cpu
