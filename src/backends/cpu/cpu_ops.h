// CPU reference kernels: float32 activations, weights read in their checkpoint dtype
// (BF16/F16/F32, or FP8 dequantized blockwise on the fly), float32 accumulation.
// Multi-threaded with OpenMP; inner loops written for the compiler's vectorizer.
#pragma once

#include <cstdint>

#include "model/weights.h"

namespace qwen3::cpu {

// y[m, n] = sum_k x[m, k] * W[n, k]   (x: [m_rows, W.cols], y: [m_rows, W.rows])
// Each y[m, n] is summed in dot()'s fixed order (cpu_simd.h) whatever m_rows, the row's
// place and the thread count: batch-invariant, bit for bit.
void matmul(const WeightMatrix& w, const float* x, int64_t m_rows, float* y);

// out[r, :] = x[r, :] / rms(x[r, :]) * weight   for `rows` rows of `dim` values.
void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, double eps,
              float* out);

// Rotate-half RoPE in place on `heads` vectors of head_dim for one position.
void rope_apply(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin);

// out[i] = silu(gate[i]) * up[i]
void silu_mul(const float* gate, const float* up, int64_t n, float* out);

// y[i] += x[i]
void add_inplace(float* y, const float* x, int64_t n);

// Copies row `token` of the embedding matrix (dequantized) into out.
void embed_row(const WeightMatrix& embed, int64_t token, float* out);

}  // namespace qwen3::cpu
