// What the two decode-attention kernels (attention_decode.cu: float32 SIMT, one position
// per lane; attention_decode_mma.cu: tensor cores, 16 positions per warp step) share, so
// that they differ only in how a warp turns its positions into an online-softmax state:
//   * raw loads of KV pieces;
//   * the CTA's place (item, KV head, query heads) and its shared memory;
//   * the prologue: the heads' q into shared memory, scaled for exp2 (from q, or normed
//     and rotated from the raw qkv row, the row's last split first writing the new k, v);
//   * the epilogue: the warps' states merged through shared memory, then either the row's
//     output or, for a split row, this split's normalised partial and log-sum-exp, the
//     last CTA of the row to arrive (per-row counter, reset by that CTA) merging them all.
#pragma once

#include <cfloat>
#include <type_traits>
#include <utility>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/rope_kv.cuh"

namespace qwen3::cuda::decode_attn {

constexpr int kWarps = kDecodeSplitTokens / 32;  // warps per CTA
constexpr float kLog2e = 1.4426950408889634f;

// kBytes bytes of the pool (1 to 64, naturally aligned) as 32-bit words.
template <int kBytes>
struct Raw {
  uint32_t w[kBytes >= 4 ? kBytes / 4 : 1];
};

template <int kBytes>
__device__ __forceinline__ Raw<kBytes> load_raw(const void* p) {
  Raw<kBytes> r;
  if constexpr (kBytes >= 16) {
#pragma unroll
    for (int i = 0; i < kBytes / 16; ++i) {
      const uint4 u = static_cast<const uint4*>(p)[i];
      r.w[4 * i] = u.x;
      r.w[4 * i + 1] = u.y;
      r.w[4 * i + 2] = u.z;
      r.w[4 * i + 3] = u.w;
    }
  } else if constexpr (kBytes == 8) {
    const uint2 u = *static_cast<const uint2*>(p);
    r.w[0] = u.x;
    r.w[1] = u.y;
  } else if constexpr (kBytes == 4) {
    r.w[0] = *static_cast<const uint32_t*>(p);
  } else if constexpr (kBytes == 2) {
    r.w[0] = *static_cast<const uint16_t*>(p);
  } else {
    r.w[0] = *static_cast<const uint8_t*>(p);
  }
  return r;
}

// N consecutive KV elements, N * sizeof(KV) bytes loaded as one piece.
template <typename KV, int N>
using KvRaw = Raw<N* static_cast<int>(sizeof(KV))>;

template <typename KV, int N>
__device__ __forceinline__ KvRaw<KV, N> load_kv(const KV* p) {
  return load_raw<N* static_cast<int>(sizeof(KV))>(p);
}

// Host: f(std::integral_constant<int, HD>{}) for head_dim == HD among kDims, else the
// refusal (kUnsupported) from `what`: the launchers' head_dim dispatch.
template <int... kDims, typename F>
void with_head_dim(int head_dim, const char* what, const char* refusal, F&& f) {
  const bool done =
      ((head_dim == kDims ? (f(std::integral_constant<int, kDims>{}), true) : false) || ...);
  check_shape(done, what, refusal, true);
}

template <int HD, int kHeads>
struct DecodeSmem {
  float q[kHeads][HD];          // scaled by softmax scale * log2(e) (* FP8 K scale, SIMT)
  float o[kWarps][kHeads][HD];  // per-warp unnormalised outputs
  float m[kWarps][kHeads];      // per-warp running max (log2 units)
  float l[kWarps][kHeads];      // per-warp running sum
  int last;                     // this CTA merges the row's splits
};

// A CTA's place: one split (item) of a row x one KV head x up to kHeads query heads.
// Cheap to compute, so the prologue and the epilogue each do (nothing stays live across the
// kernels' main loops).
struct DecodeCta {
  int kvh;    // KV head
  int quad;   // which kHeads heads of the group
  int head0;  // first query head
  int nh;     // heads of this CTA (<= kHeads)
  int64_t q_stride, kv_dim;
  float v_scale;  // FP8: the pool's V scale (applied to the output), else 1
};

// The item's row of the block tables.
__device__ __forceinline__ const int32_t* decode_table(const PagedAttentionParams& p,
                                                       const AttnDecodeItem& item) {
  return p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
}
// Pool row of position `pos` (table: decode_table's); past the item's end: 0 (the null
// block's first slot, zeroed by CudaKvPool), which the callers weight 0.
__device__ __forceinline__ int64_t decode_slot(const PagedAttentionParams& p,
                                               const AttnDecodeItem& item, const int32_t* table,
                                               int pos) {
  return pos < item.kv_end
             ? static_cast<int64_t>(table[pos / p.block_size]) * p.block_size + pos % p.block_size
             : 0;
}

template <typename KV, int kHeads>
__device__ __forceinline__ DecodeCta decode_cta(const PagedAttentionParams& p) {
  DecodeCta c;
  c.kvh = blockIdx.y;
  c.quad = blockIdx.z;
  const int group = p.heads / p.kv_heads;
  c.head0 = c.kvh * group + c.quad * kHeads;
  c.nh = min(kHeads, group - c.quad * kHeads);
  c.q_stride = static_cast<int64_t>(p.heads) * p.head_dim;
  c.kv_dim = static_cast<int64_t>(p.kv_heads) * p.head_dim;
  c.v_scale = std::is_same_v<KV, __nv_fp8_e4m3> ? kv_scale_or_one(p.v_scale) : 1.0f;
  return c;
}

// After pdl_wait(): s.q[j] = q of head head0 + j times q_scale (0 for j >= nh), from q or
// normed and rotated from the raw qkv row; a row's last split first writes the new token's
// k and v into the pool. Ends with a barrier, so the new rows are visible to the CTA.
template <typename KV, int HD, int kHeads>
__device__ __forceinline__ void decode_prologue(DecodeSmem<HD, kHeads>& s,
                                                const PagedAttentionParams& p,
                                                const AttnDecodeItem& item, float q_scale) {
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const DecodeCta c = decode_cta<KV, kHeads>(p);
  if (p.rope.qkv == nullptr) {  // q normed and rotated by qk_norm_rope_kv
    for (int i = threadIdx.x; i < kHeads * HD; i += blockDim.x) {
      const int j = i / HD;
      const int d = i - j * HD;
      s.q[j][d] = j < c.nh ? p.q[item.row * c.q_stride + (c.head0 + j) * HD + d] * q_scale : 0.f;
    }
  } else {  // from the raw qkv row: warp j norms and rotates head j (s.o is free until the merge)
    const QkNormRopeKvParams& r = p.rope;
    const float* x = r.qkv + item.row * (c.q_stride + 2 * c.kv_dim);
    const float pos = static_cast<float>(r.row_pos[item.row]);
    float* scratch = &s.o[warp][0][0];
    const auto rot = [&](int f) { return rope_cos_sin(r.inv_freq, f, pos, r.attention_scaling); };
    if (warp < c.nh) {
      norm_rope_head(
          x + (c.head0 + warp) * HD, r.q_norm, r.eps, HD, scratch, rot, [&](int i, const auto& y) {
#pragma unroll
            for (int j = 0; j < int(std::extent_v<std::remove_reference_t<decltype(y)>>); ++j)
              s.q[warp][i + j] = y[j] * q_scale;
          });
    } else if (warp < kHeads) {
      for (int i = lane; i < HD; i += 32) s.q[warp][i] = 0.f;
    }
    if (item.split == item.num_splits - 1) {  // this split holds the new token: k, v first
      const int64_t new_slot = r.row_slot[item.row];
      if (warp == kWarps - 1) {
        KV* dst = static_cast<KV*>(const_cast<void*>(p.k_pool)) + new_slot * c.kv_dim + c.kvh * HD;
        const float k_scale = kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f;
        norm_rope_head(x + c.q_stride + c.kvh * HD, r.k_norm, r.eps, HD, scratch, rot,
                       [&](int i, const auto& y) { store_run(dst + i, y, k_scale); });
      } else if (warp == kWarps - 2) {
        KV* dst = static_cast<KV*>(const_cast<void*>(p.v_pool)) + new_slot * c.kv_dim + c.kvh * HD;
        const float* v = x + c.q_stride + c.kv_dim + c.kvh * HD;
        for (int i = lane; i < HD; i += 32) store_kv(dst + i, v[i], c.v_scale);
      }
    }
  }
  __syncthreads();  // also makes the new k, v rows visible to the whole CTA
}

// Every warp has stored its state (s.o unnormalised, s.m, s.l; m = -inf for none): merge
// them, then write the row's output (one split) or this split's partial, the last split of
// the row to arrive merging all of them. Thread (warp j, lane) finishes head j, dims
// lane * HD / 32 ...; every thread of the CTA must call this.
template <typename KV, int HD, int kHeads>
__device__ __forceinline__ void decode_finish(DecodeSmem<HD, kHeads>& s,
                                              const PagedAttentionParams& p,
                                              const AttnDecodeItem& item) {
  static_assert(kHeads <= kWarps, "the merge gives each head one warp");
  constexpr int kDpl = HD / 32;
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const DecodeCta c = decode_cta<KV, kHeads>(p);
  __syncthreads();
  const int j = warp < kHeads ? warp : 0;  // warps past kHeads only join the barriers
  float mx = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, s.m[w][j]);
  float lsum = 0.f, acc[kDpl] = {};
#pragma unroll
  for (int w = 0; w < kWarps; ++w) {
    const float f = s.m[w][j] == -INFINITY ? 0.f : exp2f(s.m[w][j] - mx);
    lsum = fmaf(s.l[w][j], f, lsum);
#pragma unroll
    for (int d = 0; d < kDpl; ++d) acc[d] = fmaf(s.o[w][j][lane * kDpl + d], f, acc[d]);
  }
  const bool head_ok = warp < kHeads && j < c.nh;
  const int head = c.head0 + j;
  float* out = p.out + item.row * c.q_stride + static_cast<int64_t>(head) * HD + lane * kDpl;
  if (item.num_splits == 1) {
    if (head_ok) {
#pragma unroll
      for (int d = 0; d < kDpl; ++d) out[d] = acc[d] * (c.v_scale / lsum);
    }
    return;
  }

  // Split row: this CTA's normalised output and log2-sum-exp, then the last one merges.
  const int64_t slot0 = static_cast<int64_t>(item.first_partial) * p.heads;
  if (head_ok) {
    float* po = p.partial_o + (slot0 + static_cast<int64_t>(item.split) * p.heads + head) * HD;
#pragma unroll
    for (int d = 0; d < kDpl; ++d) po[lane * kDpl + d] = acc[d] / lsum;
    if (lane == 0)
      p.partial_lse[slot0 + static_cast<int64_t>(item.split) * p.heads + head] = mx + log2f(lsum);
  }
  __threadfence();
  __syncthreads();
  int* counter = p.decode_counters +
                 (static_cast<int64_t>(item.counter) * p.kv_heads + c.kvh) * gridDim.z + c.quad;
  if (threadIdx.x == 0) {
    const int arrived = atomicAdd(counter, 1);
    s.last = arrived == item.num_splits - 1;
    if (s.last) *counter = 0;  // ready for the next launch
  }
  __syncthreads();
  if (!s.last || !head_ok) return;
  __threadfence();
  // One pass with a running maximum, kMergeBatch splits' loads in flight at a time.
  constexpr int kMergeBatch = 8;
  float gmx = -INFINITY, wsum = 0.f, res[kDpl] = {};
  for (int sp0 = 0; sp0 < item.num_splits; sp0 += kMergeBatch) {
    float lse[kMergeBatch], po[kMergeBatch][kDpl];
#pragma unroll
    for (int b = 0; b < kMergeBatch; ++b) {  // past the last split: its loads again, unused
      const int sp = sp0 + b < item.num_splits ? sp0 + b : item.num_splits - 1;
      const int64_t ps = slot0 + static_cast<int64_t>(sp) * p.heads + head;
      lse[b] = __ldcg(p.partial_lse + ps);
#pragma unroll
      for (int d = 0; d < kDpl; ++d) po[b][d] = __ldcg(p.partial_o + ps * HD + lane * kDpl + d);
    }
#pragma unroll
    for (int b = 0; b < kMergeBatch; ++b) {
      if (sp0 + b >= item.num_splits) break;
      const float m_new = fmaxf(gmx, lse[b]);
      const float cf = exp2f(gmx - m_new);  // 0 on the first split
      const float w = exp2f(lse[b] - m_new);
      wsum = fmaf(wsum, cf, w);
#pragma unroll
      for (int d = 0; d < kDpl; ++d) res[d] = fmaf(res[d], cf, w * po[b][d]);
      gmx = m_new;
    }
  }
#pragma unroll
  for (int d = 0; d < kDpl; ++d) out[d] = res[d] * (c.v_scale / wsum);
}

}  // namespace qwen3::cuda::decode_attn
