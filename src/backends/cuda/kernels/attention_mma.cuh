// Tensor-core paged attention (FlashAttention-2 style) for a BF16 or FP8 E4M3 KV pool and
// head_dim 64 or 128; included by attention.cu, which dispatches to it
// (paged_attention_uses_mma).
//
// One CTA = one AttnWorkItem x one KV head: up to kAttnMaxQueries (row, head) queries,
// 4 warps x 16 queries (query qi = row_in_item * group + head_in_group, so a K/V tile is
// shared by the whole GQA group). Per 64-key tile:
//   * K and V rows are gathered through the block table with cp.async into a double-
//     buffered shared-memory stage (rows padded by 16 bytes: ldmatrix conflict-free);
//     an FP8 pool's rows are loaded to registers instead (16 values per 16-byte load)
//     while the previous tile is computed, then converted to BF16 (exact) and stored
//     into the other stage; its scales are folded into the softmax scale (K) and the
//     epilogue (V), see attention.h;
//   * S = Q K^T with mma.sync m16n8k16 BF16 (Q fragments stay in registers), scaled by
//     scale * log2(e) in float32, masked per query by its own position;
//   * online softmax in registers (exp2), P rounded to BF16 and fed back as the A
//     operand of O += P V (V fragments via ldmatrix.trans).
// Fragment layouts of mma.m16n8k16 (g = lane / 4, t = lane % 4):
//   A 16x16 (row-major): a0 (g, 2t..2t+1) a1 (g+8, 2t..) a2 (g, 2t+8..) a3 (g+8, 2t+8..)
//   B 16x8  (k x n):     b0 (k 2t..2t+1, n g)   b1 (k 2t+8.., n g)
//   C 16x8  (float):     c0,c1 (g, 2t..2t+1)   c2,c3 (g+8, 2t..2t+1)
// so a thread owns query rows g and g + 8 of its warp's 16 and the S tile's C fragments
// for keys 2t, 2t+1 (+8 per n-tile) are exactly the A fragments of P for O += P V.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <type_traits>

#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda::mma_attn {

constexpr int kWarps = 4;
constexpr int kRowsPerWarp = 16;
static_assert(kWarps * kRowsPerWarp == kAttnMaxQueries);
constexpr int kThreads = kWarps * 32;

template <int HD>
struct Smem {
  static constexpr int kStride = HD + 8;  // bf16 per row (16-byte pad)
  static constexpr int kQ = kAttnMaxQueries * kStride;
  static constexpr int kTile = kAttnTile * kStride;
  // Q, then K[2 stages], then V[2 stages].
  static constexpr size_t kBytes = (size_t{kQ} + 4 * size_t{kTile}) * sizeof(__nv_bfloat16);
};

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy; src_bytes 0 zero-fills (keys past the range: V must be
// finite there, P = 0 times NaN would poison O).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
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
  __trap();  // launched only on sm_80+ (paged_attention_uses_mma)
#endif
}

// Two floats -> packed BF16 pair, the lower index in the low half (the fragment order).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// 2^x (MUFU.EX2, flushes denormals; 2^-inf = 0).
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Per-thread softmax state of one query row (m in log2 units, l a quarter-row partial sum
// until the epilogue's quad_sum).
struct RowState {
  float m = -INFINITY;
  float l = 0.0f;
};

// Rescales by the tile's new row max and turns the row's scores (scaled, log2 units) into
// probabilities; returns the correction factor for O.
template <int NT>
__device__ __forceinline__ float softmax_tile(float (&s)[NT][4], int half, RowState& st) {
  float mx = st.m;
#pragma unroll
  for (int n = 0; n < NT; ++n) mx = fmaxf(mx, fmaxf(s[n][2 * half], s[n][2 * half + 1]));
  mx = quad_max(mx);
  const float base = mx == -INFINITY ? 0.0f : mx;  // a fully masked row so far: p = 0
  const float corr = fast_exp2(st.m - base);
  float sum = 0.0f;
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    s[n][2 * half] = fast_exp2(s[n][2 * half] - base);
    s[n][2 * half + 1] = fast_exp2(s[n][2 * half + 1] - base);
    sum += s[n][2 * half] + s[n][2 * half + 1];
  }
  st.m = mx;
  st.l = st.l * corr + sum;
  return corr;
}

// 16 E4M3 values (one 16-byte load) -> 16 BF16 in shared memory (two 16-byte stores).
__device__ __forceinline__ void store_fp8x16_as_bf16(__nv_bfloat16* dst, const uint4& v) {
  const uint2 a = kv_fp8x4_to_bf16x4(v.x), b = kv_fp8x4_to_bf16x4(v.y);
  const uint2 c = kv_fp8x4_to_bf16x4(v.z), d = kv_fp8x4_to_bf16x4(v.w);
  reinterpret_cast<uint4*>(dst)[0] = make_uint4(a.x, a.y, b.x, b.y);
  reinterpret_cast<uint4*>(dst)[1] = make_uint4(c.x, c.y, d.x, d.y);
}

// kFp8: the pool holds E4M3 (KvDtype::kFp8E4M3), else BF16.
template <int HD, bool kFp8>
__global__ void __launch_bounds__(kThreads, 2) paged_attention_mma_kernel(const PagedAttentionParams p) {
  using S = Smem<HD>;
  using KV = std::conditional_t<kFp8, uint8_t, __nv_bfloat16>;  // a pool element
  constexpr int kChunkElems = 16 / sizeof(KV);  // elements per 16-byte global load
  constexpr int kChunks = HD / kChunkElems;  // 16-byte chunks per K/V row in the pool
  constexpr int kKSteps = HD / 16;        // k-steps of Q K^T
  constexpr int kDimTiles = HD / 8;       // n-tiles of O
  constexpr int kKeyTiles = kAttnTile / 8;  // n-tiles of S
  constexpr int kLoadIters = kAttnTile * kChunks / kThreads;
  static_assert(kAttnTile * kChunks % kThreads == 0 && kThreads % kChunks == 0);
  extern __shared__ uint4 smem_u4[];
  __nv_bfloat16* q_s = reinterpret_cast<__nv_bfloat16*>(smem_u4);
  __nv_bfloat16* k_s = q_s + S::kQ;
  __nv_bfloat16* v_s = k_s + 2 * S::kTile;

  pdl_trigger();
  pdl_wait();
  // 1-D grid, KV head fastest. The planner emits a sequence's items by increasing rows
  // (longest KV last): run the long ones first (for every head) so that the short ones
  // fill the tail of the grid.
  const int kvh = static_cast<int>(blockIdx.x % p.kv_heads);
  const AttnWorkItem item = p.items[p.num_items - 1 - static_cast<int>(blockIdx.x / p.kv_heads)];
  const int group = p.heads / p.kv_heads;
  const int nq = item.num_rows * group;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * HD;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
  const int last_pos = p.row_pos[item.row_begin + item.num_rows - 1];
  const int kv_stop = min(item.kv_end, last_pos + 1);
  const int32_t* table = p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
  const KV* kp = static_cast<const KV*>(p.k_pool) + kvh * HD;
  const KV* vp = static_cast<const KV*>(p.v_pool) + kvh * HD;

  // K/V tile loads: thread copies 16-byte chunk tid % kChunks of rows
  // tid / kChunks + i * kRowStep. Their pool rows (slots, -1 past the range) are looked up
  // in the block table one tile ahead, so the table read's latency is off the issue path.
  constexpr int kRowStep = kThreads / kChunks;
  const int chunk = tid % kChunks, row0 = tid / kChunks;
  const int bs = p.block_size;
  const int bs_shift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;  // power of two: no division
  auto fetch_slots = [&](int t0, int (&slot)[kLoadIters]) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const int pos = t0 + row0 + i * kRowStep;
      const int blk = bs_shift >= 0 ? pos >> bs_shift : pos / bs;
      slot[i] = pos < kv_stop ? table[blk] * bs + (pos - blk * bs) : -1;
    }
  };
  // BF16: cp.async straight into stage st.
  auto issue_tile = [&](const int (&slot)[kLoadIters], int st) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const bool valid = slot[i] >= 0;
      const int64_t off = chunk * 8 + (valid ? static_cast<int64_t>(slot[i]) * kv_dim : 0);
      const int so = st * S::kTile + (row0 + i * kRowStep) * S::kStride + chunk * 8;
      cp_async16(smem_u32(k_s + so), kp + off, valid);
      cp_async16(smem_u32(v_s + so), vp + off, valid);
    }
  };
  // FP8: 16-byte loads into registers (zeros past the range: V must be finite there) ...
  uint4 k_regs[kLoadIters], v_regs[kLoadIters];  // unused (optimized out) for BF16
  auto load_tile = [&](const int (&slot)[kLoadIters]) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      k_regs[i] = v_regs[i] = make_uint4(0u, 0u, 0u, 0u);
      if (slot[i] >= 0) {
        const int64_t off = chunk * kChunkElems + static_cast<int64_t>(slot[i]) * kv_dim;
        k_regs[i] = *reinterpret_cast<const uint4*>(kp + off);
        v_regs[i] = *reinterpret_cast<const uint4*>(vp + off);
      }
    }
  };
  // ... converted to BF16 into stage st once the loads are needed.
  auto store_tile = [&](int st) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const int so = st * S::kTile + (row0 + i * kRowStep) * S::kStride + chunk * kChunkElems;
      store_fp8x16_as_bf16(k_s + so, k_regs[i]);
      store_fp8x16_as_bf16(v_s + so, v_regs[i]);
    }
  };
  int slots[kLoadIters];
  fetch_slots(0, slots);
  if constexpr (kFp8) {
    load_tile(slots);
  } else {
    issue_tile(slots, 0);
    cp_async_commit();
  }
  fetch_slots(kAttnTile, slots);

  // Q (float32) -> BF16 in shared memory, unscaled (the scale is applied to S in float).
  for (int idx = tid; idx < kAttnMaxQueries * HD / 4; idx += kThreads) {
    const int qi = idx / (HD / 4);
    const int d = (idx - qi * (HD / 4)) * 4;
    float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
    if (qi < nq) {
      const int64_t row = item.row_begin + qi / group;
      const int head = kvh * group + qi % group;
      v = *reinterpret_cast<const float4*>(p.q + row * q_stride + head * HD + d);
    }
    *reinterpret_cast<uint2*>(q_s + qi * S::kStride + d) =
        make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
  }
  if constexpr (kFp8) store_tile(0);
  __syncthreads();

  // A fragments of this warp's 16 queries: lane addresses row lane % 16, column half lane / 16.
  uint32_t qf[kKSteps][4];
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk)
    ldsm_x4(qf[kk], smem_u32(q_s + (warp * kRowsPerWarp + (lane & 15)) * S::kStride + kk * 16 +
                             (lane >> 4) * 8));

  // Positions of the two rows this thread owns (-1: padding query, fully masked) and the
  // warp's range (rows of an item are consecutive tokens, positions increasing).
  const int qi0 = warp * kRowsPerWarp + g, qi1 = qi0 + 8;
  const int pos0 = qi0 < nq ? p.row_pos[item.row_begin + qi0 / group] : -1;
  const int pos1 = qi1 < nq ? p.row_pos[item.row_begin + qi1 / group] : -1;
  const bool warp_active = warp * kRowsPerWarp < nq;
  const int warp_min_pos = warp_active ? p.row_pos[item.row_begin + warp * kRowsPerWarp / group] : -1;
  const int warp_max_pos =
      warp_active ? p.row_pos[item.row_begin + min(warp * kRowsPerWarp + 15, nq - 1) / group] : -1;
  const bool warp_has_padding = warp * kRowsPerWarp + 15 >= nq;
  // FP8: the K scale folded into the score scale, the V scale into the epilogue.
  const float scale_log2 =
      (kFp8 ? p.scale * kv_scale_or_one(p.k_scale) : p.scale) * 1.4426950408889634f;
  const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;

  float o[kDimTiles][4];
#pragma unroll
  for (int n = 0; n < kDimTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  RowState r0, r1;

  int st = 0;
  for (int t0 = 0; t0 < kv_stop; t0 += kAttnTile, st ^= 1) {
    const bool has_next = t0 + kAttnTile < kv_stop;
    if constexpr (kFp8) {
      // Stage st was stored and synced by the previous iteration (or before the loop);
      // the next tile's loads fly during this tile's math.
      if (has_next) {
        load_tile(slots);
        fetch_slots(t0 + 2 * kAttnTile, slots);
      }
    } else {
      if (has_next) {
        issue_tile(slots, st ^ 1);
        fetch_slots(t0 + 2 * kAttnTile, slots);
      }
      cp_async_commit();
      cp_async_wait<1>();  // this tile's group has landed (the newest may be in flight)
      __syncthreads();
    }

    if (warp_active && t0 <= warp_max_pos) {
      const __nv_bfloat16* ks = k_s + st * S::kTile;
      const __nv_bfloat16* vs = v_s + st * S::kTile;
      float s[kKeyTiles][4];
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
      // S = Q K^T. K rows are B's columns: one ldmatrix.x4 gives b0/b1 of two 8-key
      // n-tiles (matrix j = lane / 8: keys + (j / 2) * 8, dims + (j % 2) * 8).
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
        for (int n2 = 0; n2 < kKeyTiles / 2; ++n2) {
          uint32_t b[4];
          ldsm_x4(b, smem_u32(ks + (n2 * 16 + (lane >> 4) * 8 + (lane & 7)) * S::kStride +
                              kk * 16 + ((lane >> 3) & 1) * 8));
          mma_bf16(s[2 * n2], qf[kk], b[0], b[1]);
          mma_bf16(s[2 * n2 + 1], qf[kk], b[2], b[3]);
        }
      }
      // Scale to log2 units; mask keys past a row's position or the item's range (only
      // tiles that reach past the warp's first position or the range need it).
      const bool need_mask =
          warp_has_padding || t0 + kAttnTile - 1 > warp_min_pos || t0 + kAttnTile > kv_stop;
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[n][e] *= scale_log2;
          if (need_mask) {
            const int key = t0 + n * 8 + 2 * t + (e & 1);
            if (key > (e < 2 ? pos0 : pos1) || key >= kv_stop) s[n][e] = -INFINITY;
          }
        }
      }
      const float c0 = softmax_tile(s, 0, r0);
      const float c1 = softmax_tile(s, 1, r1);
#pragma unroll
      for (int n = 0; n < kDimTiles; ++n) {
        o[n][0] *= c0;
        o[n][1] *= c0;
        o[n][2] *= c1;
        o[n][3] *= c1;
      }
      // O += P V over 16-key steps; P's A fragment is two S n-tiles' C fragments. V is
      // [key][dim], i.e. B row-major: ldmatrix.trans (matrix j: keys + (j % 2) * 8,
      // dims + (j / 2) * 8) gives b0/b1 of two 8-dim n-tiles.
#pragma unroll
      for (int k2 = 0; k2 < kAttnTile / 16; ++k2) {
        if (t0 + k2 * 16 > warp_max_pos) break;  // warp-uniform: all 16 keys masked
        const uint32_t a[4] = {pack_bf16(s[2 * k2][0], s[2 * k2][1]),
                               pack_bf16(s[2 * k2][2], s[2 * k2][3]),
                               pack_bf16(s[2 * k2 + 1][0], s[2 * k2 + 1][1]),
                               pack_bf16(s[2 * k2 + 1][2], s[2 * k2 + 1][3])};
#pragma unroll
        for (int d2 = 0; d2 < kDimTiles / 2; ++d2) {
          uint32_t b[4];
          ldsm_x4_trans(b, smem_u32(vs + (k2 * 16 + ((lane >> 3) & 1) * 8 + (lane & 7)) * S::kStride +
                                    d2 * 16 + (lane >> 4) * 8));
          mma_bf16(o[2 * d2], a, b[0], b[1]);
          mma_bf16(o[2 * d2 + 1], a, b[2], b[3]);
        }
      }
    }
    // FP8: stage st ^ 1 was last read in the previous iteration, before its closing
    // barrier; the barrier below publishes it.
    if constexpr (kFp8) {
      if (has_next) store_tile(st ^ 1);
    }
    __syncthreads();  // stage st is refilled by the next iteration's load
  }
  if constexpr (!kFp8) cp_async_wait<0>();

  // Epilogue: O / l to `out`.
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int qi = half == 0 ? qi0 : qi1;
    RowState& r = half == 0 ? r0 : r1;
    const float l = quad_sum(r.l);
    if (qi >= nq) continue;
    const int64_t row = item.row_begin + qi / group;
    const int head = kvh * group + qi % group;
    const float inv = l > 0.f ? v_scale / l : 0.f;
    float* dst = p.out + row * q_stride + head * HD;
#pragma unroll
    for (int n = 0; n < kDimTiles; ++n) {
      *reinterpret_cast<float2*>(dst + n * 8 + 2 * t) =
          make_float2(o[n][2 * half] * inv, o[n][2 * half + 1] * inv);
    }
  }
}

template <int HD, bool kFp8>
void launch_mma(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr size_t smem = Smem<HD>::kBytes;
  allow_dynamic_smem<paged_attention_mma_kernel<HD, kFp8>>(smem);
  const dim3 grid(static_cast<unsigned>(p.num_items) * static_cast<unsigned>(p.kv_heads));
  launch_kernel("paged_attention_mma_kernel", paged_attention_mma_kernel<HD, kFp8>, grid,
                dim3(kThreads), smem, stream, p);
}

}  // namespace qwen3::cuda::mma_attn
