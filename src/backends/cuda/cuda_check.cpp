#include "backends/cuda/cuda_check.h"

#include "core/error.h"

namespace qwen3::cuda {

void throw_cuda_error(cudaError_t code, const char* call, const char* file, int line) {
  cudaGetLastError();  // clear a sticky-free error so the next call starts clean
  const ErrorCode ec =
      code == cudaErrorMemoryAllocation ? ErrorCode::kOutOfMemory : ErrorCode::kInternal;
  QWEN3_THROW(ec, "CUDA call {} failed at {}:{}: {} ({})", call, file, line,
              cudaGetErrorString(code), static_cast<int>(code));
}

void throw_cublas_error(cublasStatus_t code, const char* call, const char* file, int line) {
  const ErrorCode ec =
      code == CUBLAS_STATUS_ALLOC_FAILED ? ErrorCode::kOutOfMemory : ErrorCode::kInternal;
  QWEN3_THROW(ec, "cuBLAS call {} failed at {}:{}: {} ({})", call, file, line,
              cublasGetStatusString(code), static_cast<int>(code));
}

void throw_shape_error(const char* kernel, const char* message, bool unsupported) {
  QWEN3_THROW(unsupported ? ErrorCode::kUnsupported : ErrorCode::kInternal, "CUDA kernel {}: {}",
              kernel, message);
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

}  // namespace qwen3::cuda
