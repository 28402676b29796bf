// The Qwen3 decoder on the CPU backend: the reference forward and the embedded path.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "backends/cpu/cpu_attention.h"
#include "model/rope.h"
#include "model/weights.h"

namespace qwen3::cpu {

// Called with each named intermediate (rows x cols float32, row per token) so tools
// can diff every layer against HF transformers. layer = -1 outside the decoder stack.
using TraceFn = std::function<void(std::string_view name, int64_t layer, const float* data,
                                   int64_t rows, int64_t cols)>;

enum class LogitsMode { kLast, kAll };

class CpuModel {
 public:
  explicit CpuModel(const Qwen3Weights& weights);

  const ModelConfig& config() const { return weights_.config(); }

  // Runs `tokens` at positions cache.length() .. +tokens.size(), appends their K/V to
  // the cache and returns logits: [1, vocab] (kLast) or [tokens, vocab] (kAll).
  std::vector<float> forward(std::span<const int32_t> tokens, KvCache& cache, LogitsMode mode,
                             const TraceFn& trace = nullptr) const;

 private:
  // cos/sin: [tokens, head_dim / 2] for the new positions, computed once per forward.
  void attention_block(const LayerWeights& l, int64_t layer, const float* x, int64_t tokens,
                       const float* cos, const float* sin, KvCache& cache, float* out,
                       const TraceFn& trace) const;
  void mlp_block(const LayerWeights& l, int64_t layer, const float* x, int64_t tokens, float* out,
                 const TraceFn& trace) const;

  const Qwen3Weights& weights_;
  RopeTable rope_;
};

}  // namespace qwen3::cpu
