#include "backends/cpu/cpu_attention.h"

#include <cmath>
#include <limits>
#include <new>

#include "core/error.h"

namespace qwen3::cpu {

KvCache::KvCache(const ModelConfig& config, int64_t capacity_tokens)
    : capacity_(capacity_tokens), kv_dim_(config.kv_dim()) {
  const size_t n = static_cast<size_t>(config.num_hidden_layers * capacity_ * kv_dim_);
  try {
    k_.assign(n, 0.0f);
    v_.assign(n, 0.0f);
  } catch (const std::bad_alloc&) {
    QWEN3_THROW(ErrorCode::kOutOfMemory,
                "cannot allocate a KV cache of {} tokens ({} MiB); lower --max-model-len",
                capacity_tokens, 2 * n * 4 >> 20);
  }
}

void attention(const float* q, const KvCache& cache, int64_t layer, int64_t start, int64_t tokens,
               const AttentionShape& s, float* out) {
  const int64_t group = s.heads / s.kv_heads;
  const int64_t q_stride = s.heads * s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
#pragma omp parallel
  {
    std::vector<float> scores(static_cast<size_t>(start + tokens));
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t pos = start + t;
        const int64_t kvh = h / group;
        const float* qv = q + t * q_stride + h * s.head_dim;
        float max_score = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j <= pos; ++j) {
          const float* kv = cache.k(layer, j) + kvh * s.head_dim;
          float d = 0.0f;
#pragma omp simd reduction(+ : d)
          for (int64_t i = 0; i < s.head_dim; ++i) d += qv[i] * kv[i];
          scores[j] = d * scale;
          max_score = std::max(max_score, scores[j]);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j <= pos; ++j) {
          scores[j] = std::exp(scores[j] - max_score);
          sum += scores[j];
        }
        const float inv = 1.0f / sum;
        float* o = out + t * q_stride + h * s.head_dim;
        for (int64_t i = 0; i < s.head_dim; ++i) o[i] = 0.0f;
        for (int64_t j = 0; j <= pos; ++j) {
          const float p = scores[j] * inv;
          const float* vv = cache.v(layer, j) + kvh * s.head_dim;
#pragma omp simd
          for (int64_t i = 0; i < s.head_dim; ++i) o[i] += p * vv[i];
        }
      }
    }
  }
}

}  // namespace qwen3::cpu
