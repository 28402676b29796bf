// Tensor-core paged attention (FlashAttention-2 style) for a BF16 or FP8 E4M3 KV pool and
// head_dim 64 or 128; included by attention.cu, which dispatches to it
// (paged_attention_uses_mma).
//
// One CTA = one AttnWorkItem x one KV head: up to kAttnMaxQueries (row, head) queries,
// 8 warps x 16 queries (query qi = row_in_item * group + head_in_group, so a K/V tile is
// shared by the whole GQA group and 128 queries). Per 64-key tile:
//   * K and V rows are gathered through the block table with cp.async into a ring of
//     four shared-memory stages where shared memory allows (three tiles requested ahead
//     of the one computed; two stages otherwise), K and V in the 128-byte swizzled layout
//     wgmma reads;
//     an FP8 pool's rows are loaded to registers instead (16 values per 16-byte load)
//     while the previous tile is computed, then converted to BF16 (exact) and stored
//     into the other stage; its scales are folded into the softmax scale (K) and the
//     epilogue (V), see attention.h;
//   * S = Q K^T in BF16 with float32 accumulation: on sm_90a one wgmma m64n64k16 per
//     k16 step for each warpgroup's 64 queries (A = the Q fragments in registers, B = the
//     K tile in shared memory), issued for the next tile before this tile's softmax and
//     P V (BF16 pool, four stages); elsewhere mma.sync m16n8k16 per warp; masked per
//     query by its own position (only tiles that reach past a warp's first position);
//   * online softmax in registers (exp2 of score * scale * log2(e) - max, float32), P
//     rounded to BF16 and fed back as the A operand of O += P V: on sm_90a with a BF16
//     pool and four stages one wgmma m64n{HD}k16 per 16 keys and warpgroup (V read once
//     per warpgroup through an MN-major descriptor, P from registers, overlapped with the
//     next tile's softmax; 405 against 330 TFLOP/s at 131,072 tokens on the H200,
//     2026-12-02); elsewhere mma.sync per warp (V fragments via ldmatrix.trans).
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
#include "backends/cuda/kernels/mma_sync.cuh"
#include "backends/cuda/kernels/wgmma.cuh"

namespace qwen3::cuda::mma_attn {

constexpr int kWarps = 8;
constexpr int kRowsPerWarp = 16;
static_assert(kWarps * kRowsPerWarp == kAttnMaxQueries);
constexpr int kThreads = kWarps * 32;

// K/V stages (the launcher's choice, by the device's shared memory): a BF16 pool's tiles
// are copied by cp.async kNumStages - 1 ahead of the one computed; an FP8 pool's next
// tile waits in registers, so it runs two stages.
inline constexpr int kBigStages = 4, kSmallStages = 2;
// An FP8 pool with P V on wgmma: tile j's V, tile j + 1's K and tile j + 2 being stored.
inline constexpr int kFp8PvStages = 3;

// Shared memory: stages of [K tile | V tile], 128-byte swizzled (wgmma.cuh: what wgmma
// reads for K; ldmatrix reads both conflict-free), each
// HD / 64 sub-tiles of kAttnTile key rows x 128 bytes. Q (BF16, the same layout with
// kAttnMaxQueries rows, exactly one stage's bytes) is staged in the last stage, which the
// first tiles' copies leave alone, and read into registers before the loop reuses it.
template <int HD, int kNumStages>
struct Smem {
  static constexpr int kSub = kAttnTile * 128;  // bytes of one 64-dim sub-tile
  static constexpr int kTile = HD / 64 * kSub;  // bytes of one K or V tile
  static constexpr int kStage = 2 * kTile;
  static_assert(HD % 64 == 0 && kSub % 1024 == 0);
  static_assert(kAttnMaxQueries * HD * 2 == kStage);
  static constexpr size_t kBytes = 1024 + size_t{kNumStages} * kStage;  // + alignment slack
};

// Byte offset of 16-byte chunk `ci` (8 dims) of row `r` in a tile of kRows rows (K or V:
// kAttnTile keys; the staged Q: kAttnMaxQueries queries).
template <int kRows = kAttnTile>
__device__ __forceinline__ uint32_t tile_offset(int r, int ci) {
  return static_cast<uint32_t>((ci >> 3) * (kRows * 128)) + wgmma::swizzle128_offset(r, ci & 7);
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

// Rescales by the tile's new row max and turns the row's raw scores into probabilities
// 2^(s * scale - max) (scale: softmax scale x log2(e), > 0, so the raw maximum scales to
// the scaled one; one FFMA per score); returns the correction factor for O. Independent
// partial maxima and sums keep the dependent chains short.
template <int NT>
__device__ __forceinline__ float softmax_tile(float (&s)[NT][4], int half, RowState& st,
                                              float scale) {
  static_assert(NT % 4 == 0);
  float mx[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
#pragma unroll
  for (int n = 0; n < NT; ++n)
    mx[n & 3] = fmaxf(mx[n & 3], fmaxf(s[n][2 * half], s[n][2 * half + 1]));
  const float m = fmaxf(quad_max(fmaxf(fmaxf(mx[0], mx[1]), fmaxf(mx[2], mx[3]))) * scale, st.m);
  const float base = m == -INFINITY ? 0.0f : m;  // a fully masked row so far: p = 0
  const float corr = fast_exp2(st.m - base);
  float sum[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
  for (int n = 0; n < NT; ++n) {
    s[n][2 * half] = fast_exp2(fmaf(s[n][2 * half], scale, -base));
    s[n][2 * half + 1] = fast_exp2(fmaf(s[n][2 * half + 1], scale, -base));
    sum[n & 3] += s[n][2 * half] + s[n][2 * half + 1];
  }
  st.m = m;
  st.l = st.l * corr + ((sum[0] + sum[1]) + (sum[2] + sum[3]));
  return corr;
}

// The prefill kernels' 1-D grid, KV head fastest (blockIdx.x % kv_heads): this CTA's work
// item. The planner emits a sequence's items by increasing rows (longest KV last): the long
// ones run first (for every head) so that the short ones fill the tail of the grid.
__device__ __forceinline__ AttnWorkItem cta_work_item(const PagedAttentionParams& p) {
  return p.items[p.num_items - 1 - static_cast<int>(blockIdx.x / p.kv_heads)];
}
// The item's KV range end: its kv_end, clipped by causality at its last row's position.
__device__ __forceinline__ int item_kv_stop(const PagedAttentionParams& p,
                                            const AttnWorkItem& item) {
  return min(item.kv_end, p.row_pos[item.row_begin + item.num_rows - 1] + 1);
}

// The two query rows a thread owns (g and g + 8 of its warp's 16) and what masking needs
// of its warp: rows of an item are consecutive tokens, positions increasing.
struct WarpRows {
  int pos0, pos1;  // -1: a padding query (every key masked)
  int min_pos;     // the warp's first row's position (-1: the warp has no query)
  bool padding;    // some of the warp's 16 queries are padding
};

// Tile t0's raw scores (8 NT keys) -> probabilities in place: keys past a row's position or
// kv_stop masked (only tiles that reach past the warp's first position or the range need
// it), online softmax in log2 units; the rows' O correction factors in c0 / c1. A row that
// sees none of the tile's keys gets P = 0 and correction 1 (0 while it has seen none).
template <int NT>
__device__ __forceinline__ void softmax_rows(float (&s)[NT][4], int t0, int kv_stop,
                                             const WarpRows& w, RowState& r0, RowState& r1,
                                             float scale, float& c0, float& c1) {
  constexpr int kKeys = 8 * NT;
  const int t = threadIdx.x & 3;
  const bool need_mask = w.padding || t0 + kKeys - 1 > w.min_pos || t0 + kKeys > kv_stop;
  if (__builtin_expect(need_mask, 0)) {
    // Largest visible key of each row, relative to this thread's first column (-1 and
    // below: none).
    const int lim0 = min(w.pos0, kv_stop - 1) - t0 - 2 * t;
    const int lim1 = min(w.pos1, kv_stop - 1) - t0 - 2 * t;
#pragma unroll
    for (int n = 0; n < NT; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        if (n * 8 + (e & 1) > (e < 2 ? lim0 : lim1)) s[n][e] = -INFINITY;
      }
    }
  }
  c0 = softmax_tile(s, 0, r0, scale);
  c1 = softmax_tile(s, 1, r1, scale);
}

// P rounded to BF16 as A fragments per 16 keys (two S n-tiles' C fragments each).
template <int NT>
__device__ __forceinline__ void pack_p(const float (&s)[NT][4], uint32_t (&pf)[NT / 2][4]) {
#pragma unroll
  for (int k2 = 0; k2 < NT / 2; ++k2) {
    pf[k2][0] = pack_bf16(s[2 * k2][0], s[2 * k2][1]);
    pf[k2][1] = pack_bf16(s[2 * k2][2], s[2 * k2][3]);
    pf[k2][2] = pack_bf16(s[2 * k2 + 1][0], s[2 * k2 + 1][1]);
    pf[k2][3] = pack_bf16(s[2 * k2 + 1][2], s[2 * k2 + 1][3]);
  }
}

// O's rows scaled by their correction factors (skipped when the whole warp's are 1: once a
// row has seen many keys its maximum rarely moves).
template <int ND>
__device__ __forceinline__ void rescale_o(float (&o)[ND][4], float c0, float c1) {
  if (__any_sync(0xffffffffu, c0 != 1.0f || c1 != 1.0f)) {
#pragma unroll
    for (int n = 0; n < ND; ++n) {
      o[n][0] *= c0;
      o[n][1] *= c0;
      o[n][2] *= c1;
      o[n][3] *= c1;
    }
  }
}

// Epilogue: O / l x out_scale of this thread's queries qi0 and qi0 + 8 (of nq) into `out`:
// query qi is row row_begin + qi / group (row stride q_stride), head kv_head * group +
// qi % group.
template <int ND>
__device__ __forceinline__ void store_o(const float (&o)[ND][4], const RowState& r0,
                                        const RowState& r1, int qi0, int nq, float* out,
                                        int64_t q_stride, int row_begin, int group, int kv_head,
                                        float out_scale) {
  const int t = threadIdx.x & 3;
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    const int qi = qi0 + 8 * half;
    const float l = quad_sum(half == 0 ? r0.l : r1.l);
    if (qi >= nq) continue;
    const int64_t row = row_begin + qi / group;
    const int head = kv_head * group + qi % group;
    const float inv = l > 0.f ? out_scale / l : 0.f;
    float* dst = out + row * q_stride + head * (ND * 8);
#pragma unroll
    for (int n = 0; n < ND; ++n) {
      *reinterpret_cast<float2*>(dst + n * 8 + 2 * t) =
          make_float2(o[n][2 * half] * inv, o[n][2 * half + 1] * inv);
    }
  }
}

// 16 E4M3 values (one 16-byte load) -> 16 BF16 in shared memory: dims 0-7 at lo, 8-15 at hi.
__device__ __forceinline__ void store_fp8x16_as_bf16(void* lo, void* hi, const uint4& v) {
  const uint2 a = kv_fp8x4_to_bf16x4(v.x), b = kv_fp8x4_to_bf16x4(v.y);
  const uint2 c = kv_fp8x4_to_bf16x4(v.z), d = kv_fp8x4_to_bf16x4(v.w);
  *reinterpret_cast<uint4*>(lo) = make_uint4(a.x, a.y, b.x, b.y);
  *reinterpret_cast<uint4*>(hi) = make_uint4(c.x, c.y, d.x, d.y);
}

// kFp8: the pool holds E4M3 (KvDtype::kFp8E4M3), else BF16. kPvWgmma (sm_90a; a BF16 pool
// in four stages, an FP8 one in three): O += P V on wgmma too, see the loop.
template <int HD, bool kFp8, int kNumStages, bool kPvWgmma>
__global__ void __launch_bounds__(kThreads, 1) paged_attention_mma_kernel(const PagedAttentionParams p) {
  static_assert(kNumStages == (kFp8 ? (kPvWgmma ? kFp8PvStages : kSmallStages)
                                    : (kPvWgmma ? kBigStages : kNumStages)));
  constexpr int kAhead = kNumStages - 1;  // BF16 tiles requested ahead of the one computed
  using S = Smem<HD, kNumStages>;
  using KV = std::conditional_t<kFp8, uint8_t, __nv_bfloat16>;  // a pool element
  constexpr int kChunkElems = 16 / sizeof(KV);  // elements per 16-byte global load
  constexpr int kChunks = HD / kChunkElems;  // 16-byte chunks per K/V row in the pool
  constexpr int kKSteps = HD / 16;        // k-steps of Q K^T
  constexpr int kDimTiles = HD / 8;       // n-tiles of O
  constexpr int kKeyTiles = kAttnTile / 8;  // n-tiles of S
  constexpr int kLoadIters = kAttnTile * kChunks / kThreads;
  static_assert(kAttnTile * kChunks % kThreads == 0 && kThreads % kChunks == 0);
  extern __shared__ uint4 smem_u4[];
  char* smem = reinterpret_cast<char*>(smem_u4);
  smem += (1024 - (smem_u32(smem) & 1023)) & 1023;
  char* k_s = smem;            // K of stage st at k_s + st * S::kStage
  char* v_s = smem + S::kTile;  // V likewise
  char* q_s = smem + (kNumStages - 1) * S::kStage;

  pdl_trigger();
  pdl_wait();
  const int kvh = static_cast<int>(blockIdx.x % p.kv_heads);
  const AttnWorkItem item = cta_work_item(p);
  const int group = p.heads / p.kv_heads;
  const int nq = item.num_rows * group;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2;
  const int64_t q_stride = static_cast<int64_t>(p.heads) * HD;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * HD;
  const int kv_stop = item_kv_stop(p, item);
  const int32_t* table = p.block_tables + static_cast<int64_t>(item.seq) * p.max_blocks;
  const KV* kp = static_cast<const KV*>(p.k_pool) + kvh * HD;
  const KV* vp = static_cast<const KV*>(p.v_pool) + kvh * HD;

  // K/V tile loads: thread copies 16-byte chunk tid % kChunks of rows
  // tid / kChunks + i * kRowStep. Their block-table entries (slots) are read one tile
  // ahead and turned into pool rows when the copies are issued, so the table read's
  // latency is off the issue path.
  constexpr int kRowStep = kThreads / kChunks;
  const int chunk = tid % kChunks, row0 = tid / kChunks;
  const int bs = p.block_size;
  const int bs_shift = (bs & (bs - 1)) == 0 ? __ffs(bs) - 1 : -1;  // power of two: no division
  // The table is read branch-free: block indices past the range are clamped to the last
  // one (its entry exists) and the slot is then dropped.
  const int last_blk = bs_shift >= 0 ? (kv_stop - 1) >> bs_shift : (kv_stop - 1) / bs;
  int slot_pos[kLoadIters];  // a fetched row's position in its block (-1: past the range)
  auto fetch_slots = [&](int t0, int (&slot)[kLoadIters]) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const int pos = t0 + row0 + i * kRowStep;
      const int blk = bs_shift >= 0 ? pos >> bs_shift : pos / bs;
      // The entry itself: its load is used a tile later (slot_of), not waited for here.
      slot[i] = __ldg(table + min(blk, last_blk));
      slot_pos[i] = pos < kv_stop ? pos - blk * bs : -1;
    }
  };
  // Pool row of a fetched entry (-1: past the range).
  auto slot_of = [&](int i, const int (&slot)[kLoadIters]) {
    return slot_pos[i] >= 0 ? slot[i] * bs + slot_pos[i] : -1;
  };
  // This thread's chunk of K / V rows (bytes), a slot's row offset (one 32 x 32 -> 64-bit
  // multiply: kv_dim * sizeof(KV) < 2^32), and its shared-memory offsets in a stage.
  const char* k_chunk = reinterpret_cast<const char*>(kp + chunk * kChunkElems);
  const char* v_chunk = reinterpret_cast<const char*>(vp + chunk * kChunkElems);
  const uint32_t row_bytes = static_cast<uint32_t>(kv_dim * sizeof(KV));
  uint32_t smem_off[kLoadIters];
#pragma unroll
  for (int i = 0; i < kLoadIters; ++i) smem_off[i] = tile_offset(row0 + i * kRowStep, chunk);
  // BF16: cp.async straight into stage st.
  auto issue_tile = [&](const int (&slot)[kLoadIters], int st) {
    const uint32_t k_stage = smem_u32(k_s) + st * S::kStage,
                   v_stage = smem_u32(v_s) + st * S::kStage;
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const int row = slot_of(i, slot);
      const bool valid = row >= 0;  // zero-filled past the range: V must be finite there
      const uint64_t off = valid ? uint64_t{static_cast<uint32_t>(row)} * row_bytes : 0;
      cp_async16(k_stage + smem_off[i], k_chunk + off, valid);
      cp_async16(v_stage + smem_off[i], v_chunk + off, valid);
    }
  };
  // FP8: 16-byte loads into registers (zeros past the range: V must be finite there) ...
  uint4 k_regs[kLoadIters], v_regs[kLoadIters];  // unused (optimized out) for BF16
  auto load_tile = [&](const int (&slot)[kLoadIters]) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      k_regs[i] = v_regs[i] = make_uint4(0u, 0u, 0u, 0u);
      const int row = slot_of(i, slot);
      if (row >= 0) {
        const uint64_t off = uint64_t{static_cast<uint32_t>(row)} * row_bytes;
        k_regs[i] = *reinterpret_cast<const uint4*>(k_chunk + off);
        v_regs[i] = *reinterpret_cast<const uint4*>(v_chunk + off);
      }
    }
  };
  // ... converted to BF16 into stage st once the loads are needed.
  auto store_tile = [&](int st) {
#pragma unroll
    for (int i = 0; i < kLoadIters; ++i) {
      const int r = row0 + i * kRowStep;
      const uint32_t lo = st * S::kStage + tile_offset(r, 2 * chunk);
      const uint32_t hi = st * S::kStage + tile_offset(r, 2 * chunk + 1);
      store_fp8x16_as_bf16(k_s + lo, k_s + hi, k_regs[i]);
      store_fp8x16_as_bf16(v_s + lo, v_s + hi, v_regs[i]);
    }
    wgmma::fence_proxy_async();
  };
  // The first kAhead tiles (BF16) or the first (FP8) are requested before Q is
  // staged; `slots` then holds the next tile's.
  int slots[kLoadIters];
  fetch_slots(0, slots);
  if constexpr (kFp8) {
    load_tile(slots);
    fetch_slots(kAttnTile, slots);
  } else {
#pragma unroll
    for (int s = 0; s < kAhead; ++s) {
      if (s * kAttnTile < kv_stop) issue_tile(slots, s);
      cp_async_commit();  // one group per tile, empty ones included: uniform counting
      fetch_slots((s + 1) * kAttnTile, slots);
    }
  }

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
    *reinterpret_cast<uint2*>(q_s + tile_offset<kAttnMaxQueries>(qi, d >> 3) + (d & 7) * 2) =
        make_uint2(pack_bf16(v.x, v.y), pack_bf16(v.z, v.w));
  }
  if constexpr (kFp8) store_tile(0);
#if QWEN3_HAVE_WGMMA
  if constexpr (kFp8 && kPvWgmma) {  // its loop starts with tiles 0 and 1 stored
    load_tile(slots);
    fetch_slots(2 * kAttnTile, slots);
    store_tile(1);
  }
#endif
  __syncthreads();

  // A fragments of this warp's 16 queries: lane addresses row lane % 16, column half lane / 16.
  uint32_t qf[kKSteps][4];
#pragma unroll
  for (int kk = 0; kk < kKSteps; ++kk)
    ldsm_x4(qf[kk], smem_u32(q_s + tile_offset<kAttnMaxQueries>(warp * kRowsPerWarp + (lane & 15),
                                                                 kk * 2 + (lane >> 4))));
  __syncthreads();  // Q's stage is refilled from here on

  // Positions of the two rows this thread owns (-1: padding query, fully masked) and the
  // warp's range (rows of an item are consecutive tokens, positions increasing).
  const int qi0 = warp * kRowsPerWarp + g, qi1 = qi0 + 8;
  const int pos0 = qi0 < nq ? p.row_pos[item.row_begin + qi0 / group] : -1;
  const int pos1 = qi1 < nq ? p.row_pos[item.row_begin + qi1 / group] : -1;
  const bool warp_active = warp * kRowsPerWarp < nq;
  const int warp_min_pos =
      warp_active ? p.row_pos[item.row_begin + warp * kRowsPerWarp / group] : -1;
  const int warp_max_pos =
      warp_active ? p.row_pos[item.row_begin + min(warp * kRowsPerWarp + 15, nq - 1) / group] : -1;
  const bool warp_has_padding = warp * kRowsPerWarp + 15 >= nq;
  // The same for the warp's warpgroup (64 queries), which issues S's wgmma together.
  [[maybe_unused]] const int wg = warp / 4;
  [[maybe_unused]] const bool wg_active = wg * 64 < nq;
  [[maybe_unused]] const int wg_max_pos =
      wg_active ? p.row_pos[item.row_begin + min(wg * 64 + 63, nq - 1) / group] : -1;
  // FP8: the K scale folded into the score scale, the V scale into the epilogue.
  const float scale_log2 =
      (kFp8 ? p.scale * kv_scale_or_one(p.k_scale) : p.scale) * 1.4426950408889634f;
  const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;

  float o[kDimTiles][4];
#pragma unroll
  for (int n = 0; n < kDimTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  RowState r0, r1;

  // S (this warp's 16 queries x the tile's keys, raw) -> probabilities in place, O
  // untouched, the rows' correction factors in c0 / c1 (softmax_rows); pack_p then rounds
  // them to P's A fragments.
  const WarpRows rows{pos0, pos1, warp_min_pos, warp_has_padding};
  auto softmax_p = [&](float(&s)[kKeyTiles][4], int t0, float& c0, float& c1) {
    softmax_rows(s, t0, kv_stop, rows, r0, r1, scale_log2, c0, c1);
  };
  [[maybe_unused]] auto mask_softmax = [&](float (&s)[kKeyTiles][4], int t0,
                                           uint32_t (&pf)[kAttnTile / 16][4]) {
    float c0, c1;
    softmax_p(s, t0, c0, c1);
    rescale_o(o, c0, c1);
    pack_p(s, pf);
  };

  // O += P V over 16-key steps (mma.sync). V is [key][dim], i.e. B row-major:
  // ldmatrix.trans (matrix j: keys + (j % 2) * 8, dims + (j / 2) * 8) gives b0/b1 of two
  // 8-dim n-tiles.
  [[maybe_unused]] auto pv_product = [&](const char* vs, const uint32_t (&pf)[kAttnTile / 16][4], int t0) {
#pragma unroll
    for (int k2 = 0; k2 < kAttnTile / 16; ++k2) {
      if (t0 + k2 * 16 > warp_max_pos) break;  // warp-uniform: all 16 keys masked
#pragma unroll
      for (int d2 = 0; d2 < kDimTiles / 2; ++d2) {
        uint32_t b[4];
        ldsm_x4_trans(b, smem_u32(vs + tile_offset(k2 * 16 + ((lane >> 3) & 1) * 8 + (lane & 7),
                                                   d2 * 2 + (lane >> 4))));
        mma_bf16(o[2 * d2], pf[k2], b[0], b[1]);
        mma_bf16(o[2 * d2 + 1], pf[k2], b[2], b[3]);
      }
    }
  };

#if QWEN3_HAVE_WGMMA
  // S = Q K^T of the warpgroup's 64 queries and the tile in `stage`, into acc (issued and
  // committed: the caller waits).
  auto issue_s = [&](float (&acc)[kKeyTiles][4], int stage) {
    const char* ks = k_s + stage * S::kStage;
    wgmma::fence();
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk) {
      const uint32_t addr = smem_u32(ks + (kk >> 2) * S::kSub + (kk & 3) * 32);
      wgmma::m64n64k16_bf16_rs(acc, qf[kk], wgmma::desc_k_major_sw128(addr), kk > 0);
    }
    wgmma::commit();
  };
  // BF16 pool, four stages (the loops below): tile 0 has landed and is visible to wgmma.
  [[maybe_unused]] auto await_first = [&] {
    cp_async_wait<kAhead - 1>();
    wgmma::fence_proxy_async();
    __syncthreads();
  };
  // At the top of tile j (t0): tile j + 1 has landed and every warp has finished tile j - 1,
  // whose stage (`fill`) the copies of tile j + kAhead then refill.
  [[maybe_unused]] auto await_next_and_refill = [&](int t0, int fill) {
    cp_async_wait<kAhead - 2>();
    wgmma::fence_proxy_async();
    __syncthreads();
    const int ahead = t0 + kAhead * kAttnTile;
    if (ahead < kv_stop) {
      issue_tile(slots, fill);
      fetch_slots(ahead + kAttnTile, slots);
    }
    cp_async_commit();  // one group per tile, empty ones included: uniform counting
  };
  // sm_90a, P V on wgmma (BF16 pool: four cp.async stages; FP8: three stages, tile j + 2
  // loaded to registers at a step's top and stored as BF16 at its end): per tile j one
  // barrier (tile j + 1 landed, tile j - 1's stage free), then S(j + 1) and O += P(j) V(j)
  // issued together (V read once per warpgroup, MN-major, P(j) from registers), S(j + 1)
  // waited for, tile j + 1's softmax while P(j) V(j) runs, then O rescaled by tile j + 1's
  // correction. Both products are issued unconditionally (ptxas serializes wgmma behind
  // branches): a warp with no visible key in a tile contributes P = 0 (V is finite there,
  // zero past the range).
  if constexpr (kPvWgmma) {
    float s[kKeyTiles][4];
    uint32_t pf[kAttnTile / 16][4], pf2[kAttnTile / 16][4];
    // Tile t0's probabilities for this warp's rows in s, or zeros where none of them sees
    // the tile.
    auto next_p = [&](int t0, float& c0, float& c1) {
      c0 = c1 = 1.0f;
      if (warp_active && t0 <= warp_max_pos) {
        softmax_p(s, t0, c0, c1);
      } else {
#pragma unroll
        for (int n = 0; n < kKeyTiles; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
      }
    };
    float c0, c1;
    if constexpr (!kFp8) await_first();
    issue_s(s, 0);
    wgmma::wait_all();
    wgmma::pin(s);
    next_p(0, c0, c1);
    pack_p(s, pf);
    int st = 0, fill = kAhead;
    // Tile t0 with P(j) in pa; P(j + 1) goes to pb while the product reads pa (two
    // buffers, their roles swapped by the caller: no register copy the compiler could fold
    // into the in-flight operand).
    auto tile_step = [&](int t0, uint32_t(&pa)[kAttnTile / 16][4],
                         uint32_t(&pb)[kAttnTile / 16][4]) {
      const int ahead = t0 + kAhead * kAttnTile;
      if constexpr (kFp8) {
        __syncthreads();        // tile j + 1 stored (by the step before or ahead of the loop)
        if (ahead < kv_stop) {  // tile j + 2 into registers, stored at the end of the step
          load_tile(slots);
          fetch_slots(ahead + kAttnTile, slots);
        }
      } else {
        await_next_and_refill(t0, fill);
      }
      const int next_st = st + 1 == kNumStages ? 0 : st + 1;
      issue_s(s, next_st);
      const uint32_t vs = smem_u32(v_s + st * S::kStage);
#pragma unroll
      for (int k2 = 0; k2 < kAttnTile / 16; ++k2) {
        wgmma::m64nk16_bf16_rs_tb(o, pa[k2],
                                  wgmma::desc_mn_major_sw128(vs + k2 * 16 * 128, S::kSub));
      }
      wgmma::commit();
      wgmma::wait_all_but_one();  // S(j + 1)
      wgmma::pin(s);
      const int t1 = t0 + kAttnTile;
      if (t1 < kv_stop) {
        next_p(t1, c0, c1);
        pack_p(s, pb);
      }
      // P(j) V(j) done: O and pa (kept live until here by the pins) are free again.
      wgmma::wait_all();
      wgmma::pin(o);
      wgmma::pin(pa);
      if (t1 < kv_stop) rescale_o(o, c0, c1);
      // FP8: tile j - 1's stage, free since the barrier above.
      if constexpr (kFp8) {
        if (ahead < kv_stop) store_tile(fill);
      }
      st = next_st;
      fill = fill + 1 == kNumStages ? 0 : fill + 1;
    };
    for (int t0 = 0; t0 < kv_stop; t0 += 2 * kAttnTile) {
      tile_step(t0, pf, pf2);
      if (t0 + kAttnTile >= kv_stop) break;
      tile_step(t0 + kAttnTile, pf2, pf);
    }
  } else if constexpr (!kFp8 && kNumStages == 4) {
  // sm_90a, BF16, four stages: the wgmma of tile j + 1's S runs while tile j's softmax and
  // P V do. One barrier per tile, at its top: tile j + 1 has landed, and every warp has
  // finished tile j - 1, whose stage the copies issued right after it refill.
    float s_cur[kKeyTiles][4], s_next[kKeyTiles][4];
    await_first();
    issue_s(s_cur, 0);
    wgmma::wait_all();
    wgmma::pin(s_cur);
    int st = 0, fill = kAhead;
    for (int t0 = 0; t0 < kv_stop; t0 += kAttnTile) {
      await_next_and_refill(t0, fill);
      const int next_st = st + 1 == kNumStages ? 0 : st + 1;
      // Unconditional (a branch around it would make ptxas serialize the products): after
      // the last tile or past the warpgroup's rows the product is not used.
      issue_s(s_next, next_st);
      if (warp_active && t0 <= warp_max_pos) {
        uint32_t pf[kAttnTile / 16][4];
        mask_softmax(s_cur, t0, pf);
        pv_product(v_s + st * S::kStage, pf, t0);
      }
      wgmma::wait_all();
      wgmma::pin(s_next);
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) s_cur[n][e] = s_next[n][e];
      }
      st = next_st;
      fill = fill + 1 == kNumStages ? 0 : fill + 1;
    }
  } else
#endif
  {
  // st: this tile's stage; fill: the stage of the tile kAhead ahead (BF16).
  int st = 0, fill = kAhead;
  for (int t0 = 0; t0 < kv_stop; t0 += kAttnTile) {
    [[maybe_unused]] const bool has_next = t0 + kAttnTile < kv_stop;
    if constexpr (kFp8) {
      // Stage st was stored and synced by the previous iteration (or before the loop);
      // the next tile's loads fly during this tile's math.
      if (has_next) {
        load_tile(slots);
        fetch_slots(t0 + 2 * kAttnTile, slots);
      }
    } else {
      const int ahead = t0 + kAhead * kAttnTile;
      if (ahead < kv_stop) {
        issue_tile(slots, fill);
        fetch_slots(ahead + kAttnTile, slots);
      }
      cp_async_commit();
      cp_async_wait<kAhead>();  // this tile's group has landed
      wgmma::fence_proxy_async();
      __syncthreads();
    }

    // S for one warpgroup's 64 queries (wgmma, sm_90a) or one warp's 16 (mma.sync), the
    // same C layout per warp either way. With wgmma the condition is warpgroup-uniform
    // (every warp of it issues the product); warps whose rows all precede the tile skip
    // the rest.
    const char* vs = v_s + st * S::kStage;
#if QWEN3_HAVE_WGMMA
    if (wg_active && t0 <= wg_max_pos) {
      float s[kKeyTiles][4];
      issue_s(s, st);
      wgmma::wait_all();
      wgmma::pin(s);
      if (warp_active && t0 <= warp_max_pos) {
        uint32_t pf[kAttnTile / 16][4];
        mask_softmax(s, t0, pf);
        pv_product(vs, pf, t0);
      }
    }
#else
    const char* ks = k_s + st * S::kStage;
    if (warp_active && t0 <= warp_max_pos) {
      float s[kKeyTiles][4];
#pragma unroll
      for (int n = 0; n < kKeyTiles; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
      // S = Q K^T. K rows are B's columns: one ldmatrix.x4 gives b0/b1 of two 8-key n-tiles
      // (matrix j = lane / 8: keys + (j / 2) * 8, dims + (j % 2) * 8).
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
#pragma unroll
        for (int n2 = 0; n2 < kKeyTiles / 2; ++n2) {
          uint32_t b[4];
          ldsm_x4(b, smem_u32(ks + tile_offset(n2 * 16 + (lane >> 4) * 8 + (lane & 7),
                                               kk * 2 + ((lane >> 3) & 1))));
          mma_bf16(s[2 * n2], qf[kk], b[0], b[1]);
          mma_bf16(s[2 * n2 + 1], qf[kk], b[2], b[3]);
        }
      }
      uint32_t pf[kAttnTile / 16][4];
      mask_softmax(s, t0, pf);
      pv_product(vs, pf, t0);
    }
#endif
    // FP8: the next stage was last read in an earlier iteration, before its closing
    // barrier; the barrier below publishes it.
    if constexpr (kFp8) {
      if (has_next) store_tile(st + 1 == kNumStages ? 0 : st + 1);
    }
    __syncthreads();  // stage st is refilled by a later iteration's load
    st = st + 1 == kNumStages ? 0 : st + 1;
    fill = fill + 1 == kNumStages ? 0 : fill + 1;
  }
  }
  if constexpr (!kFp8) cp_async_wait<0>();

  store_o(o, r0, r1, qi0, nq, p.out, q_stride, item.row_begin, group, kvh, v_scale);
}

template <int HD, bool kFp8, int kNumStages, bool kPvWgmma = false>
void launch_mma_stages(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr size_t smem = Smem<HD, kNumStages>::kBytes;
  constexpr auto kernel = paged_attention_mma_kernel<HD, kFp8, kNumStages, kPvWgmma>;
  allow_dynamic_smem<kernel>(smem);
  const dim3 grid(static_cast<unsigned>(p.num_items) * static_cast<unsigned>(p.kv_heads));
  launch_kernel("paged_attention_mma_kernel", kernel, grid, dim3(kThreads), smem, stream, p);
}

// smem_optin: the device's opt-in shared memory per block (the four-stage ring of a BF16
// pool when it fits: 129 KiB at head_dim 128; not on sm_89's 99 KiB). pv_wgmma: P V on
// wgmma in the four-stage ring where the device has wgmma (sm_90a).
template <int HD, bool kFp8>
void launch_mma(const PagedAttentionParams& p, size_t smem_optin, bool pv_wgmma,
                cudaStream_t stream) {
  if constexpr (!kFp8) {
    if (Smem<HD, kBigStages>::kBytes <= smem_optin) {
      if (pv_wgmma) return launch_mma_stages<HD, kFp8, kBigStages, true>(p, stream);
      return launch_mma_stages<HD, kFp8, kBigStages>(p, stream);
    }
  } else {
    if (pv_wgmma && Smem<HD, kFp8PvStages>::kBytes <= smem_optin) {
      return launch_mma_stages<HD, kFp8, kFp8PvStages, true>(p, stream);
    }
  }
  launch_mma_stages<HD, kFp8, kSmallStages>(p, stream);
}

}  // namespace qwen3::cuda::mma_attn
