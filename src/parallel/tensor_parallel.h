// Tensor parallelism (issue 10): how N ranks of one host split the Qwen3 decoder,
// Megatron-style, and each rank's weights.
//   * Attention: rank r takes a contiguous 1/N of the query heads and the KV heads they
//     read: a 1/N slice of the KV heads when N divides them, else (N > KV heads, N a
//     multiple of them) the one KV head of its query heads, replicated as vLLM does.
//     q/k/v_proj are split by rows (output features), o_proj by columns.
//   * MLP: gate/up_proj rows and down_proj columns in N contiguous parts.
//   * Embedding, norms and lm_head are replicated.
//   * Two all-reduces (sum) per layer, on the o_proj and down_proj outputs before each
//     residual add; the residual stream and the logits are then the same on every rank.
// Block-scaled FP8 matrices split only at scale-block boundaries (as vLLM requires).
// A rank's weights are a Qwen3Weights over its slices, so a backend runs them unchanged
// given the all-reduce (CpuModel's AllReduceFn on the CPU; NCCL on CUDA, to come).
#pragma once

#include <memory>

#include "model/config.h"
#include "model/weights.h"

namespace qwen3 {

struct TpShard {
  int rank = 0;
  int size = 1;
  int64_t q_head_begin = 0, q_heads = 0;    // query heads [begin, begin + q_heads)
  int64_t kv_head_begin = 0, kv_heads = 0;  // KV heads held (replicated when N > KV heads)
  int64_t inter_begin = 0, inter = 0;       // MLP intermediate features
};

// Rank `rank` of `size`. Throws kInvalidArgument naming --tensor-parallel-size when the
// heads, KV heads or intermediate size do not split `size` ways.
TpShard tp_shard(const ModelConfig& config, int rank, int size);

// The config a rank's decoder sees: its heads, KV heads and intermediate size.
ModelConfig tp_rank_config(const ModelConfig& config, const TpShard& shard);

// Rank `shard`'s weights: row slices point into `full` (which must outlive them), column
// slices are copied. Throws kInvalidArgument naming the tensor when an FP8 matrix would
// be cut inside a scale block.
std::unique_ptr<Qwen3Weights> tp_shard_weights(const Qwen3Weights& full, const TpShard& shard);

}  // namespace qwen3
