// Qwen3 weights resolved from a checkpoint: names checked, shapes checked, dtypes
// checked, FP8 block scales attached. Matrix data stays in the memory-mapped shards;
// only norms and scales are copied (to float32).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace qwen3 {

// A row-major matrix [rows, cols] in its checkpoint dtype. For FP8, each
// block_out x block_in tile has one float scale: value = fp8 * scale_inv[tile].
struct WeightMatrix {
  std::string name;
  DType dtype = DType::kBF16;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  std::vector<float> scale_inv;  // [ceil(rows/block_out), ceil(cols/block_in)], FP8 only
  int64_t block_out = 0;
  int64_t block_in = 0;

  bool is_fp8() const { return dtype_is_fp8(dtype); }
  int64_t scale_cols() const { return (cols + block_in - 1) / block_in; }
  // Writes row r dequantized to float32 (cols values).
  void row_to_f32(int64_t r, float* out) const;
};

struct LayerWeights {
  std::vector<float> input_norm;      // [hidden]
  std::vector<float> post_attn_norm;  // [hidden]
  std::vector<float> q_norm;          // [head_dim]
  std::vector<float> k_norm;          // [head_dim]
  WeightMatrix q_proj;                // [heads * head_dim, hidden]
  WeightMatrix k_proj;                // [kv_heads * head_dim, hidden]
  WeightMatrix v_proj;                // [kv_heads * head_dim, hidden]
  WeightMatrix o_proj;                // [hidden, heads * head_dim]
  WeightMatrix gate_proj;             // [intermediate, hidden]
  WeightMatrix up_proj;               // [intermediate, hidden]
  WeightMatrix down_proj;             // [hidden, intermediate]
};

class Qwen3Weights {
 public:
  // Loads DIR/config.json and the safetensors of DIR. Throws Error naming file + tensor.
  static std::unique_ptr<Qwen3Weights> load(const std::string& model_dir);
  // Weights assembled from parts, e.g. one tensor-parallel rank's slices
  // (parallel/tensor_parallel.h): the matrices point into another Qwen3Weights' shards,
  // which must outlive these, or into `owned`. No checkpoint of their own.
  static std::unique_ptr<Qwen3Weights> from_parts(ModelConfig config, WeightMatrix embed,
                                                  WeightMatrix lm_head,
                                                  std::vector<float> final_norm,
                                                  std::vector<LayerWeights> layers,
                                                  std::vector<std::vector<uint8_t>> owned);

  const ModelConfig& config() const { return config_; }
  const Checkpoint& checkpoint() const;  // load() only: from_parts has none (kInternal)
  const WeightMatrix& embed() const { return embed_; }      // [vocab, hidden]
  const WeightMatrix& lm_head() const { return lm_head_; }  // [vocab, hidden]; embed when tied
  const std::vector<float>& final_norm() const { return final_norm_; }
  const std::vector<LayerWeights>& layers() const { return layers_; }
  // Bytes of matrix data a forward pass streams per token (all linears + lm_head).
  size_t matrix_bytes() const;

 private:
  ModelConfig config_;
  std::unique_ptr<Checkpoint> checkpoint_;
  WeightMatrix embed_;
  WeightMatrix lm_head_;
  std::vector<float> final_norm_;
  std::vector<LayerWeights> layers_;
  std::vector<std::vector<uint8_t>> owned_;  // from_parts: matrix bytes copied for this view
};

}  // namespace qwen3
