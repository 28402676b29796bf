// Contiguous per-sequence KV cache and causal GQA attention for the CPU backend.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace qwen3::cpu {

// K and V of one sequence, float32, layout [layer][position][kv_heads * head_dim].
class KvCache {
 public:
  KvCache(const ModelConfig& config, int64_t capacity_tokens);

  int64_t capacity() const { return capacity_; }
  int64_t length() const { return length_; }
  void set_length(int64_t n) { length_ = n; }
  float* k(int64_t layer, int64_t pos) { return k_.data() + offset(layer, pos); }
  float* v(int64_t layer, int64_t pos) { return v_.data() + offset(layer, pos); }
  const float* k(int64_t layer, int64_t pos) const { return k_.data() + offset(layer, pos); }
  const float* v(int64_t layer, int64_t pos) const { return v_.data() + offset(layer, pos); }

 private:
  size_t offset(int64_t layer, int64_t pos) const {
    return static_cast<size_t>((layer * capacity_ + pos) * kv_dim_);
  }
  int64_t capacity_;
  int64_t kv_dim_;
  int64_t length_ = 0;
  std::vector<float> k_;
  std::vector<float> v_;
};

struct AttentionShape {
  int64_t heads;
  int64_t kv_heads;
  int64_t head_dim;
};

// For query rows at positions start .. start+tokens-1, attends causally over cache
// positions [0, position]. q: [tokens, heads * head_dim]; out: same shape.
void attention(const float* q, const KvCache& cache, int64_t layer, int64_t start, int64_t tokens,
               const AttentionShape& shape, float* out);

}  // namespace qwen3::cpu
