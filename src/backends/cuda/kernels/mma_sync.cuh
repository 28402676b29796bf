// Warp-level tensor-core products with float32 accumulation (mma.sync.m16n8k16, sm_80+):
// in f16 (the FP8 GEMVs: FP8 codes decode exactly to f16, fp8_convert.cuh; activations
// are rounded to f16 here) and in BF16 (the prefill attention, the BF16 pipelined GEMV),
// and the conversions of their operands; on FP8 codes (m16n8k32, sm_89+: the pipelined
// FP8 GEMV, activations quantized per 128-wide group).
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

namespace qwen3::cuda {

// f32 pair -> f16x2 (lo in the low half), rounded to nearest, saturating at +-65504
// instead of overflowing to inf. The GEMV inputs are post-RMSNorm activations (x / rms
// * norm weight: |x| <= sqrt(hidden) * max|norm weight|, a few hundred at most in Qwen3
// checkpoints), attention outputs (convex combinations of V rows, themselves
// projections of normed activations) and SiLU(gate) * up products (the down input,
// O(100) in practice): all far below 65504; the residual stream, which can be larger,
// never enters a GEMV un-normed. Saturation keeps a stray outlier finite.
__device__ __forceinline__ uint32_t f32x2_to_f16x2_sat(float lo, float hi) {
  uint32_t r;
  asm("cvt.rn.satfinite.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}

__device__ __forceinline__ void mma_16816(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                          uint32_t a3, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Two floats -> packed BF16 pair, the lower index in the low half (the fragment order).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// c += a * b, BF16 inputs, float32 accumulate.
__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
      "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();  // launched only on sm_80+ (paged_attention_uses_mma; the GEMVs need sm_80)
#endif
}

// c += a * b on FP8 codes (mma.m16n8k32, sm_89+): A E4M3 or E5M2 (kAE5M2), B E4M3, float32
// accumulate. Fragments (g = lane / 4, t = lane % 4): a0 row g, columns 4t .. 4t+3 (byte
// 4t + i in byte i of the word); a1 row g + 8, the same columns; a2 / a3 as a0 / a1 at
// columns 16 + 4t ..; b0 column g, rows 4t .. 4t+3; b1 rows 16 + 4t ..; c as m16n8k16.
template <bool kAE5M2>
__device__ __forceinline__ void mma_fp8(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                        uint32_t a3, uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  if constexpr (kAE5M2) {
    asm("mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
#else
  __trap();  // launched only on sm_89+ (gemv_fp8_pipe_supports)
#endif
}

}  // namespace qwen3::cuda
