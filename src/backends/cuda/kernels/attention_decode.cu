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
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/attention_decode.h"
#include "backends/cuda/kernels/attention_decode_common.cuh"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

using namespace decode_attn;

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

template <typename KV, int HD, int kHeads>
__global__ void __launch_bounds__(kWarps * 32)
    decode_attention_kernel(const PagedAttentionParams p) {
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
  const int32_t* table = decode_table(p, item);
  int base = item.kv_begin + warp * 32;
  int64_t slot = decode_slot(p, item, table, base + lane);
  pdl_wait();

  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  decode_prologue<KV, HD, kHeads>(s, p, item,
                                  p.scale * kLog2e * (kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f));

  const int kvh = blockIdx.y;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
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
    const int64_t next_slot = decode_slot(p, item, table, base + kWarps * 32 + lane);  // in flight

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

#pragma unroll
  for (int j = 0; j < kHeads; ++j) {
#pragma unroll
    for (int d = 0; d < kDpl; ++d) s.o[warp][j][lane * kDpl + d] = o[j][d];
    if (lane == 0) {
      s.m[warp][j] = m[j];
      s.l[warp][j] = l[j];
    }
  }
  decode_finish<KV, HD, kHeads>(s, p, item);
}

template <typename KV, int HD>
void launch_typed(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream) {
  if (p.decode_heads_per_cta == 1) {
    launch_kernel("decode_attention_kernel", decode_attention_kernel<KV, HD, 1>, grid,
                  dim3(kWarps * 32), 0, stream, p);
  } else {
    launch_kernel("decode_attention_kernel", decode_attention_kernel<KV, HD, kDecodeHeadsPerCta>,
                  grid, dim3(kWarps * 32), 0, stream, p);
  }
}

template <typename KV>
void launch_head_dim(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream) {
  with_head_dim<32, 64, 128, 256>(
      p.head_dim, "decode_attention", "head_dim must be 32, 64, 128 or 256",
      [&](auto hd) { launch_typed<KV, decltype(hd)::value>(p, grid, stream); });
}

}  // namespace

void launch_decode_attention(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.num_decode_items <= 0) return;
  check_shape(p.decode_heads_per_cta == 1 || p.decode_heads_per_cta == kDecodeHeadsPerCta,
              "decode_attention", "decode_heads_per_cta must be 1 or 4", true);
  check_shape(p.rope.qkv == nullptr || p.num_items == 0, "decode_attention",
              "q/k-norm + RoPE in the decode kernel needs a step of decode rows only", true);
  // Both kernels: decode items x KV heads x the group's heads in CTAs of decode_heads_per_cta.
  const dim3 grid(
      static_cast<unsigned>(p.num_decode_items), static_cast<unsigned>(p.kv_heads),
      static_cast<unsigned>(decode_attention_quads(p.heads / p.kv_heads, p.decode_heads_per_cta)));
  if (decode_attention_uses_mma(p)) return launch_decode_attention_mma(p, grid, stream);
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      return launch_head_dim<__nv_bfloat16>(p, grid, stream);
    case KvDtype::kF32:
      return launch_head_dim<float>(p, grid, stream);
    case KvDtype::kFp8E4M3:
      return launch_head_dim<__nv_fp8_e4m3>(p, grid, stream);
  }
}

}  // namespace qwen3::cuda
