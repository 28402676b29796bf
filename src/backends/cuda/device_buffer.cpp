#include "backends/cuda/device_buffer.h"

#include "core/error.h"

namespace qwen3::cuda {

void* device_alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t e = cudaMalloc(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    QWEN3_THROW(e == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kInternal,
                "cannot allocate {:.1f} MiB of GPU memory for {} ({:.0f} of {:.0f} MiB free): {}",
                bytes / 1048576.0, what, free_b / 1048576.0, total_b / 1048576.0,
                cudaGetErrorString(e));
  }
  return p;
}

void* pinned_alloc(size_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t e = cudaMallocHost(&p, bytes);
  if (e != cudaSuccess) {
    cudaGetLastError();
    QWEN3_THROW(ErrorCode::kOutOfMemory, "cannot allocate {:.1f} MiB of pinned host memory for {}: {}",
                bytes / 1048576.0, what, cudaGetErrorString(e));
  }
  return p;
}

}  // namespace qwen3::cuda
