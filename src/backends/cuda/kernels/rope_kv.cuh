// Device pieces of the attention prologue shared by qk_norm_rope_kv (rope_kv.cu) and the
// decode attention kernel when it takes a decode step's qkv rows raw (attention_decode.cu):
// one head's RMSNorm + rotate-half RoPE as a warp computes it, and KV elements' stores
// into the pool. Both callers go through these, so the fused path's q, k and pool bytes
// equal the separate kernel's bit for bit.
#pragma once

#include <cstdint>
#include <type_traits>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"

namespace qwen3::cuda {

// One KV element into the pool; `scale` is used by the FP8 pool only.
__device__ __forceinline__ void store_kv(float* dst, float x, float) { *dst = x; }
__device__ __forceinline__ void store_kv(__nv_bfloat16* dst, float x, float) {
  *dst = __float2bfloat16_rn(x);
}
__device__ __forceinline__ void store_kv(__nv_fp8_e4m3* dst, float x, float scale) {
  dst->__x = kv_fp8_encode(x, scale);
}

// Loads (or stores) kN consecutive floats from a 16- / 8-byte aligned address in vector
// instructions, one float at a time otherwise.
template <int kN>
__device__ __forceinline__ void load_run(const float* src, float (&v)[kN]) {
  const auto a = reinterpret_cast<uintptr_t>(src);
  if constexpr (kN % 4 == 0) {
    if ((a & 15) == 0) {
#pragma unroll
      for (int j = 0; j < kN; j += 4) {
        const float4 f = *reinterpret_cast<const float4*>(src + j);
        v[j] = f.x, v[j + 1] = f.y, v[j + 2] = f.z, v[j + 3] = f.w;
      }
      return;
    }
  }
  if constexpr (kN % 2 == 0) {
    if ((a & 7) == 0) {
#pragma unroll
      for (int j = 0; j < kN; j += 2) {
        const float2 f = *reinterpret_cast<const float2*>(src + j);
        v[j] = f.x, v[j + 1] = f.y;
      }
      return;
    }
  }
#pragma unroll
  for (int j = 0; j < kN; ++j) v[j] = src[j];
}

// kN consecutive values into the pool (or q) in as few stores as the alignment allows.
template <typename KV, int kN>
__device__ __forceinline__ void store_run(KV* dst, const float (&y)[kN], float scale) {
  constexpr int kBytes = kN * static_cast<int>(sizeof(KV));
  alignas(16) KV v[kN];
#pragma unroll
  for (int j = 0; j < kN; ++j) store_kv(&v[j], y[j], scale);
  const auto a = reinterpret_cast<uintptr_t>(dst);
  if constexpr (kBytes % 16 == 0) {
    if ((a & 15) == 0) {
#pragma unroll
      for (int b = 0; b < kBytes / 16; ++b)
        reinterpret_cast<uint4*>(dst)[b] = reinterpret_cast<const uint4*>(v)[b];
      return;
    }
  }
  if constexpr (kBytes == 8) {
    if ((a & 7) == 0) {
      *reinterpret_cast<uint2*>(dst) = *reinterpret_cast<const uint2*>(v);
      return;
    }
  }
  if constexpr (kBytes == 4) {
    if ((a & 3) == 0) {
      *reinterpret_cast<uint32_t*>(dst) = *reinterpret_cast<const uint32_t*>(v);
      return;
    }
  }
#pragma unroll
  for (int j = 0; j < kN; ++j) dst[j] = v[j];
}

// The rotation of RoPE for frequency f at `pos`: (cos, sin) x the YaRN scaling. The one
// expression for every caller (a per-row table or computed in place), so they agree bit
// for bit.
__device__ __forceinline__ float2 rope_cos_sin(const float* inv_freq, int f, float pos,
                                               float scaling) {
  const float angle = pos * inv_freq[f];
  return make_float2(cosf(angle) * scaling, sinf(angle) * scaling);
}

// The whole warp: y = RoPE(w * x / rms(x)) for one head of hd (even) values, the
// rotation of frequency f being cos_sin(f) (rope_cos_sin at the row's position, or a
// table of it); emit(i0, y) is called with y a float array of the run of dims i0,
// i0 + 1, ... (its length a constant: std::extent of y's type).
// hd a multiple of 32: lane l holds dims hd / 32 * l ... in registers; its rotation
// partners (+- hd / 2) sit in lane l ^ 16. Otherwise (any even hd) the dims go through
// buf (hd floats of shared memory private to the warp, free again on return), lane,
// lane + 32, ... one at a time.
template <int kD, typename CosSin, typename Emit>
__device__ __forceinline__ void norm_rope_head_regs(const float* x, const float* w, float eps,
                                                    CosSin&& cos_sin, Emit&& emit) {
  constexpr int kHd = 32 * kD, kHalf = kHd / 2;
  const int lane = threadIdx.x & 31;
  const int i0 = lane * kD;
  float v[kD];
  load_run(x + i0, v);
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kD; ++j) ss += v[j] * v[j];
  ss = warp_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(kHd) + eps);
  float n[kD], y[kD];
#pragma unroll
  for (int j = 0; j < kD; ++j) n[j] = w[i0 + j] * (v[j] * inv);
  const bool first = i0 < kHalf;
  const int f0 = first ? i0 : i0 - kHalf;
#pragma unroll
  for (int j = 0; j < kD; ++j) {
    const float partner = __shfl_xor_sync(0xffffffffu, n[j], 16);
    const float2 r = cos_sin(f0 + j);
    y[j] = first ? n[j] * r.x - partner * r.y : n[j] * r.x + partner * r.y;
  }
  emit(i0, y);
}

template <typename CosSin, typename Emit>
__device__ __forceinline__ void norm_rope_head(const float* x, const float* w, float eps, int hd,
                                               float* buf, CosSin&& cos_sin, Emit&& emit) {
  switch (hd) {
    case 32:
      return norm_rope_head_regs<1>(x, w, eps, cos_sin, emit);
    case 64:
      return norm_rope_head_regs<2>(x, w, eps, cos_sin, emit);
    case 128:
      return norm_rope_head_regs<4>(x, w, eps, cos_sin, emit);
    case 256:
      return norm_rope_head_regs<8>(x, w, eps, cos_sin, emit);
    default:
      break;
  }
  const int lane = threadIdx.x & 31;
  float ss = 0.0f;
  for (int i = lane; i < hd; i += 32) ss += x[i] * x[i];
  ss = warp_sum(ss);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(hd) + eps);
  for (int i = lane; i < hd; i += 32) buf[i] = w[i] * (x[i] * inv);
  __syncwarp();
  const int half = hd / 2;
  for (int i = lane; i < hd; i += 32) {
    const int f = i < half ? i : i - half;
    const float2 r = cos_sin(f);
    const float a = buf[f];
    const float b = buf[f + half];
    const float y[1] = {i < half ? a * r.x - b * r.y : b * r.x + a * r.y};
    emit(i, y);
  }
  __syncwarp();
}

}  // namespace qwen3::cuda
