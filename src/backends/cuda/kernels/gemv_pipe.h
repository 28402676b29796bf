// Batch-1 decode GEMVs (one activation row) whose weights stream into a shared-memory ring
// by cp.async, so the bytes in flight are not bounded by registers (8 steps of 2 KB per
// warp, 128 KB per SM), multiplied on tensor cores (mma.m16n8k16, float32 accumulate):
//   * FP8 weights (128-column scale blocks): codes decoded exactly to f16, x rounded to
//     f16 (the tensor-core FP8 GEMV's numerics, gemv_fp8.h);
//   * BF16 weights: x split into two BF16 values (hi + lo, relative error ~2^-17), two
//     products per weight tile.
// Both take the streaming GEMV's prologue and epilogues (GemvParams: RMSNorm of x, store /
// add to y / SiLU pairs, the new rows' sum of squares).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/gemv.h"

namespace qwen3::cuda {

// One activation row, k and block_in multiples of 128, x (as f16) fitting the shared
// memory beside the ring.
bool gemv_fp8_pipe_supports(int64_t rows, int64_t k, int64_t block_in);
// Whether the decoder (LinearContext) and GemvFp8Kernel::kAuto take it: where it is
// supported and QWEN3_GEMV_FP8_PIPE=1 is set (read once). Opt-in until it is measured
// against the streaming kernel on a GPU (tools/gpu/gemv_pipe_lab.sh); the streaming
// kernel takes one row otherwise.
bool gemv_fp8_pipe_chosen(int64_t rows, int64_t k, int64_t block_in);
// BF16 weights: one row, k a multiple of 64 that fits; chosen by LinearContext where
// supported and QWEN3_GEMV_BF16_PIPE=1 is set (opt-in, as above).
bool gemv_bf16_pipe_supports(int64_t rows, int64_t k);
bool gemv_bf16_pipe_chosen(int64_t rows, int64_t k);

// p: GemvParams' FP8 fields (w_fp8, row_scales, scale_cols, block_in, e5m2) or w (BF16),
// x, y, n_out, k, rows = 1, epilogue and the norm / sum-of-squares fields. k_split and
// pipe_parts force the tiling (else chosen by shape).
void launch_gemv_fp8_pipe(const GemvParams& p, cudaStream_t stream);
void launch_gemv_bf16_pipe(const GemvParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
