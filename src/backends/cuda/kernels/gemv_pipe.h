// Batch-1 decode GEMVs (one activation row) whose weights stream into a shared-memory ring
// by cp.async, so the bytes in flight are not bounded by registers (8 steps of 2 KB per
// warp, 128 KB per SM), multiplied on tensor cores (float32 accumulate):
//   * FP8 weights (128-column scale blocks): the codes as they are (mma.m16n8k32, sm_89+)
//     times x quantized to E4M3 per 128-wide group with its scale, as the FP8 GEMM
//     quantizes prefill activations (fp8_act_quant.cuh): ~2.5e-2 relative per product
//     against float x, the checkpoint's own activation scheme;
//   * BF16 weights (mma.m16n8k16): x split into two BF16 values (hi + lo, relative error
//     ~2^-17), two products per weight tile.
// Both take the streaming GEMV's prologue and epilogues (GemvParams: RMSNorm of x, store /
// add to y / SiLU pairs, the new rows' sum of squares).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/gemv.h"

namespace qwen3::cuda {

// One activation row, compute capability 8.9+, k and block_in multiples of 128, x's codes
// fitting the shared memory beside the ring.
bool gemv_fp8_pipe_supports(int64_t rows, int64_t k, int64_t block_in);
// Whether the decoder (LinearContext) and GemvFp8Kernel::kAuto take it: where it is
// supported and QWEN3_GEMV_FP8_PIPE=1 is set (read once); the streaming kernel (float x)
// takes one row otherwise. Opt-in: on an H200 it made batch-1 FP8 decode 4 % faster but
// quantizing decode activations raised the FP8-vs-BF16 KL from 0.051 to 0.080 nats
// (bench/cuda/NOTES.md round N).
bool gemv_fp8_pipe_chosen(int64_t rows, int64_t k, int64_t block_in);
// BF16 weights: one row, k a multiple of 64 that fits; chosen by LinearContext where
// supported and QWEN3_GEMV_BF16_PIPE=1 is set (opt-in: on an H200 it streamed slower
// than the register-loading BF16 GEMV, bench/cuda/NOTES.md round N).
bool gemv_bf16_pipe_supports(int64_t rows, int64_t k);
bool gemv_bf16_pipe_chosen(int64_t rows, int64_t k);

// p: GemvParams' FP8 fields (w_fp8, row_scales, scale_cols, block_in, e5m2) or w (BF16),
// x, y, n_out, k, rows = 1, epilogue and the norm / sum-of-squares fields. k_split and
// pipe_parts force the tiling (else chosen by shape).
void launch_gemv_fp8_pipe(const GemvParams& p, cudaStream_t stream);
void launch_gemv_bf16_pipe(const GemvParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
