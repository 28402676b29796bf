#include "backends/cuda/cuda_kv_pool.h"

#include "core/error.h"

namespace qwen3::cuda {

int64_t CudaKvPool::bytes_per_block(const ModelConfig& c, int64_t block_size, KvDtype dtype) {
  return 2 * c.num_hidden_layers * c.kv_dim() * kv_dtype_size(dtype) * block_size;
}

CudaKvPool::CudaKvPool(const ModelConfig& c, int64_t num_blocks, int64_t block_size, KvDtype dtype)
    : num_blocks_(num_blocks), block_size_(block_size), dtype_(dtype) {
  if (num_blocks < 1 || block_size < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "the KV pool needs at least one block of at least one token, got {} blocks of {}",
                num_blocks, block_size);
  }
  layer_bytes_ = num_blocks * block_size * c.kv_dim() * kv_dtype_size(dtype);
  const auto bytes = static_cast<size_t>(layer_bytes_ * c.num_hidden_layers);
  const char* what = "the KV cache pool; lower --kv-cache-memory or --num-gpu-blocks-override";
  k_ = DeviceBuffer(bytes, what);
  v_ = DeviceBuffer(bytes, what);
}

}  // namespace qwen3::cuda
