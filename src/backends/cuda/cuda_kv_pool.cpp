#include "backends/cuda/cuda_kv_pool.h"

#include <cmath>
#include <vector>

#include "backends/cuda/cuda_check.h"
#include "core/error.h"

namespace qwen3::cuda {

int64_t CudaKvPool::bytes_per_block(const ModelConfig& c, int64_t block_size, KvDtype dtype) {
  return 2 * c.num_hidden_layers * c.kv_dim() * kv_dtype_size(dtype) * block_size;
}

CudaKvPool::CudaKvPool(const ModelConfig& c, int64_t num_blocks, int64_t block_size, KvDtype dtype)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      dtype_(dtype),
      num_layers_(c.num_hidden_layers) {
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
  // The null block 0 of every layer holds zeros: kernels read its first slot for positions
  // past a range's end and weight them 0, which needs finite values (0 * NaN is NaN), and
  // cudaMalloc promises no contents.
  // (One memset per layer: a layer can span more than cudaMemset2D's largest pitch.)
  const auto block_bytes = static_cast<size_t>(block_size * c.kv_dim() * kv_dtype_size(dtype));
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    QWEN3_CUDA_CHECK(cudaMemset(k(layer), 0, block_bytes));
    QWEN3_CUDA_CHECK(cudaMemset(v(layer), 0, block_bytes));
  }
  // Done before any kernel of the runner's own (non-blocking) stream can read them.
  QWEN3_CUDA_CHECK(cudaDeviceSynchronize());
  scales_ = DeviceBuffer(static_cast<size_t>(2 * num_layers_) * sizeof(float), "KV cache scales");
  const std::vector<float> ones(static_cast<size_t>(num_layers_), 1.0f);
  set_scales(ones, ones);
}

void CudaKvPool::set_scales(std::span<const float> k, std::span<const float> v) {
  const auto n = static_cast<size_t>(num_layers_);
  if (k.size() != n || v.size() != n) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "KV scales: {} layers, got {} k and {} v scales", n,
                k.size(), v.size());
  }
  std::vector<float> h(k.begin(), k.end());
  h.insert(h.end(), v.begin(), v.end());
  for (const float s : h) {
    if (!(s > 0.0f) || !std::isfinite(s)) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "KV scale {} is not a positive finite number", s);
    }
  }
  QWEN3_CUDA_CHECK(
      cudaMemcpy(scales_.get(), h.data(), h.size() * sizeof(float), cudaMemcpyHostToDevice));
}

}  // namespace qwen3::cuda
