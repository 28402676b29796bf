// Causal GQA attention over the paged KV pool, one call per layer for a step's prefill
// chunks and decode rows, planned on the host (attention_plan.h):
//   * prefill: a work item is up to kAttnMaxQueries (row, head) queries of one sequence
//     and one KV head (consecutive rows x the heads of its group) over KV [0, last + 1);
//     a CTA streams it through shared memory in tiles of 64 positions, read via the
//     block table, with an online softmax in float32 per query. Two kernels run these
//     items: a tensor-core one (attention_mma.cuh: BF16 products, S = Q K^T on wgmma on
//     sm_90a and mma.sync elsewhere, P V on mma.sync; Q and P rounded to BF16, float32
//     accumulate) for a BF16 or FP8 pool with head_dim 64 or 128 on sm_80+, and a float32
//     SIMT one for everything else. On sm_90a a BF16 pool at head_dim 128 takes a third,
//     warp-specialised one instead (attention_ws.h: TMA producer warps, two consumer
//     warpgroups taking turns on the tensor cores; QWEN3_CUDA_ATTN_WS=0 turns it off).
//   * decode (one new token): a decode item is one split of a row's context (multiples of
//     kDecodeSplitTokens positions); its CTAs (one per KV head and per 1 or
//     kDecodeHeadsPerCta query heads of the group) take 16 positions at a time per warp
//     on tensor cores (attention_decode_mma.cu; CTAs of kDecodeHeadsPerCta heads) or one
//     position per lane in float32 (attention_decode.cu: one-head CTAs, a float32 pool,
//     head_dim 256, GPUs before sm_80). A row
//     of several splits: each split writes a normalised partial and its log-sum-exp, and
//     the last split to finish merges them (per-row arrival counters, reset as used).
// An FP8 pool's scales are folded, not applied per element: the K scale into the softmax
// scale (scores = q . k8 * (scale * k_scale)) and the V scale into the output
// (o = sum p v8 / l * v_scale); E4M3 values are exact in BF16, so the tensor-core kernel
// sees the stored values unrounded.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/rope_kv.h"
#include "backends/cuda/kv_dtype.h"

namespace qwen3::cuda {

// Rows * group per work item: the tensor-core kernel's 8 warps x 16 queries share every K/V
// tile (half the L2 traffic of 64-query items); the SIMT kernel runs an item as two CTAs
// of kAttnSimtQueries.
inline constexpr int kAttnMaxQueries = 128;
inline constexpr int kAttnSimtQueries = 64;
inline constexpr int kAttnTile = 64;            // KV positions per shared-memory tile
inline constexpr int kDecodeSplitTokens = 128;  // decode split granularity (4 warps x 32)
inline constexpr int kDecodeHeadsPerCta = 4;    // query heads of a group per decode CTA
// Decode rows of at most this many positions split into about two waves of CTAs, longer
// ones into about four (plan_attention).
inline constexpr int64_t kDecodeShortContext = 16384;
// Steps whose decode rows hold at most this many KV positions in all run one query head
// per decode CTA (4x the CTAs, a quarter of the arithmetic per lane, K and V rows read once
// per head, mostly from L2). H200, 2026-11-30, one row, attention alone: context 512
// 12 us against 14 with four heads per CTA, context 4,096 30 us against 19.
inline constexpr int64_t kDecodeNarrowMaxTokens = 1024;

// Decode CTAs per (split, KV head): the group's query heads in groups of heads_per_cta.
inline constexpr int decode_attention_quads(int group, int heads_per_cta = kDecodeHeadsPerCta) {
  return (group + heads_per_cta - 1) / heads_per_cta;
}

struct AttnWorkItem {
  int32_t seq;        // row of the block-table array
  int32_t row_begin;  // first batch row
  int32_t num_rows;   // consecutive rows of that sequence (num_rows * group <= kAttnMaxQueries)
  int32_t kv_end;     // KV positions [0, kv_end), further clipped per row by causality
};

struct AttnDecodeItem {
  int32_t seq;       // row of the block-table array
  int32_t row;       // batch row (its position is kv_end of its last split - 1)
  int32_t kv_begin;  // this split's KV positions [kv_begin, kv_end)
  int32_t kv_end;
  int32_t split;          // 0 .. num_splits - 1
  int32_t num_splits;     // 1: writes `out` directly
  int32_t first_partial;  // num_splits > 1: partial slots first_partial + split
  int32_t counter;        // num_splits > 1: the row's arrival counter (0 .. split rows - 1)
};

struct PagedAttentionParams {
  const float* q;      // [rows, heads * head_dim], normed and rotated
  const void* k_pool;  // this layer's K: [num_blocks * block_size, kv_heads * head_dim]
  const void* v_pool;  // same for V
  KvDtype kv_dtype;
  const int32_t* block_tables;  // [num_seqs, max_blocks]
  int max_blocks;
  const int32_t* row_pos;               // [rows] position of each row (attends to [0, pos])
  const AttnWorkItem* items = nullptr;  // prefill items
  int num_items = 0;
  const AttnDecodeItem* decode_items = nullptr;
  int num_decode_items = 0;
  float* out;                      // [rows, heads * head_dim]
  float* partial_o = nullptr;      // [partials, heads, head_dim] normalised split outputs
  float* partial_lse = nullptr;    // [partials, heads] a split's log-sum-exp, log2 units
  int* decode_counters = nullptr;  // [split rows, kv_heads, decode_attention_quads()], 0
  int decode_heads_per_cta = kDecodeHeadsPerCta;  // 1 or kDecodeHeadsPerCta (the plan's)
  int heads;
  int kv_heads;
  int head_dim;  // 32, 64, 128 or 256
  int block_size;
  // Rows of each pool (num_blocks * block_size): the warp-specialised kernel's tensor maps
  // need the extent (0: unknown, that kernel is not used).
  int64_t pool_rows = 0;
  float scale;  // 1 / sqrt(head_dim)
  // FP8 pool only (ignored otherwise): this layer's scales, one device float each
  // (CudaKvPool::k_scale / v_scale); K = fp8 * k_scale, V = fp8 * v_scale. nullptr: 1.
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
  // Steps of decode rows only (no prefill items) may leave q/k-norm + RoPE + KV write to
  // the decode kernel: with rope.qkv set, each CTA norms and rotates its heads' q from the
  // raw qkv rows itself (q above is unused), and the CTAs of a row's last split first
  // write the new token's k and v into the pool (the same bytes from each of them, as
  // qk_norm_rope_kv would: rope_kv.cuh), so that kernel does not run. Read from rope:
  // qkv, q_norm, k_norm, inv_freq, attention_scaling, row_pos, row_slot, eps.
  QkNormRopeKvParams rope{};
};
// The prefill items' kernel, then the decode items' (either list may be empty).
void launch_paged_attention(const PagedAttentionParams& p, cudaStream_t stream);
// Whether launch_paged_attention takes the tensor-core kernel for the prefill items (tests
// pick the BF16 tolerance with it; decode rows always accumulate in float32).
bool paged_attention_uses_mma(const PagedAttentionParams& p);
// Whether the decode rows run the tensor-core decode kernel (attention_decode_mma.cu: a
// BF16 or FP8 pool, head_dim 32 / 64 / 128, kDecodeHeadsPerCta heads per CTA, sm_80+;
// QWEN3_CUDA_DECODE_MMA=0 turns it off) rather than the float32 SIMT one. Both reach
// float32-class accuracy (the tensor-core one splits its float operands in two).
bool decode_attention_uses_mma(const PagedAttentionParams& p);
// false: always the SIMT kernels, prefill and decode (benchmarks compare; default true).
void set_paged_attention_mma(bool on);
// true: the tensor-core kernel runs its two-stage ring, as on GPUs with less shared memory
// per block than the four-stage one needs (tests; default false).
void set_paged_attention_small_smem(bool on);
// false: the four-stage ring's P V on mma.sync instead of wgmma (sm_90a; tests and A/B
// timing; default true unless QWEN3_CUDA_PV_WGMMA=0).
void set_paged_attention_pv_wgmma(bool on);

}  // namespace qwen3::cuda
