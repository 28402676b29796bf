// Device pieces of the attention prologue shared by qk_norm_rope_kv (rope_kv.cu) and the
// decode attention kernel when it takes a decode step's qkv rows raw (attention_decode.cu):
// one head's RMSNorm + rotate-half RoPE as a warp computes it, and one KV element's store
// into the pool. Both callers go through these, so the fused path's q, k and pool bytes
// equal the separate kernel's bit for bit.
#pragma once

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

// The whole warp: y = RoPE(w * x / rms(x)) at `pos` for one head of hd (even) values;
// emit(i, y_i) is called for the dims i = lane, lane + 32, ... buf: hd floats of shared
// memory private to the warp (free again on return).
template <typename Emit>
__device__ __forceinline__ void norm_rope_head(const float* x, const float* w,
                                               const float* inv_freq, float pos, float scaling,
                                               float eps, int hd, float* buf, Emit&& emit) {
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
    const float angle = pos * inv_freq[f];
    const float c = cosf(angle) * scaling;
    const float s = sinf(angle) * scaling;
    const float a = buf[f];
    const float b = buf[f + half];
    emit(i, i < half ? a * c - b * s : b * c + a * s);
  }
  __syncwarp();
}

}  // namespace qwen3::cuda
