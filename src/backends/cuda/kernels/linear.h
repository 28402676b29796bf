// y = x W^T for a BF16 weight matrix and float32 activations, choosing per shape:
// the streaming GEMV for <= kGemvMaxRows rows, cuBLAS (x rounded to BF16, float32
// accumulate and output) above.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/device_buffer.h"

namespace qwen3::cuda {

// A weight matrix on the device: row-major [rows, cols] BF16.
struct DeviceMatrix {
  const __nv_bfloat16* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
};

// The input of a linear layer: x, or RMSNorm(x) * norm_weight when norm_weight is set
// (x is then the residual stream; the GEMV fuses the norm, cuBLAS runs it first).
struct LinearInput {
  const float* x = nullptr;            // [rows, w.cols]
  const float* norm_weight = nullptr;  // [w.cols] or nullptr
  float eps = 0.0f;
};

enum class LinearOutput {
  kStore,      // y = x W^T                               y: [rows, w.rows]
  kAddTo,      // y += x W^T (y is the residual stream)   y: [rows, w.rows]
  kSiluPairs,  // W rows alternate gate_i, up_i: y[:, i] = silu(gate_i) * up_i; y: [rows, w.rows / 2]
};

class LinearContext {
 public:
  explicit LinearContext(cudaStream_t stream);
  ~LinearContext();
  LinearContext(const LinearContext&) = delete;
  LinearContext& operator=(const LinearContext&) = delete;

  void run(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
           LinearOutput out = LinearOutput::kStore);
  void run(const DeviceMatrix& w, const float* x, int64_t rows, float* y) {
    run(w, LinearInput{x}, rows, y);
  }
  // The GEMV with its RMSNorm prologue fused (tests; see run()).
  void run_gemv_fused_norm(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y);
  // Forces the cuBLAS path (tests compare both paths).
  void run_cublas(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
                  LinearOutput out = LinearOutput::kStore);
  void run_cublas(const DeviceMatrix& w, const float* x, int64_t rows, float* y) {
    run_cublas(w, LinearInput{x}, rows, y);
  }
  cudaStream_t stream() const { return stream_; }
  // Sizes the normed-input buffer for `floats` values ahead of a graph capture; true
  // when it moved (captured graphs holding the old address must be dropped).
  bool reserve_normed(size_t floats) {
    return normed_.ensure(floats * sizeof(float), "normed linear-layer input");
  }

 private:
  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer x_bf16_;  // x (or its norm) rounded to BF16 for cuBLAS
  DeviceBuffer normed_;  // RMSNorm(x) before the product
  DeviceBuffer pairs_;   // gate/up products before SiLU on the cuBLAS path
  DeviceBuffer workspace_;
};

}  // namespace qwen3::cuda
