// Causal GQA attention over the paged KV pool, one launch for prefill chunks and
// decode rows, planned on the host (attention_plan.h):
//   * a work item is up to kAttnMaxQueries (row, head) queries of one sequence and one
//     KV head (consecutive rows x the heads of its group) over a KV position range;
//   * a CTA streams the range through shared memory in tiles of 64 positions, read via
//     the block table, with an online softmax in float32 per query;
//   * decode rows with long contexts are split over several items (flash-decoding):
//     each writes a partial (o / l, log-sum-exp) and launch_attention_combine merges.
// Two kernels run the same items: a tensor-core one (attention_mma.cuh: BF16 mma.sync,
// Q and P rounded to BF16, float32 accumulate) for a BF16 or FP8 pool with head_dim 64 or
// 128 on sm_80+, and a float32 SIMT one for everything else.
// An FP8 pool's scales are folded, not applied per element: the K scale into the softmax
// scale (scores = q . k8 * (scale * k_scale)) and the V scale into the output
// (o = sum p v8 / l * v_scale); E4M3 values are exact in BF16, so the tensor-core kernel
// sees the stored values unrounded.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kv_dtype.h"

namespace qwen3::cuda {

inline constexpr int kAttnMaxQueries = 64;  // rows * group per work item
inline constexpr int kAttnTile = 64;        // KV positions per shared-memory tile

struct AttnWorkItem {
  int32_t seq;        // row of the block-table array
  int32_t row_begin;  // first batch row
  int32_t num_rows;   // consecutive rows of that sequence (num_rows * group <= 64)
  int32_t kv_begin;   // KV positions [kv_begin, kv_end), further clipped per row by causality
  int32_t kv_end;
  int32_t partial;  // -1: write `out`; else this split's partial slot
};

struct AttnCombineItem {
  int32_t row;            // batch row of the decode query
  int32_t first_partial;  // its splits' slots first_partial .. + num_partials - 1
  int32_t num_partials;
};

struct PagedAttentionParams {
  const float* q;        // [rows, heads * head_dim], normed and rotated
  const void* k_pool;    // this layer's K: [num_blocks * block_size, kv_heads * head_dim]
  const void* v_pool;    // same for V
  KvDtype kv_dtype;
  const int32_t* block_tables;  // [num_seqs, max_blocks]
  int max_blocks;
  const int32_t* row_pos;  // [rows] position of each row (attends to [0, pos])
  const AttnWorkItem* items;
  int num_items;
  float* out;          // [rows, heads * head_dim]
  float* partial_o;    // [partials, heads, head_dim] normalised split outputs
  float* partial_lse;  // [partials, heads] natural-log sum of exp of the split's scores
  int heads;
  int kv_heads;
  int head_dim;  // 32, 64, 128 or 256
  int block_size;
  float scale;  // 1 / sqrt(head_dim)
  // FP8 pool only (ignored otherwise): this layer's scales, one device float each
  // (CudaKvPool::k_scale / v_scale); K = fp8 * k_scale, V = fp8 * v_scale. nullptr: 1.
  const float* k_scale = nullptr;
  const float* v_scale = nullptr;
};
void launch_paged_attention(const PagedAttentionParams& p, cudaStream_t stream);
// Whether launch_paged_attention takes the tensor-core kernel for these params (tests pick
// the BF16 tolerance with it).
bool paged_attention_uses_mma(const PagedAttentionParams& p);
// false: always the SIMT kernel (benchmarks compare the two; default true).
void set_paged_attention_mma(bool on);

struct AttentionCombineParams {
  const AttnCombineItem* items;
  int num_items;
  const float* partial_o;
  const float* partial_lse;
  float* out;  // [rows, heads * head_dim]
  int heads;
  int head_dim;
};
void launch_attention_combine(const AttentionCombineParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
