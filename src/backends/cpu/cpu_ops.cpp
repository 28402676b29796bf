#include "backends/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace qwen3::cpu {
namespace {

// Rows of W dequantized together; 32 rows x 9728 cols x 4 B = 1.2 MiB stays in L2.
constexpr int64_t kRowTile = 16;

inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t m_rows, float* y) {
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
      for (int64_t m = 0; m < m_rows; ++m) {
        const float* xm = x + m * k;
        float* ym = y + m * n_rows;
        for (int64_t n = n0; n < n1; ++n) ym[n] = dot(wt.data() + (n - n0) * k, xm, k);
      }
    }
  }
}

void rms_norm(const float* x, const float* weight, int64_t rows, int64_t dim, double eps, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* o = out + r * dim;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int64_t i = 0; i < dim; ++i) ss += xr[i] * xr[i];
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
