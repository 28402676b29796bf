// Decode attention on tensor cores (mma.sync m16n8k16, sm_80+), for a BF16 or FP8 pool,
// head_dim 32, 64 or 128 and the CTAs of kDecodeHeadsPerCta query heads (the planner's shape
// above kDecodeNarrowMaxTokens decode positions; below, the one-head SIMT CTAs' shorter
// serial chain is as fast, and the step is latency, not bytes or arithmetic): the same
// CTAs, prologue and split merge as the float32 SIMT kernel (attention_decode_common.cuh),
// but a warp takes 16 positions at a time as two products:
//   * S = Q K^T: A = the CTA's query heads (rows; at most 8, so rows 8..15 are zero),
//     B = K^T (columns = positions g and 8 + g of lane g / 4). The dot product's dims are
//     permuted so that a lane's B pieces are one contiguous run of its position's K row
//     (lane t = lane % 4 reads dims HD/4 t .. + HD/4, all its loads in flight together);
//     Q's fragments use the same permutation.
//   * O^T += V^T P^T: A = V^T (rows = dims, HD/8 consecutive dims per lane of each of four
//     positions, paired across positions with byte permutes), B = P^T, which is S's
//     accumulator layout as it stands (no shuffles), so the heads are O^T's columns.
// Precision: each float operand (q, the softmax weights) is split as hi + lo in the
// product's type (BF16 for a BF16 pool, f16 for FP8, whose values f16 holds exactly) and
// both halves multiplied, so the products carry ~16 (BF16) / ~22 (f16) bits of the float
// operands and K / V exactly: float32-class results, like the SIMT kernel's. An FP8 pool's
// K scale multiplies the float scores, its V scale the output.
// Why: the SIMT kernel spends ~45 instructions per position and KV head (one FMA per dim
// and head for S, another for P V) and runs at ~12 TFLOP/s whatever the pool, so at long
// contexts it is bound by arithmetic, and an FP8 pool (half the bytes) was no faster than
// BF16; here a position costs ~10 warp instructions.
#include <cuda_fp16.h>

#include <cstring>
#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/attention_decode.h"
#include "backends/cuda/kernels/attention_decode_common.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/mma_sync.cuh"

namespace qwen3::cuda {
namespace {

using namespace decode_attn;

constexpr int kTile = 16;  // positions per pair of products
constexpr unsigned kFull = 0xffffffffu;

// Two floats -> the products' type (kF16: f16, else BF16), lower index in the low half.
template <bool kF16>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  if constexpr (kF16) {
    const __half2 h = __floats2half2_rn(lo, hi);
    uint32_t r;
    memcpy(&r, &h, sizeof r);
    return r;
  } else {
    return pack_bf16(lo, hi);
  }
}

template <bool kF16>
__device__ __forceinline__ float2 unpack2(uint32_t w) {
  if constexpr (kF16) {
    __half2 h;
    memcpy(&h, &w, sizeof h);
    return __half22float2(h);
  } else {
    return make_float2(bf16_lo(w), bf16_hi(w));
  }
}

// (a, b) = hi + lo, both pairs in the products' type.
template <bool kF16>
__device__ __forceinline__ void split2(float a, float b, uint32_t& hi, uint32_t& lo) {
  hi = pack2<kF16>(a, b);
  const float2 h = unpack2<kF16>(hi);
  lo = pack2<kF16>(a - h.x, b - h.y);
}

template <bool kF16>
__device__ __forceinline__ void mma(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                    uint32_t a3, uint32_t b0, uint32_t b1) {
  if constexpr (kF16) {
    mma_16816(c, a0, a1, a2, a3, b0, b1);
  } else {
    const uint32_t a[4] = {a0, a1, a2, a3};
    mma_bf16(c, a, b0, b1);
  }
}

// A shared-memory load the compiler keeps where it is written (not hoisted out of the loop
// into registers, which is what keeping the data in shared memory avoids).
__device__ __forceinline__ uint4 load_shared_v4(const uint4* p) {
  uint4 r;
  asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "r"(smem_u32(p)));
  return r;
}

template <typename KV, int HD, int kHeads>
__global__ void __launch_bounds__(kWarps * 32, 4)
    decode_attention_mma_kernel(const PagedAttentionParams p) {
  static_assert(kHeads <= 8, "the heads are the products' 8 columns");
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  constexpr bool kF16 = kFp8;
  constexpr int kKSteps = HD / 16;  // S: 16 dims per product
  constexpr int kKDims = HD / 4;    // K dims per lane, of one position
  constexpr int kVDims = HD / 8;    // V dims per lane, of each of four positions
  constexpr int kMTiles = HD / 16;  // O^T: 16 dims per product
  // Tiles of 16 positions per warp step, all their loads issued first: two for an FP8 pool
  // (one would keep too few bytes in flight per SM: ~2 TB/s on an H200), one for BF16 (two
  // would cost the registers of a second resident CTA).
  constexpr int kSub = sizeof(KV) == 1 ? 2 : 1;
  constexpr int kStep = kTile * kSub;
  __shared__ DecodeSmem<HD, kHeads> s;
  __shared__ uint4 qf[kKSteps][kWarps * 32];  // each thread's Q fragments

  pdl_trigger();
  const AttnDecodeItem item = p.decode_items[blockIdx.x];
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  // Lane l looks up position base + l % kStep of the warp's step; the others get it by
  // shuffles.
  const int32_t* table = decode_table(p, item);
  int base = item.kv_begin + warp * kStep;
  int64_t slot = decode_slot(p, item, table, base + (lane & (kStep - 1)));
  pdl_wait();

  decode_prologue<KV, HD, kHeads>(s, p, item, p.scale * kLog2e);
  const float score_scale = kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f;

  // Q as A (row g = head g): k-step ks covers dims kKDims t + 4 ks .. + 3, as b0 / b1 of K.
  // Each thread keeps its fragments (hi0, hi1, lo0, lo1) in shared memory, not in registers:
  // 32 of them at head_dim 128, which took the kernel from 192 registers (two CTAs per SM)
  // to 128 (four).
#pragma unroll
  for (int ks = 0; ks < kKSteps; ++ks) {
    const float4 v =
        g < kHeads ? *reinterpret_cast<const float4*>(&s.q[g < kHeads ? g : 0][kKDims * t + 4 * ks])
                   : make_float4(0.f, 0.f, 0.f, 0.f);
    uint4 f;
    split2<kF16>(v.x, v.y, f.x, f.z);
    split2<kF16>(v.z, v.w, f.y, f.w);
    qf[ks][threadIdx.x] = f;
  }
  __syncwarp();  // orders the stores before load_shared_v4's reads (a compiler barrier)

  const int kvh = blockIdx.y;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
  const KV* kp = static_cast<const KV*>(p.k_pool) + kvh * HD + kKDims * t;
  const KV* vp = static_cast<const KV*>(p.v_pool) + kvh * HD + kVDims * g;
  float o[kMTiles][4];  // O^T: o[mt] = dims kVDims g + 2 mt (+1 in [2], [3]) x heads 2t, 2t+1
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.f;
  float m = -INFINITY;  // head g's running maximum (log2 units)
  float l = 0.f;        // this lane's share of head g's running sum

  for (; base < item.kv_end; base += kWarps * kStep) {
    const int64_t next_slot =
        decode_slot(p, item, table, base + kWarps * kStep + (lane & (kStep - 1)));
    // Every load of the step first. Tile u's K: positions 16u + g and 16u + 8 + g (S's
    // columns); its V: 16u + 2t, 2t + 1, 8 + 2t, 9 + 2t (P V's k).
    KvRaw<KV, kKDims> kr[kSub][2];
    KvRaw<KV, kVDims> vr[kSub][4];
#pragma unroll
    for (int u = 0; u < kSub; ++u) {
#pragma unroll
      for (int n = 0; n < 2; ++n) {
        const int64_t sk = __shfl_sync(kFull, slot, kTile * u + 8 * n + g);
        kr[u][n] = load_kv<KV, kKDims>(kp + sk * kv_dim);
      }
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t sv = __shfl_sync(kFull, slot, kTile * u + (i >> 1) * 8 + 2 * t + (i & 1));
        vr[u][i] = load_kv<KV, kVDims>(vp + sv * kv_dim);
      }
    }

#pragma unroll
    for (int u = 0; u < kSub; ++u) {
      const int tile = base + kTile * u;
      if (tile >= item.kv_end) break;  // warp-uniform
      float sc[2][4] = {};
#pragma unroll
      for (int ks = 0; ks < kKSteps; ++ks) {
        const uint4 q = load_shared_v4(&qf[ks][threadIdx.x]);
#pragma unroll
        for (int n = 0; n < 2; ++n) {
          uint32_t b0, b1;
          if constexpr (kFp8) {
            b0 = kv_fp8x2_to_f16x2(kr[u][n].w[ks]);
            b1 = kv_fp8x2_to_f16x2(kr[u][n].w[ks] >> 16);
          } else {
            b0 = kr[u][n].w[2 * ks];
            b1 = kr[u][n].w[2 * ks + 1];
          }
          mma<kF16>(sc[n], q.x, 0u, q.y, 0u, b0, b1);
          mma<kF16>(sc[n], q.z, 0u, q.w, 0u, b0, b1);
        }
      }

      // Online softmax of head g: this lane holds positions tile + 8n + 2t + e (n, e = 0, 1).
      float x[4];
#pragma unroll
      for (int n = 0; n < 2; ++n)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          x[2 * n + e] =
              tile + 8 * n + 2 * t + e < item.kv_end ? sc[n][e] * score_scale : -INFINITY;
      float tmax = fmaxf(fmaxf(x[0], x[1]), fmaxf(x[2], x[3]));
      tmax = fmaxf(tmax, __shfl_xor_sync(kFull, tmax, 1));
      tmax = fmaxf(tmax, __shfl_xor_sync(kFull, tmax, 2));
      const float m_new = fmaxf(m, tmax);  // finite: position `tile` is valid
      const float corr = exp2f(m - m_new);
      float pr[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) pr[i] = exp2f(x[i] - m_new);
      l = fmaf(l, corr, (pr[0] + pr[1]) + (pr[2] + pr[3]));
      m = m_new;
      // O^T's columns are heads 2t and 2t + 1, whose corrections are in lanes 8t and 8t + 4.
      const float c0 = __shfl_sync(kFull, corr, 8 * t), c1 = __shfl_sync(kFull, corr, 8 * t + 4);
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        o[mt][0] *= c0;
        o[mt][1] *= c1;
        o[mt][2] *= c0;
        o[mt][3] *= c1;
      }

      // P^T as B: b0 = P[g][2t, 2t + 1], b1 = P[g][8 + 2t, 9 + 2t], i.e. pr as it is.
      uint32_t ph0, pl0, ph1, pl1;
      split2<kF16>(pr[0], pr[1], ph0, pl0);
      split2<kF16>(pr[2], pr[3], ph1, pl1);
      // V^T as A: m-tile mt's row g is dim kVDims g + 2 mt, row g + 8 the next dim; a0 / a1
      // hold positions 2t, 2t + 1 (vr[u][0], [1]), a2 / a3 positions 8 + 2t, 9 + 2t.
      const auto& v = vr[u];
#pragma unroll
      for (int mt = 0; mt < kMTiles; ++mt) {
        uint32_t a0, a1, a2, a3;
        if constexpr (kFp8) {
          // Bytes (pos i d, pos i+1 d, pos i d+1, pos i+1 d+1) of word mt / 2, then to f16.
          constexpr uint32_t kSel[2] = {0x5140u, 0x7362u};
          const uint32_t u01 = __byte_perm(v[0].w[mt / 2], v[1].w[mt / 2], kSel[mt & 1]);
          const uint32_t u23 = __byte_perm(v[2].w[mt / 2], v[3].w[mt / 2], kSel[mt & 1]);
          a0 = kv_fp8x2_to_f16x2(u01);
          a1 = kv_fp8x2_to_f16x2(u01 >> 16);
          a2 = kv_fp8x2_to_f16x2(u23);
          a3 = kv_fp8x2_to_f16x2(u23 >> 16);
        } else {
          a0 = __byte_perm(v[0].w[mt], v[1].w[mt], 0x5410u);  // low halves: dim d
          a1 = __byte_perm(v[0].w[mt], v[1].w[mt], 0x7632u);  // high halves: dim d + 1
          a2 = __byte_perm(v[2].w[mt], v[3].w[mt], 0x5410u);
          a3 = __byte_perm(v[2].w[mt], v[3].w[mt], 0x7632u);
        }
        mma<kF16>(o[mt], a0, a1, a2, a3, ph0, ph1);
        mma<kF16>(o[mt], a0, a1, a2, a3, pl0, pl1);
      }
    }
    slot = next_slot;
  }

  // The warp's state into shared memory for decode_finish.
  l += __shfl_xor_sync(kFull, l, 1);
  l += __shfl_xor_sync(kFull, l, 2);
  const int h0 = 2 * t, h1 = 2 * t + 1;
#pragma unroll
  for (int mt = 0; mt < kMTiles; ++mt) {
    const int d = kVDims * g + 2 * mt;
    if (h0 < kHeads) {
      s.o[warp][h0 < kHeads ? h0 : 0][d] = o[mt][0];
      s.o[warp][h0 < kHeads ? h0 : 0][d + 1] = o[mt][2];
    }
    if (h1 < kHeads) {
      s.o[warp][h1 < kHeads ? h1 : 0][d] = o[mt][1];
      s.o[warp][h1 < kHeads ? h1 : 0][d + 1] = o[mt][3];
    }
  }
  if (t == 0 && g < kHeads) {
    s.m[warp][g] = m;
    s.l[warp][g] = l;
  }
  decode_finish<KV, HD, kHeads>(s, p, item);
}

template <typename KV, int HD>
void launch_typed(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream) {
  launch_kernel("decode_attention_mma_kernel",
                decode_attention_mma_kernel<KV, HD, kDecodeHeadsPerCta>, grid, dim3(kWarps * 32), 0,
                stream, p);
}

template <typename KV>
void launch_head_dim(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream) {
  with_head_dim<32, 64, 128>(
      p.head_dim, "decode_attention_mma", "head_dim must be 32, 64 or 128",
      [&](auto hd) { launch_typed<KV, decltype(hd)::value>(p, grid, stream); });
}

}  // namespace

void launch_decode_attention_mma(const PagedAttentionParams& p, dim3 grid, cudaStream_t stream) {
  check_shape(p.decode_heads_per_cta == kDecodeHeadsPerCta, "decode_attention_mma",
              "the tensor-core kernel takes kDecodeHeadsPerCta query heads per CTA", true);
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      return launch_head_dim<__nv_bfloat16>(p, grid, stream);
    case KvDtype::kFp8E4M3:
      return launch_head_dim<__nv_fp8_e4m3>(p, grid, stream);
    case KvDtype::kF32:
      check_shape(false, "decode_attention_mma", "a float32 pool runs the SIMT kernel", true);
  }
}

}  // namespace qwen3::cuda
