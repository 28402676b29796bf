// Fused attention prologue: per-head RMSNorm of q and k (q_norm / k_norm), rotate-half
// RoPE at each row's position, q to its own buffer and k, v into the paged KV pool.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kv_dtype.h"

namespace qwen3::cuda {

struct QkNormRopeKvParams {
  const float* qkv;         // [rows, (heads + 2 * kv_heads) * head_dim]: q | k | v
  const float* q_norm;      // [head_dim]
  const float* k_norm;      // [head_dim]
  const float* inv_freq;    // [head_dim / 2]
  float attention_scaling;  // YaRN's factor on cos and sin (1 otherwise)
  const int32_t* row_pos;   // [rows] position of each row in its sequence
  const int64_t* row_slot;  // [rows] block * block_size + offset in the pool
  float* q_out;             // [rows, heads * head_dim]
  void* k_pool;             // this layer's K: [num_blocks * block_size, kv_heads * head_dim]
  void* v_pool;             // same for V
  KvDtype kv_dtype;
  int64_t rows;
  int heads;
  int kv_heads;
  int head_dim;  // even, <= 256
  float eps;
  // FP8 pool only (ignored otherwise): this layer's scales, one device float each
  // (CudaKvPool::k_scale / v_scale); stored = round_to_e4m3(x / scale). nullptr: 1.
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
};
void launch_qk_norm_rope_kv(const QkNormRopeKvParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
