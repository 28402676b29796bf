// Qwen3 weights on the GPU, uploaded from the checkpoint's memory map through pinned
// staging buffers (the copy of one chunk overlaps the host read of the next). Matrices
// are BF16, or FP8 as stored (one byte per weight) with their block scales expanded per
// row (DeviceMatrix). q/k/v are stored concatenated (one product) and gate/up
// interleaved row by row (one product whose GEMV epilogue applies SiLU(gate) * up).
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/linear.h"
#include "model/weights.h"

namespace qwen3::cuda {

struct CudaLayerWeights {
  DeviceMatrix qkv;      // [(heads + 2 * kv_heads) * head_dim, hidden]: q | k | v rows
  DeviceMatrix o;        // [hidden, heads * head_dim]
  DeviceMatrix gate_up;  // [2 * intermediate, hidden]: rows gate_0, up_0, gate_1, up_1, ...
  DeviceMatrix down;     // [hidden, intermediate]
  const float* input_norm = nullptr;      // [hidden]
  const float* post_attn_norm = nullptr;  // [hidden]
  const float* q_norm = nullptr;          // [head_dim]
  const float* k_norm = nullptr;          // [head_dim]
};

class CudaWeights {
 public:
  // Throws kOutOfMemory when the weights do not fit.
  CudaWeights(const Qwen3Weights& weights, cudaStream_t stream);

  const ModelConfig& config() const { return config_; }
  DeviceMatrix embed() const { return embed_; }      // [vocab, hidden]
  DeviceMatrix lm_head() const { return lm_head_; }  // [vocab, hidden]; embed when tied
  const float* final_norm() const { return final_norm_; }
  const float* inv_freq() const { return inv_freq_; }  // [head_dim / 2], RoPE
  float rope_attention_scaling() const { return rope_scaling_; }
  const std::vector<CudaLayerWeights>& layers() const { return layers_; }
  size_t bytes() const { return storage_.bytes(); }
  // Weights of the largest FP8 matrix (0 for a BF16 model): the BF16 scratch the
  // many-row path dequantizes into (LinearContext::reserve_dequant).
  size_t largest_fp8_matrix() const;

 private:
  ModelConfig config_;
  DeviceBuffer storage_;  // every tensor, one allocation
  DeviceMatrix embed_;
  DeviceMatrix lm_head_;
  const float* final_norm_ = nullptr;
  const float* inv_freq_ = nullptr;
  float rope_scaling_ = 1.0f;
  std::vector<CudaLayerWeights> layers_;
};

}  // namespace qwen3::cuda
