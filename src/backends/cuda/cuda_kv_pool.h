// The paged KV cache on the GPU: K and V of every layer in fixed-size blocks,
// [layer][block][block_size][kv_heads * head_dim], BF16, float32 or FP8 E4M3 (with a
// float scale per layer for K and for V, kv_dtype.h). Block b of a sequence's block
// table holds its positions b * block_size .. + block_size - 1.
#pragma once

#include <cstdint>
#include <span>

#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kv_dtype.h"
#include "model/config.h"

namespace qwen3::cuda {

class CudaKvPool {
 public:
  // Throws kOutOfMemory (naming --kv-cache-memory / --num-gpu-blocks-override).
  CudaKvPool(const ModelConfig& config, int64_t num_blocks, int64_t block_size, KvDtype dtype);

  static int64_t bytes_per_block(const ModelConfig& config, int64_t block_size, KvDtype dtype);
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  KvDtype dtype() const { return dtype_; }
  // This layer's K / V: [num_blocks * block_size, kv_dim] elements of dtype().
  void* k(int64_t layer) const { return k_.as<uint8_t>() + layer * layer_bytes_; }
  void* v(int64_t layer) const { return v_.as<uint8_t>() + layer * layer_bytes_; }
  // This layer's K / V scale: one device float each (1.0 until set_scales), read by the
  // kernels of an FP8 pool (ignored for BF16 / float32). Device memory, so that a
  // captured CUDA graph sees calibrated scales set later.
  const float* k_scale(int64_t layer) const { return scales_.as<float>() + layer; }
  const float* v_scale(int64_t layer) const { return scales_.as<float>() + num_layers_ + layer; }
  // k, v: [layers] positive finite scales (calibrated, e.g. from a checkpoint's
  // k_scale / v_scale). Synchronous; the pool's contents written with the old scales
  // are not converted. Throws kInvalidArgument on a wrong size or a bad value.
  void set_scales(std::span<const float> k, std::span<const float> v);

 private:
  int64_t num_blocks_;
  int64_t block_size_;
  KvDtype dtype_;
  int64_t num_layers_;
  int64_t layer_bytes_;
  DeviceBuffer k_;
  DeviceBuffer v_;
  DeviceBuffer scales_;  // [2, layers] float: k scales, then v scales
};

}  // namespace qwen3::cuda
