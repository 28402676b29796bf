#include "backends/cpu/cpu_ops.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512F__)
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_epi32(), which
// -W(maybe-)uninitialized report at every inlined use (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

#include "core/error.h"

namespace qwen3::cpu {
namespace {

// Rows of W dequantized together for the tiled path: 16 rows x 9728 cols x 4 B = 623 KiB.
constexpr int64_t kRowTile = 16;
// Up to this many activation rows, BF16 weights are read directly (decode): converting
// a tile first would cost a store and a reload per weight for no reuse.
constexpr int64_t kDirectMaxRows = 4;

// Dot products with four independent accumulators so FMA latency does not bound them.
#if defined(__AVX512F__)
inline float dot(const float* a, const float* b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline __m512 bf16x16_to_f32(const uint16_t* p) {
  const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

inline float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    acc0 = _mm512_fmadd_ps(bf16x16_to_f32(w + i), _mm512_loadu_ps(x + i), acc0);
    acc1 = _mm512_fmadd_ps(bf16x16_to_f32(w + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
    acc2 = _mm512_fmadd_ps(bf16x16_to_f32(w + i + 32), _mm512_loadu_ps(x + i + 32), acc2);
    acc3 = _mm512_fmadd_ps(bf16x16_to_f32(w + i + 48), _mm512_loadu_ps(x + i + 48), acc3);
  }
  for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(bf16x16_to_f32(w + i), _mm512_loadu_ps(x + i), acc0);
  float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += bf16_to_f32(w[i]) * x[i];
  return sum;
}
// out[i * 4 + j] = dot(a + i * lda, b + j * ldb) for i, j < 4: each load feeds four
// FMAs, so the tiled (prefill) product runs at FMA rate instead of load rate.
constexpr int kMicroM = 4;
inline void dot_block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* out) {
  __m512 acc[4][4];
  for (auto& r : acc) {
    for (auto& v : r) v = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const __m512 b0 = _mm512_loadu_ps(b + i), b1 = _mm512_loadu_ps(b + ldb + i);
    const __m512 b2 = _mm512_loadu_ps(b + 2 * ldb + i), b3 = _mm512_loadu_ps(b + 3 * ldb + i);
    for (int r = 0; r < 4; ++r) {
      const __m512 av = _mm512_loadu_ps(a + r * lda + i);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm512_fmadd_ps(av, b2, acc[r][2]);
      acc[r][3] = _mm512_fmadd_ps(av, b3, acc[r][3]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      float sum = _mm512_reduce_add_ps(acc[r][c]);
      for (int64_t j = i; j < k; ++j) sum += a[r * lda + j] * b[c * ldb + j];
      out[r * 4 + c] = sum;
    }
  }
}
#elif defined(__AVX2__) && defined(__FMA__)
inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
}

inline float dot(const float* a, const float* b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

inline __m256 bf16x8_to_f32(const uint16_t* p) {
  const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

inline float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm256_fmadd_ps(bf16x8_to_f32(w + i), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(bf16x8_to_f32(w + i + 8), _mm256_loadu_ps(x + i + 8), acc1);
    acc2 = _mm256_fmadd_ps(bf16x8_to_f32(w + i + 16), _mm256_loadu_ps(x + i + 16), acc2);
    acc3 = _mm256_fmadd_ps(bf16x8_to_f32(w + i + 24), _mm256_loadu_ps(x + i + 24), acc3);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(bf16x8_to_f32(w + i), _mm256_loadu_ps(x + i), acc0);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  for (; i < n; ++i) sum += bf16_to_f32(w[i]) * x[i];
  return sum;
}

// 2 x 4 block with 16 ymm registers: 8 accumulators, 6 operand loads.
constexpr int kMicroM = 2;
inline void dot_block(const float* a, int64_t lda, const float* b, int64_t ldb, int64_t k, float* out) {
  __m256 acc[2][4];
  for (auto& r : acc) {
    for (auto& v : r) v = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + ldb + i);
    const __m256 b2 = _mm256_loadu_ps(b + 2 * ldb + i), b3 = _mm256_loadu_ps(b + 3 * ldb + i);
    for (int r = 0; r < 2; ++r) {
      const __m256 av = _mm256_loadu_ps(a + r * lda + i);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
      acc[r][2] = _mm256_fmadd_ps(av, b2, acc[r][2]);
      acc[r][3] = _mm256_fmadd_ps(av, b3, acc[r][3]);
    }
  }
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 4; ++c) {
      float sum = hsum(acc[r][c]);
      for (int64_t j = i; j < k; ++j) sum += a[r * lda + j] * b[c * ldb + j];
      out[r * 4 + c] = sum;
    }
  }
}
#else
inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

inline float dot_bf16(const uint16_t* w, const float* x, int64_t n) {
  float acc = 0.0f;
  for (int64_t i = 0; i < n; ++i) acc += bf16_to_f32(w[i]) * x[i];
  return acc;
}

constexpr int kMicroM = 1;
inline void dot_block(const float* a, int64_t /*lda*/, const float* b, int64_t ldb, int64_t k, float* out) {
  for (int c = 0; c < 4; ++c) out[c] = dot(a, b + c * ldb, k);
}
#endif

// y[m, n0:n1] for all m from a tile of dequantized weight rows wt[n0:n1, k]: blocks of
// kMicroM activation rows x 4 weight rows, single dot products for the edges.
void tile_product(const float* wt, int64_t n0, int64_t n1, const float* x, int64_t m_rows, int64_t k,
                  int64_t n_rows, float* y) {
  const int64_t n_full = n0 + (n1 - n0) / 4 * 4;
  int64_t m = 0;
  for (; m + kMicroM <= m_rows; m += kMicroM) {
    float out[kMicroM * 4];
    for (int64_t n = n0; n < n_full; n += 4) {
      dot_block(x + m * k, k, wt + (n - n0) * k, k, k, out);
      for (int r = 0; r < kMicroM; ++r) {
        for (int c = 0; c < 4; ++c) y[(m + r) * n_rows + n + c] = out[r * 4 + c];
      }
    }
    for (int r = 0; r < kMicroM; ++r) {
      for (int64_t n = n_full; n < n1; ++n) y[(m + r) * n_rows + n] = dot(wt + (n - n0) * k, x + (m + r) * k, k);
    }
  }
  for (; m < m_rows; ++m) {
    for (int64_t n = n0; n < n1; ++n) y[m * n_rows + n] = dot(wt + (n - n0) * k, x + m * k, k);
  }
}

// Decode-shaped products with BF16 weights: each weight row is read once, straight from
// the mapped checkpoint, for all (<= kDirectMaxRows) activation rows.
void matmul_bf16_direct(const WeightMatrix& w, const float* x, int64_t m_rows, float* y) {
  const auto* data = reinterpret_cast<const uint16_t*>(w.data);
  const int64_t k = w.cols;
#pragma omp parallel for schedule(static, kRowTile)
  for (int64_t n = 0; n < w.rows; ++n) {
    const uint16_t* row = data + n * k;
    for (int64_t m = 0; m < m_rows; ++m) y[m * w.rows + n] = dot_bf16(row, x + m * k, k);
  }
}

}  // namespace

void matmul(const WeightMatrix& w, const float* x, int64_t m_rows, float* y) {
  if (w.dtype == DType::kBF16 && m_rows <= kDirectMaxRows) return matmul_bf16_direct(w, x, m_rows, y);
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
