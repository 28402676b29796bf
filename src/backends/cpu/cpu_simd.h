// The vector unit of the build target, behind one small interface, so each CPU kernel is
// written once (cpu_ops.cpp) and instantiated for AVX-512, AVX2 + FMA or plain scalars.
// uint16_t data is always BF16.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dtype.h"

#if defined(__AVX2__) || defined(__AVX512F__)
// GCC 12's AVX-512 conversion intrinsics start from _mm512_undefined_epi32(), which
// -W(maybe-)uninitialized report at every inlined use (a known false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace qwen3::cpu {

#if defined(__AVX512F__)
struct Simd {
  using V = __m512;
  static constexpr int64_t kWidth = 16;
  static constexpr int kMicroM = 4;  // 4x4 accumulators + 8 operands of 32 registers
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V load(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
};
#elif defined(__AVX2__) && defined(__FMA__)
struct Simd {
  using V = __m256;
  static constexpr int64_t kWidth = 8;
  static constexpr int kMicroM = 2;  // 2x4 accumulators + 6 operands of 16 registers
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) {
    const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
  }
};
#else
struct Simd {
  using V = float;
  static constexpr int64_t kWidth = 1;
  static constexpr int kMicroM = 1;
  static V zero() { return 0.0f; }
  static V load(const float* p) { return *p; }
  static V load(const uint16_t* p) { return bf16_to_f32(*p); }
  static V fma(V a, V b, V c) { return a * b + c; }
  static V add(V a, V b) { return a + b; }
  static float sum(V v) { return v; }
};
#endif

inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t bf16) { return bf16_to_f32(bf16); }

// sum_i w[i] * x[i] in the one summation order every CPU kernel uses: a single vector
// accumulator over the whole vectors (lane j sums elements j, j + kWidth, ...), its
// lanes summed by Simd::sum, then the scalar tail fused in order. The order depends on
// n only, never on addresses or on how many rows a matmul has, so a token's logits are
// bit-identical alone or in any batch (cpu_ops.cpp's dot_block keeps the same order).
// W is float (dequantized tiles) or uint16_t (BF16 straight from the checkpoint).
template <typename W>
inline float dot(const W* w, const float* x, int64_t n) {
  constexpr int64_t L = Simd::kWidth;
  Simd::V acc = Simd::zero();
  int64_t i = 0;
  for (; i + L <= n; i += L) acc = Simd::fma(Simd::load(w + i), Simd::load(x + i), acc);
  float sum = Simd::sum(acc);
  for (; i < n; ++i) sum = std::fma(to_f32(w[i]), x[i], sum);
  return sum;
}

}  // namespace qwen3::cpu

#if defined(__AVX2__) || defined(__AVX512F__)
#pragma GCC diagnostic pop
#endif
