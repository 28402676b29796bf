// The paged KV cache on the GPU: K and V of every layer in fixed-size blocks,
// [layer][block][block_size][kv_heads * head_dim], BF16 or float32. Block b of a
// sequence's block table holds its positions b * block_size .. + block_size - 1.
#pragma once

#include <cstdint>

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

 private:
  int64_t num_blocks_;
  int64_t block_size_;
  KvDtype dtype_;
  int64_t layer_bytes_;
  DeviceBuffer k_;
  DeviceBuffer v_;
};

}  // namespace qwen3::cuda
