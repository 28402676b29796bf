// Device helpers the sampling kernels share (sampling.cu, sampling_mass.cu): the host
// sampler's weight arithmetic, the order of float keys as integers, and whether a row
// takes the top_k path.
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/sampling.h"

namespace qwen3::cuda::sampling_detail {

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// The host's exp_nonpositive (src/engine/logits_ops.cpp): exp(x) for x <= 0 within ~2 ulp,
// 0 below -87, the same arithmetic so that weights match to rounding.
__device__ __forceinline__ float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kRound = 12582912.0f;
  const bool live = x >= -87.0f;
  x = live ? x : 0.0f;
  const float n = __fsub_rn(__fadd_rn(__fmul_rn(x, kLog2e), kRound), kRound);
  const float r = __fadd_rn(__fsub_rn(x, __fmul_rn(n, 0.693359375f)), __fmul_rn(n, 2.12194440e-4f));
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  const float scale = __int_as_float((static_cast<int>(n) + 127) << 23);
  return live ? y * scale : 0.0f;
}

// The full-row weight of the host's weighted_candidates: float, relative to the best logit.
__device__ __forceinline__ double full_weight(float v, float top, double inv_t) {
  if (v == top) return 1.0;
  const double x = (static_cast<double>(v) - top) * inv_t;
  return exp_nonpositive(static_cast<float>(x > -100.0 ? x : -100.0));
}

// A random row's logit as the candidate order sees it: NaN is -inf, -0 is +0 (equal logits).
__device__ __forceinline__ float clean_logit(float v) {
  return isnan(v) ? neg_inf() : (v == 0.0f ? 0.0f : v);
}

// Float keys as unsigned integers in the same order (-0 < +0; cleaned values hold no NaN),
// and back: the radix selections' digits.
__device__ __forceinline__ uint32_t order_key(float v) {
  const uint32_t b = __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t u) {
  return __uint_as_float((u & 0x80000000u) ? (u ^ 0x80000000u) : ~u);
}

// The top_k weight of the host's candidate_weights: double.
__device__ __forceinline__ double top_k_weight(float v, float top, double inv_t) {
  return v == top ? 1.0 : exp((static_cast<double>(v) - top) * inv_t);
}

// Whether a random row takes the host's top_k path (1 <= top_k < vocab): its candidates
// are the top_k best, weighed by top_k_weight; otherwise the whole row, by full_weight.
__host__ __device__ inline bool top_k_path(const SamplingRowParams& r, int64_t vocab) {
  return r.top_k >= 1 && r.top_k < vocab;
}

}  // namespace qwen3::cuda::sampling_detail
