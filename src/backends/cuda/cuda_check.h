// Checked CUDA and cuBLAS calls: a failure throws qwen3::Error naming the call, the
// CUDA error string and the source location (kOutOfMemory for allocation failures,
// kInternal otherwise). Usable from .cu files: no fmt or <source_location> here.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

namespace qwen3::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t code, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t code, const char* call, const char* file,
                                     int line);

inline void check_cuda(cudaError_t code, const char* call, const char* file, int line) {
  if (code != cudaSuccess) throw_cuda_error(code, call, file, line);
}
inline void check_cublas(cublasStatus_t code, const char* call, const char* file, int line) {
  if (code != CUBLAS_STATUS_SUCCESS) throw_cublas_error(code, call, file, line);
}

// A launcher's host-side shape check failed: throws kUnsupported (a shape this kernel
// does not implement) or kInternal (a caller bug), naming the kernel.
[[noreturn]] void throw_shape_error(const char* kernel, const char* message, bool unsupported);
inline void check_shape(bool ok, const char* kernel, const char* message,
                        bool unsupported = false) {
  if (!ok) throw_shape_error(kernel, message, unsupported);
}

// CUDA devices this process can use (0 when the driver cannot be asked).
int cuda_device_count();
// True when at least one CUDA device can be used (tests skip otherwise).
inline bool cuda_device_available() { return cuda_device_count() > 0; }

}  // namespace qwen3::cuda

// The macros only capture the call's text and location; each is one checked call.
#define QWEN3_CUDA_CHECK(call) ::qwen3::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define QWEN3_CUBLAS_CHECK(call) ::qwen3::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a kernel launch: launch-configuration errors surface here.
#define QWEN3_CUDA_CHECK_LAUNCH(name) \
  ::qwen3::cuda::check_cuda(cudaGetLastError(), name, __FILE__, __LINE__)
