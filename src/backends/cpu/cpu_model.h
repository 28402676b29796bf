// The Qwen3 decoder on the CPU backend: the reference forward and the embedded path.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

#include "backends/cpu/cpu_attention.h"
#include "backends/cpu/cpu_batch.h"
#include "model/rope.h"
#include "model/weights.h"

namespace qwen3::cpu {

// Called with each named intermediate (rows x cols float32, row per token) so tools
// can diff every layer against HF transformers. layer = -1 outside the decoder stack.
using TraceFn = std::function<void(std::string_view name, int64_t layer, const float* data,
                                   int64_t rows, int64_t cols)>;

enum class LogitsMode { kLast, kAll };

// Tensor parallelism (parallel/tensor_parallel.h): sums `count` floats at `data` over the
// ranks, in place, on every rank (called with the o_proj and down_proj outputs).
using AllReduceFn = std::function<void(float* data, int64_t count)>;

class CpuModel {
 public:
  // `weights` may be one tensor-parallel rank's slices; then `all_reduce` joins the ranks.
  explicit CpuModel(const Qwen3Weights& weights, AllReduceFn all_reduce = nullptr);

  const ModelConfig& config() const { return weights_.config(); }

  // Runs `tokens` at positions cache.length() .. +tokens.size(), appends their K/V to
  // the cache and returns logits: [1, vocab] (kLast) or [tokens, vocab] (kAll).
  // A one-sequence batch: the same bits as that sequence in any forward_batch (with the
  // same attention window; the cache keeps every position).
  std::vector<float> forward(std::span<const int32_t> tokens, KvCache& cache, LogitsMode mode,
                             const TraceFn& trace = nullptr,
                             const AttentionWindow& window = {}) const;

  // One scheduler step: every sequence's rows through each matmul together, K/V written
  // into the pool through each block table, attention per (row, head) over the row's
  // positions [0, pos]. Returns logits [sequences with want_logits, vocab], in order.
  // Batch-invariant: a row's logits do not depend on the other rows, nor on how its
  // sequence's earlier tokens were chunked.
  std::vector<float> forward_batch(const BatchMeta& meta, PagedKvPool& pool,
                                   const TraceFn& trace = nullptr) const;

 private:
  // The decoder over planned rows; returns the logits of rows `logits_rows` (ascending).
  std::vector<float> run(std::span<const int32_t> tokens, const BatchPlan& plan, PagedKvPool& pool,
                         std::span<const int64_t> logits_rows, const TraceFn& trace) const;
  // cos/sin: [rows, head_dim / 2] at each row's position, computed once per forward.
  void attention_block(const LayerWeights& l, int64_t layer, const float* x, const BatchPlan& plan,
                       const float* cos, const float* sin, PagedKvPool& pool, float* out,
                       const TraceFn& trace) const;
  void mlp_block(const LayerWeights& l, int64_t layer, const float* x, int64_t tokens, float* out,
                 const TraceFn& trace) const;
  // Final norm and LM head over the rows `logits_rows` of the residual stream h.
  std::vector<float> logits(const float* h, std::span<const int64_t> logits_rows,
                            const TraceFn& trace) const;

  const Qwen3Weights& weights_;
  RopeTable rope_;
  AllReduceFn all_reduce_;
};

}  // namespace qwen3::cpu
