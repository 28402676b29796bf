// Warp-specialised prefill attention (sm_90a, BF16 pool, head_dim 128): the same work items
// and results as the tensor-core kernel of attention_mma.cuh, scheduled the way
// FlashAttention-3 is. One CTA = one work item x one KV head, three warpgroups: a producer
// warp each for K and V copying tiles of 128 (or 64) keys through the block table with TMA
// (one box per paged block and 64-dim half, 128-byte swizzled, completing on mbarriers),
// and two consumer warpgroups of 64 queries whose products (S = Q K^T with Q and K in
// shared memory, O += P V with P in registers) take turns on the tensor cores (named
// barriers): one warpgroup's softmax runs while the other's products do. 684 TFLOP/s causal
// at 131,072 tokens on an H200 (the mma kernel: 399; bench/cuda/NOTES.md round U).
#pragma once

#include <cuda_runtime_api.h>

#include "backends/cuda/kernels/attention.h"

namespace qwen3::cuda {

// Whether launch_paged_attention_ws runs these prefill items: the switch on (default on;
// QWEN3_CUDA_ATTN_WS=0 turns it off), a device of compute capability 9.0 whose loaded code has
// wgmma (an sm_90a build), a BF16 pool, head_dim 128, block_size a multiple of 16 or a divisor of
// the tile's keys, pool_rows set.
bool paged_attention_ws_applies(const PagedAttentionParams& p);
void launch_paged_attention_ws(const PagedAttentionParams& p, cudaStream_t stream);
// Switches it (false: the prefill items run attention_mma.cuh's kernel) and picks its tile:
// 128 keys in two stages or 64 in four (tests and A/B timing).
void set_paged_attention_ws(bool on, int tile_keys = 128);
bool paged_attention_ws_enabled();
int paged_attention_ws_tile();

}  // namespace qwen3::cuda
