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

// Calls f(i, s, n, block): the n keys at slots s .. s + n - 1 of `block` are the visible
// keys i .. i + n - 1, block by block in ascending position order.
template <typename F>
void for_each_key_run(const KeyRanges& kr, std::span<const int32_t> table, int64_t bs, F&& f) {
  int64_t i = 0;
  for (int r = 0; r < kr.n; ++r) {
    for (int64_t j = kr.lo[r]; j < kr.hi[r];) {
      const int64_t s = j % bs, n = std::min(bs - s, kr.hi[r] - j);
      f(i, s, n, table[j / bs]);
      i += n;
      j += n;
    }
  }
}

// One query vector against the positions it sees of a sequence's pages (all of
// [0, pos] without a window): scaled scores, softmax, then the weighted sum of V, each
// over positions in ascending order. scores: scratch of pos + 1 floats.
void attend(const float* qv, const PagedKvPool& pool, int64_t layer, std::span<const int32_t> table,
            int64_t pos, const AttentionWindow& window, int64_t kv_offset, int64_t head_dim,
            float* scores, float* o) {
  const int64_t bs = pool.block_size();
  const int64_t kv_dim = pool.kv_dim();
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  const KeyRanges kr = visible_keys(pos, window);
  float max_score = -std::numeric_limits<float>::infinity();
  int64_t count = 0;
  for_each_key_run(kr, table, bs, [&](int64_t i, int64_t s0, int64_t n, int32_t block) {
    const float* kb = pool.k(layer, block, s0) + kv_offset;
    for (int64_t s = 0; s < n; ++s) {
      scores[i + s] = dot(kb + s * kv_dim, qv, head_dim) * scale;
      max_score = std::max(max_score, scores[i + s]);
    }
    count = i + n;
  });
  float sum = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  std::fill_n(o, head_dim, 0.0f);
  for_each_key_run(kr, table, bs, [&](int64_t i, int64_t s0, int64_t n, int32_t block) {
    const float* vb = pool.v(layer, block, s0) + kv_offset;
    for (int64_t s = 0; s < n; ++s) {
      const float p = scores[i + s] * inv;
      const float* vv = vb + s * kv_dim;
#pragma omp simd
      for (int64_t d = 0; d < head_dim; ++d) o[d] += p * vv[d];
    }
  });
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
        attend(q + offset, pool, layer, plan.row_table[r], plan.row_pos[r], plan.window,
               (h / group) * s.head_dim, s.head_dim, scores.data(), out + offset);
      }
    }
  }
}

}  // namespace qwen3::cpu
