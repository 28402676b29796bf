// Batch-1 decode over FP8 weights (one activation row, 128-column scale blocks): the
// weights stream into a shared-memory ring by cp.async, so the bytes in flight are not
// bounded by registers (8 steps of 2 KB per warp, 128 KB per SM), and tensor cores
// (mma.m16n8k16, f16 -> f32) multiply them by x rounded to f16 (the tensor-core GEMV's
// numerics, gemv_fp8.h). It takes the streaming GEMV's prologue and epilogues
// (GemvParams: RMSNorm of x, store / add to y / SiLU pairs, the new rows' sum of squares).
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
// against the streaming kernel on a GPU (tools/gpu/fp8_pipe_lab.sh); the streaming
// kernel takes one row otherwise.
bool gemv_fp8_pipe_chosen(int64_t rows, int64_t k, int64_t block_in);

// p: GemvParams' FP8 fields (w_fp8, row_scales, scale_cols, block_in, e5m2), x, y, n_out,
// k, rows = 1, epilogue and the norm / sum-of-squares fields. k_split and pipe_parts
// force the tiling (else chosen by shape).
void launch_gemv_fp8_pipe(const GemvParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
