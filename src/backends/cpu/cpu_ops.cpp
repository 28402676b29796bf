#include "backends/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "backends/cpu/cpu_simd.h"
#include "core/error.h"

namespace qwen3::cpu {
namespace {

// Rows of W dequantized together for the tiled path: 16 rows x 9728 cols x 4 B = 623 KiB.
constexpr int64_t kRowTile = 16;
// Up to this many activation rows, BF16 weights are read directly (decode): converting
// a tile first would cost a store and a reload per weight for no reuse.
constexpr int64_t kDirectMaxRows = 4;

// out[r * 4 + c] = dot(b + c * ldb, a + r * lda) for r < M, c < 4: each operand load feeds
// several FMAs, and the 4 * M independent accumulators hide the FMA latency. Each output
// is summed in dot()'s order (cpu_simd.h), so it does not depend on M or on the row's
// place in the batch. a: activations; b: dequantized weight rows.
template <int M>
inline void dot_block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k,
                      float* out) {
  constexpr int64_t L = Simd::kWidth;
  Simd::V acc[M][4];
  for (auto& row : acc) {
    for (auto& v : row) v = Simd::zero();
  }
  int64_t i = 0;
  for (; i + L <= k; i += L) {
    const Simd::V b0 = Simd::load(b + i), b1 = Simd::load(b + ldb + i);
    const Simd::V b2 = Simd::load(b + 2 * ldb + i), b3 = Simd::load(b + 3 * ldb + i);
    for (int r = 0; r < M; ++r) {
      const Simd::V av = Simd::load(a + r * lda + i);
      acc[r][0] = Simd::fma(b0, av, acc[r][0]);
      acc[r][1] = Simd::fma(b1, av, acc[r][1]);
      acc[r][2] = Simd::fma(b2, av, acc[r][2]);
      acc[r][3] = Simd::fma(b3, av, acc[r][3]);
    }
  }
  for (int r = 0; r < M; ++r) {
    for (int c = 0; c < 4; ++c) {
      float sum = Simd::sum(acc[r][c]);
      for (int64_t j = i; j < k; ++j) sum = std::fma(b[c * ldb + j], a[r * lda + j], sum);
      out[r * 4 + c] = sum;
    }
  }
}

// dot_block for rows (1 .. M) activation rows, M fixed at compile time.
template <int M>
inline void dot_block_upto(int rows, const float* a, int64_t lda, const float* b, int64_t ldb,
                           int64_t k, float* out) {
  if constexpr (M > 1) {
    if (rows < M) return dot_block_upto<M - 1>(rows, a, lda, b, ldb, k, out);
  }
  dot_block<M>(a, lda, b, ldb, k, out);
}

// y[m, n0:n1] for all m from a tile of dequantized weight rows wt[n0:n1, k]: blocks of
// up to kMicroM activation rows x 4 weight rows, single dot products for the last
// (n1 - n0) % 4 weight rows.
void tile_product(const float* wt, int64_t n0, int64_t n1, const float* x, int64_t m_rows,
                  int64_t k, int64_t n_rows, float* y) {
  constexpr int kMicroM = Simd::kMicroM;
  const int64_t n_full = n0 + (n1 - n0) / 4 * 4;
  for (int64_t m = 0; m < m_rows; m += kMicroM) {
    const int rows = static_cast<int>(std::min<int64_t>(kMicroM, m_rows - m));
    float out[kMicroM * 4];
    for (int64_t n = n0; n < n_full; n += 4) {
      dot_block_upto<kMicroM>(rows, x + m * k, k, wt + (n - n0) * k, k, k, out);
      for (int r = 0; r < rows; ++r) {
        for (int c = 0; c < 4; ++c) y[(m + r) * n_rows + n + c] = out[r * 4 + c];
      }
    }
    for (int r = 0; r < rows; ++r) {
      for (int64_t n = n_full; n < n1; ++n)
        y[(m + r) * n_rows + n] = dot(wt + (n - n0) * k, x + (m + r) * k, k);
    }
  }
}

// out[r] = dot(w, x + r * k, k) for r < M: one pass over the weight row for all M
// activation rows, each output summed in dot()'s order (one accumulator chain).
template <int M>
inline void dot_rows(const uint16_t* w, const float* x, int64_t k, float* out) {
  constexpr int64_t L = Simd::kWidth;
  Simd::V acc[M];
  for (auto& a : acc) a = Simd::zero();
  int64_t i = 0;
  for (; i + L <= k; i += L) {
    const Simd::V wv = Simd::load(w + i);
    for (int r = 0; r < M; ++r) acc[r] = Simd::fma(wv, Simd::load(x + r * k + i), acc[r]);
  }
  for (int r = 0; r < M; ++r) {
    float sum = Simd::sum(acc[r]);
    for (int64_t j = i; j < k; ++j) sum = std::fma(to_f32(w[j]), x[r * k + j], sum);
    out[r] = sum;
  }
}

// dot_rows for rows (1 .. M) activation rows, M fixed at compile time.
template <int M>
inline void dot_rows_upto(int rows, const uint16_t* w, const float* x, int64_t k, float* out) {
  if constexpr (M > 1) {
    if (rows < M) return dot_rows_upto<M - 1>(rows, w, x, k, out);
  }
  dot_rows<M>(w, x, k, out);
}

// Decode-shaped products with BF16 weights: each weight row is read once, straight from
// the mapped checkpoint, for all (<= kDirectMaxRows) activation rows. Row after row, so
// the weights stream through memory in order (the hardware prefetcher's best case).
void matmul_bf16_direct(const WeightMatrix& w, const float* x, int64_t m_rows, float* y) {
  const auto* data = reinterpret_cast<const uint16_t*>(w.data);
  const int64_t k = w.cols;
  const int rows = static_cast<int>(m_rows);
#pragma omp parallel for schedule(static, kRowTile)
  for (int64_t n = 0; n < w.rows; ++n) {
    float out[kDirectMaxRows];
    dot_rows_upto<kDirectMaxRows>(rows, data + n * k, x, k, out);
    for (int m = 0; m < rows; ++m) y[m * w.rows + n] = out[m];
  }
}

}  // namespace

// Every path computes y[m, n] as dot(W[n, :], x[m, :]) in dot()'s order (BF16 -> float
// is exact), so the result does not depend on m_rows: the batch-invariance contract.
void matmul(const WeightMatrix& w, const float* x, int64_t m_rows, float* y) {
  if (m_rows <= 0) return;
  if (w.dtype == DType::kBF16 && m_rows <= kDirectMaxRows)
    return matmul_bf16_direct(w, x, m_rows, y);
  const int64_t n_rows = w.rows;
  const int64_t k = w.cols;
  const int64_t tiles = (n_rows + kRowTile - 1) / kRowTile;
#pragma omp parallel
  {
    std::vector<float> wt(static_cast<size_t>(kRowTile * k));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t n0 = t * kRowTile;
      const int64_t n1 = std::min(n_rows, n0 + kRowTile);
      for (int64_t n = n0; n < n1; ++n) w.row_to_f32(n, wt.data() + (n - n0) * k);
      tile_product(wt.data(), n0, n1, x, m_rows, k, n_rows, y);
    }
  }
}

void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, double eps,
              float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    const float ss = dot(xr, xr, dim);  // fixed order: the same bits in any batch
    const float inv = 1.0f / std::sqrt(ss / static_cast<float>(dim) + static_cast<float>(eps));
    for (int64_t i = 0; i < dim; ++i) o[i] = weight[i] * (xr[i] * inv);
  }
}

void rope_apply(float* x, int64_t heads, int64_t head_dim, const float* cos, const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < heads; ++h) {
    float* v = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float a = v[i];
      const float b = v[i + half];
      v[i] = a * cos[i] - b * sin[i];
      v[i + half] = b * cos[i] + a * sin[i];
    }
  }
}

void silu_mul(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void embed_row(const WeightMatrix& embed, int64_t token, float* out) {
  if (token < 0 || token >= embed.rows) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "token id {} is outside the vocabulary [0, {})", token,
                embed.rows);
  }
  embed.row_to_f32(token, out);
}

}  // namespace qwen3::cpu
