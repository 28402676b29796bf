// FP8 weight codes (E4M3 / E5M2) to float32 and f16 by bit placement, exact, the same
// code on every architecture and on the integer pipe: the streaming GEMV (gemv.cu), the
// FP8 tensor-core GEMV and the FP8 -> BF16 dequantization (gemv_fp8.cu).
#pragma once

#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

namespace qwen3::cuda {

// FP8 -> float by bit placement, the same code on every architecture (sm_80 has no FP8
// conversion instruction; on sm_89+ cvt.f16x2.e4m3x2 would still need two f16 -> f32
// conversions, which run on the 16/clk/SM conversion unit and would bound the GEMV).
// The byte goes to the top of a word; an arithmetic shift puts its exponent and mantissa
// at the low end of the float's exponent and mantissa fields (sign copies land above,
// masked off but for bit 31). That reads the code as a float whose exponent bias is 127
// instead of 7 (E4M3) or 15 (E5M2): multiplying by 2^120 / 2^112 gives the exact value,
// subnormal codes included (float32 denormals are kept: no -ftz). NaN/Inf codes decode to
// finite values: checkpoints hold none (the quantizer saturates).
template <bool kE5M2>
__device__ __forceinline__ float fp8_byte_to_float(uint32_t word, int byte) {
  constexpr int kShift = kE5M2 ? 3 : 4;
  constexpr uint32_t kMask = kE5M2 ? 0x8fffffffu : 0x87ffffffu;
  constexpr float kFix = kE5M2 ? 0x1p112f : 0x1p120f;
  const uint32_t top = __byte_perm(word, 0u, 0x0444u | (static_cast<uint32_t>(byte) << 12));
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(top) >> kShift) & kMask;
  return __uint_as_float(bits) * kFix;
}

template <bool kE5M2>
__device__ __forceinline__ void fp8x16_to_float(const uint4 w, float (&f)[16]) {
  const uint32_t words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
  for (int j = 0; j < 4; ++j)
#pragma unroll
    for (int b = 0; b < 4; ++b) f[4 * j + b] = fp8_byte_to_float<kE5M2>(words[j], b);
}

// Two FP8 codes (bytes 2h, 2h+1 of word) -> f16x2 (byte 2h in the low half) by bit
// placement, the same on every architecture and on the integer pipe (cvt.f16x2.e4m3x2
// runs on the narrower conversion unit, which x's conversion already uses). E5M2 is the
// top byte of an f16 exactly. E4M3's byte at the top of a half, exponent and mantissa
// shifted right by one, reads as an f16 with exponent bias 15 instead of 7: the value
// times 2^-8, exactly, subnormal codes included (they land on f16 subnormals, which the
// tensor cores keep); the kernel multiplies the f32 result by 2^8. NaN codes decode to
// finite values: checkpoints hold none (the quantizer saturates).
template <bool kE5M2>
__device__ __forceinline__ uint32_t fp8x2_to_f16x2(uint32_t word, int h) {
  const uint32_t top = __byte_perm(word, 0u, h == 0 ? 0x1404u : 0x3424u);
  if constexpr (kE5M2) return top;
  return ((top >> 1) & 0x3f803f80u) | (top & 0x80008000u);
}

// Two FP8 codes as f16x2 bits -> floats (exact).
__device__ __forceinline__ float2 f16x2_to_float2(uint32_t bits) {
  __half2 h;
  memcpy(&h, &bits, sizeof h);
  return __half22float2(h);
}

// 16 FP8 weights (one load) dotted with 16 x values. E4M3 codes decode to value * 2^-8
// (fp8x2_to_f16x2): the caller's scale carries the 2^8.
template <bool kIsE5M2>
__device__ __forceinline__ float dot_fp8x16(const uint4 w, const float (&x)[16]) {
  const uint32_t words[4] = {w.x, w.y, w.z, w.w};
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < 4; ++j)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float2 f = f16x2_to_float2(fp8x2_to_f16x2<kIsE5M2>(words[j], h));
      s = fmaf(f.x, x[4 * j + 2 * h], s);
      s = fmaf(f.y, x[4 * j + 2 * h + 1], s);
    }
  return s;
}

}  // namespace qwen3::cuda
