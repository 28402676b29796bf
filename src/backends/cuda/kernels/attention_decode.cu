// Decode attention (attention.h: one new token per row), flash-decoding style:
//   * a CTA = one split of a row's context x one KV head x HEADS query heads of its group
//     (4, or 1 for short contexts, where the per-lane arithmetic, not the KV bytes, is
//     what takes the time); 4 warps, each taking 32-position chunks, one position per
//     lane: a lane reads its position's whole K row (all its loads in flight together)
//     and dots it with the heads' q from shared memory, so no shuffle sits inside the dot
//     product; the chunk's V rows are read by the warp at the same time, one piece of
//     every row per lane (coalesced), and weighted with the softmax numbers broadcast by
//     shuffles;
//   * the 4 warps' online-softmax states merge through shared memory;
//   * a row split over several CTAs: each writes its normalised output and log-sum-exp,
//     and the last CTA of the row to finish (a per-row counter, reset by that CTA for
//     the next launch) merges them in one pass (all splits' loads in flight), so no
//     second kernel runs.
#include <cfloat>
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/attention_decode.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/rope_kv.cuh"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = kDecodeSplitTokens / 32;
constexpr float kLog2e = 1.4426950408889634f;

// kBytes bytes of the pool (1 to 32, naturally aligned) as 32-bit words.
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

// The stored values as floats (FP8: unscaled; the kernel folds the scales in).
template <typename KV, int N>
__device__ __forceinline__ void to_float(const KvRaw<KV, N>& r, float* f) {
  if constexpr (std::is_same_v<KV, float>) {
#pragma unroll
    for (int i = 0; i < N; ++i) f[i] = __uint_as_float(r.w[i]);
  } else if constexpr (std::is_same_v<KV, __nv_bfloat16>) {
#pragma unroll
    for (int i = 0; i < N; ++i) f[i] = (i & 1) ? bf16_hi(r.w[i / 2]) : bf16_lo(r.w[i / 2]);
  } else if constexpr (N >= 4) {
#pragma unroll
    for (int i = 0; i < N / 4; ++i) {
      const float4 v = kv_fp8x4_to_float4(r.w[i]);
      f[4 * i] = v.x;
      f[4 * i + 1] = v.y;
      f[4 * i + 2] = v.z;
      f[4 * i + 3] = v.w;
    }
  } else {
    const float2 v = kv_fp8x2_to_float2(r.w[0]);
    f[0] = v.x;
    if constexpr (N == 2) f[1] = v.y;
  }
}

template <int HD, int kHeads>
struct DecodeSmem {
  float q[kHeads][HD];          // scaled by softmax scale * log2(e) (* FP8 K scale)
  float o[kWarps][kHeads][HD];  // per-warp unnormalised outputs
  float m[kWarps][kHeads];      // per-warp running max (log2 units)
  float l[kWarps][kHeads];      // per-warp running sum
  int last;                     // this CTA merges the row's splits
};

template <typename KV, int N>
__device__ __forceinline__ KvRaw<KV, N> load_kv(const KV* p) {
  return load_raw<N* static_cast<int>(sizeof(KV))>(p);
}

template <typename KV, int HD, int kHeads>
__global__ void __launch_bounds__(kWarps * 32)
    decode_attention_kernel(const PagedAttentionParams p) {
  static_assert(kHeads <= kWarps, "the merge gives each head one warp");
  constexpr int kDpl = HD / 32;  // V dims per lane, contiguous
  constexpr int kKPiece = 16 / int(sizeof(KV)) < HD ? 16 / int(sizeof(KV)) : HD;
  constexpr int kKPieces = HD / kKPiece;                          // K row pieces per lane
  constexpr int kKBatch = kKPieces < 16 ? kKPieces : 16;          // <= 256 B of K in flight
  constexpr int kVBatch = kDpl * int(sizeof(KV)) <= 8 ? 32 : 16;  // V rows per batch
  __shared__ DecodeSmem<HD, kHeads> s;

  // The plan (items, block tables) was copied before the step's first kernel: read it
  // while the previous kernel finishes; q and this step's K/V only after pdl_wait().
  pdl_trigger();
  const AttnDecodeItem item = p.decode_items[blockIdx.x];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int32_t* table = p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
  // Pool row of position `pos`; past the end: 0 (the null block's first slot, zeroed by
  // CudaKvPool), weighted 0.
  auto slot_of = [&](int pos) -> int64_t {
    return pos < item.kv_end
               ? static_cast<int64_t>(table[pos / p.block_size]) * p.block_size + pos % p.block_size
               : 0;
  };
  int base = item.kv_begin + warp * 32;
  int64_t slot = slot_of(base + lane);
  pdl_wait();

  const int kvh = blockIdx.y;
  const int quad = blockIdx.z;
  const int group = p.heads / p.kv_heads;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * HD;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
  const int head0 = kvh * group + quad * kHeads;      // first query head
  const int nh = min(kHeads, group - quad * kHeads);  // heads of this CTA
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  const float q_scale = p.scale * kLog2e * (kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f);
  const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;

  if (p.rope.qkv == nullptr) {  // q normed and rotated by qk_norm_rope_kv
    for (int i = threadIdx.x; i < kHeads * HD; i += blockDim.x) {
      const int j = i / HD;
      const int d = i - j * HD;
      s.q[j][d] = j < nh ? p.q[item.row * q_stride + (head0 + j) * HD + d] * q_scale : 0.f;
    }
  } else {  // from the raw qkv row: warp j norms and rotates head j (s.o is free until the merge)
    const QkNormRopeKvParams& r = p.rope;
    const float* x = r.qkv + item.row * (q_stride + 2 * kv_dim);
    const float pos = static_cast<float>(r.row_pos[item.row]);
    float* scratch = &s.o[warp][0][0];
    if (warp < nh) {
      norm_rope_head(x + (head0 + warp) * HD, r.q_norm, r.inv_freq, pos, r.attention_scaling,
                     r.eps, HD, scratch, [&](int i, float y) { s.q[warp][i] = y * q_scale; });
    } else if (warp < kHeads) {
      for (int i = lane; i < HD; i += 32) s.q[warp][i] = 0.f;
    }
    if (item.split == item.num_splits - 1) {  // this split holds the new token: k, v first
      const int64_t new_slot = r.row_slot[item.row];
      if (warp == kWarps - 1) {
        KV* dst = static_cast<KV*>(const_cast<void*>(p.k_pool)) + new_slot * kv_dim + kvh * HD;
        const float k_scale = kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f;
        norm_rope_head(x + q_stride + kvh * HD, r.k_norm, r.inv_freq, pos, r.attention_scaling,
                       r.eps, HD, scratch, [&](int i, float y) { store_kv(dst + i, y, k_scale); });
      } else if (warp == kWarps - 2) {
        KV* dst = static_cast<KV*>(const_cast<void*>(p.v_pool)) + new_slot * kv_dim + kvh * HD;
        const float* v = x + q_stride + kv_dim + kvh * HD;
        for (int i = lane; i < HD; i += 32) store_kv(dst + i, v[i], v_scale);
      }
    }
  }
  __syncthreads();  // also makes the new k, v rows visible to the whole CTA

  const KV* kp = static_cast<const KV*>(p.k_pool) + kvh * HD;
  const KV* vp = static_cast<const KV*>(p.v_pool) + kvh * HD + lane * kDpl;

  float o[kHeads][kDpl];
  float m[kHeads], l[kHeads];
#pragma unroll
  for (int j = 0; j < kHeads; ++j) {
    m[j] = -INFINITY;
    l[j] = 0.f;
#pragma unroll
    for (int d = 0; d < kDpl; ++d) o[j][d] = 0.f;
  }

  for (; base < item.kv_end; base += kWarps * 32) {
    const int n_valid = min(32, item.kv_end - base);
    const bool valid = lane < n_valid;
    const int64_t next_slot = slot_of(base + kWarps * 32 + lane);  // in flight meanwhile

    // This chunk's first V rows go out with its K rows.
    KvRaw<KV, kDpl> vr[kVBatch];
    auto load_v = [&](int t0) {
#pragma unroll
      for (int t = 0; t < kVBatch; ++t) {
        const int64_t st = __shfl_sync(0xffffffffu, slot, t0 + t);
        vr[t] = load_kv<KV, kDpl>(vp + st * kv_dim);
      }
    };

    // Scores of this lane's position for the CTA's heads.
    float sc[kHeads];
#pragma unroll
    for (int j = 0; j < kHeads; ++j) sc[j] = 0.f;
    const KV* krow = kp + slot * kv_dim;
#pragma unroll
    for (int b0 = 0; b0 < kKPieces; b0 += kKBatch) {
      KvRaw<KV, kKPiece> kr[kKBatch];
#pragma unroll
      for (int b = 0; b < kKBatch; ++b) kr[b] = load_kv<KV, kKPiece>(krow + (b0 + b) * kKPiece);
      if (b0 == 0) load_v(0);
#pragma unroll
      for (int b = 0; b < kKBatch; ++b) {
        float kf[kKPiece];
        to_float<KV, kKPiece>(kr[b], kf);
        const int d0 = (b0 + b) * kKPiece;
#pragma unroll
        for (int j = 0; j < kHeads; ++j) {
#pragma unroll
          for (int e = 0; e < kKPiece; ++e) sc[j] = fmaf(s.q[j][d0 + e], kf[e], sc[j]);
        }
      }
    }

    float pr[kHeads];
#pragma unroll
    for (int j = 0; j < kHeads; ++j) {
      const float sj = valid ? sc[j] : -INFINITY;
      const float m_new = fmaxf(m[j], warp_max(sj));  // finite: lane 0 is always valid
      const float corr = exp2f(m[j] - m_new);
      pr[j] = exp2f(sj - m_new);
      l[j] = l[j] * corr + warp_sum(pr[j]);
      m[j] = m_new;
#pragma unroll
      for (int d = 0; d < kDpl; ++d) o[j][d] *= corr;
    }

    // P V: this lane's kDpl dims of the chunk's rows.
    for (int t0 = 0; t0 < n_valid; t0 += kVBatch) {
      if (t0 > 0) load_v(t0);
#pragma unroll
      for (int t = 0; t < kVBatch; ++t) {
        float vf[kDpl];
        to_float<KV, kDpl>(vr[t], vf);
#pragma unroll
        for (int j = 0; j < kHeads; ++j) {
          const float pj = __shfl_sync(0xffffffffu, pr[j], t0 + t);
#pragma unroll
          for (int d = 0; d < kDpl; ++d) o[j][d] = fmaf(pj, vf[d], o[j][d]);
        }
      }
    }
    slot = next_slot;
  }

  // Merge the warps: thread (warp j, lane) finishes head j, dims lane * kDpl ...
#pragma unroll
  for (int j = 0; j < kHeads; ++j) {
#pragma unroll
    for (int d = 0; d < kDpl; ++d) s.o[warp][j][lane * kDpl + d] = o[j][d];
    if (lane == 0) {
      s.m[warp][j] = m[j];
      s.l[warp][j] = l[j];
    }
  }
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
  const bool head_ok = warp < kHeads && j < nh;
  const int head = head0 + j;
  float* out = p.out + item.row * q_stride + static_cast<int64_t>(head) * HD + lane * kDpl;
  if (item.num_splits == 1) {
    if (head_ok) {
#pragma unroll
      for (int d = 0; d < kDpl; ++d) out[d] = acc[d] * (v_scale / lsum);
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
                 (static_cast<int64_t>(item.counter) * p.kv_heads + kvh) * gridDim.z + quad;
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
      const float c = exp2f(gmx - m_new);  // 0 on the first split
      const float w = exp2f(lse[b] - m_new);
      wsum = fmaf(wsum, c, w);
#pragma unroll
      for (int d = 0; d < kDpl; ++d) res[d] = fmaf(res[d], c, w * po[b][d]);
      gmx = m_new;
    }
  }
#pragma unroll
  for (int d = 0; d < kDpl; ++d) out[d] = res[d] * (v_scale / wsum);
}

template <typename KV, int HD>
void launch_typed(const PagedAttentionParams& p, int ctas, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.num_decode_items), static_cast<unsigned>(p.kv_heads),
                  static_cast<unsigned>(ctas));
  if (p.decode_heads_per_cta == 1) {
    launch_kernel("decode_attention_kernel", decode_attention_kernel<KV, HD, 1>, grid,
                  dim3(kWarps * 32), 0, stream, p);
  } else {
    launch_kernel("decode_attention_kernel", decode_attention_kernel<KV, HD, kDecodeHeadsPerCta>,
                  grid, dim3(kWarps * 32), 0, stream, p);
  }
}

template <typename KV>
void launch_head_dim(const PagedAttentionParams& p, int ctas, cudaStream_t stream) {
  switch (p.head_dim) {
    case 32:
      return launch_typed<KV, 32>(p, ctas, stream);
    case 64:
      return launch_typed<KV, 64>(p, ctas, stream);
    case 128:
      return launch_typed<KV, 128>(p, ctas, stream);
    case 256:
      return launch_typed<KV, 256>(p, ctas, stream);
    default:
      check_shape(false, "decode_attention", "head_dim must be 32, 64, 128 or 256", true);
  }
}

}  // namespace

void launch_decode_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.num_decode_items <= 0) return;
  check_shape(p.decode_heads_per_cta == 1 || p.decode_heads_per_cta == kDecodeHeadsPerCta,
              "decode_attention", "decode_heads_per_cta must be 1 or 4", true);
  check_shape(p.rope.qkv == nullptr || p.num_items == 0, "decode_attention",
              "q/k-norm + RoPE in the decode kernel needs a step of decode rows only", true);
  const int ctas = decode_attention_quads(p.heads / p.kv_heads, p.decode_heads_per_cta);
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      return launch_head_dim<__nv_bfloat16>(p, ctas, stream);
    case KvDtype::kF32:
      return launch_head_dim<float>(p, ctas, stream);
    case KvDtype::kFp8E4M3:
      return launch_head_dim<__nv_fp8_e4m3>(p, ctas, stream);
  }
}

}  // namespace qwen3::cuda
