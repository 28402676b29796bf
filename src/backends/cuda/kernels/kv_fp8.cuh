// FP8 E4M3 KV cache elements (kv_dtype.h): the saturating store of rope_kv.cu and the
// unpacking of the attention kernels. Every E4M3 value (|x| <= 448, subnormals down to
// 2^-9) is exact in FP16 and in BF16, so the unpacked values are the stored ones; the
// per-layer scale is applied by the callers in float32.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <cstring>

namespace qwen3::cuda {

// round_to_e4m3(x / scale), round to nearest even, saturated to +-448 (NaN stays NaN).
__device__ __forceinline__ __nv_fp8_storage_t kv_fp8_encode(float x, float scale) {
  return __nv_cvt_float_to_fp8(x / scale, __NV_SATFINITE, __NV_E4M3);
}

// Two E4M3 values (the lower index in the low byte, bits 16.. ignored) -> f16x2, the lower
// index in the low half. sm_89+: one cvt.rn.f16x2.e4m3x2; below, cuda_fp8.h's exact
// bit-manipulation fallback.
__device__ __forceinline__ uint32_t kv_fp8x2_to_f16x2(uint32_t two) {
  const __half2_raw h =
      __nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(two & 0xffffu), __NV_E4M3);
  return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
}

// Two E4M3 values (as above) -> two floats.
__device__ __forceinline__ float2 kv_fp8x2_to_float2(uint32_t two) {
  const uint32_t bits = kv_fp8x2_to_f16x2(two);
  __half2 h;
  memcpy(&h, &bits, sizeof h);
  return __half22float2(h);
}

// Four E4M3 values (one 32-bit word, lowest index in the low byte) -> float4.
__device__ __forceinline__ float4 kv_fp8x4_to_float4(uint32_t four) {
  const float2 lo = kv_fp8x2_to_float2(four);
  const float2 hi = kv_fp8x2_to_float2(four >> 16);
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}

// Four E4M3 values -> four BF16 (exact), packed as two bf16x2 words in index order.
__device__ __forceinline__ uint2 kv_fp8x4_to_bf16x4(uint32_t four) {
  const float4 f = kv_fp8x4_to_float4(four);
  const __nv_bfloat162 lo = __floats2bfloat162_rn(f.x, f.y);
  const __nv_bfloat162 hi = __floats2bfloat162_rn(f.z, f.w);
  return make_uint2(*reinterpret_cast<const uint32_t*>(&lo),
                    *reinterpret_cast<const uint32_t*>(&hi));
}

// The scale of an FP8 pool's layer (PagedAttentionParams / QkNormRopeKvParams k_scale,
// v_scale): a device float, nullptr meaning 1.
__device__ __forceinline__ float kv_scale_or_one(const float* scale) {
  return scale != nullptr ? *scale : 1.0f;
}

}  // namespace qwen3::cuda
