// Row-wise and element-wise kernels of the decoder: embedding gather, (residual add +)
// RMSNorm, SiLU-gate-multiply, float32 -> BF16 conversion. Activations are float32
// row-major [rows, cols] (the cuBLAS path's products in and out of the MLP: BF16, see
// linear.h); weights of the norms are float32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen3::cuda {

// out[r, :] = float(embed[tokens[r], :])   embed: [vocab, hidden] bf16
struct EmbeddingParams {
  const __nv_bfloat16* embed;
  const int32_t* tokens;  // [rows], device
  float* out;             // [rows, hidden]
  int64_t rows;
  int64_t hidden;
  float* sum_squares = nullptr;  // [rows] or nullptr: each output row's sum of squares
};
void launch_embedding(const EmbeddingParams& p, cudaStream_t stream);

// For output row i with input row r = (row_index ? row_index[i] : i):
//   x = h[r] (+ residual[r] when residual != nullptr); if write_h: h[r] = x
//   out[i] = weight * (x / sqrt(mean(x^2) + eps))   (rounded into out_bf16 instead when set)
// The CPU's order: residual add first (h += branch), then the norm of the sum.
struct AddRmsNormParams {
  float* h;                  // [*, dim] residual stream
  const float* residual;     // [*, dim] branch to add, or nullptr
  const float* weight;       // [dim]
  const int32_t* row_index;  // [out_rows] rows of h to use, or nullptr (identity)
  float* out;                // [out_rows, dim], or nullptr with out_bf16
  int64_t out_rows;
  int64_t dim;
  float eps;
  bool write_h;
  __nv_bfloat16* out_bf16 = nullptr;  // [out_rows, dim]: the output rounded, instead of out
};
void launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream);

// out[r, i] = silu(gate_up[r, 2 i]) * gate_up[r, 2 i + 1]   gate_up: [rows, 2 * inter], the
// gate and up projections interleaved row by row (as CudaWeights stores them)
struct SiluMulParams {
  const float* gate_up;
  float* out;  // [rows, inter]
  int64_t rows;
  int64_t inter;
};
void launch_silu_mul(const SiluMulParams& p, cudaStream_t stream);

// The same on BF16: out[i] = bf16(silu(gate_up[2 i]) * gate_up[2 i + 1]) for i < n (rows x
// inter; the pairs of a row are contiguous, so the index is flat), float32 in between.
void launch_silu_mul_bf16(const __nv_bfloat16* gate_up, __nv_bfloat16* out, int64_t n,
                          cudaStream_t stream);

// out[i] = bf16(in[i]), round to nearest even.
void launch_f32_to_bf16(const float* in, __nv_bfloat16* out, int64_t n, cudaStream_t stream);

}  // namespace qwen3::cuda
