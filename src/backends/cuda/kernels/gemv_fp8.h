// Decode-shaped linear layers over FP8 weights: y[m, n] = sum_k x[m, k] * W[n, k] *
// scale[n, k / block_in] for 1..kGemvMaxRows activation rows, with the epilogues of the
// BF16 GEMV (gemv.h). W (E4M3 or E5M2, row-major [n_out, k], one byte per weight) is
// streamed once with 16-byte loads. Two kernels:
//   * kMma (block_in a multiple of 128): tensor cores (mma.m16n8k16 f16 -> f32) over
//     16 weight rows x the (up to 8) activation rows; weights convert exactly to f16, x
//     is rounded to f16 (relative error <= 2^-11) and each 128-column block's f32 partial
//     is scaled in f32.
//   * kSimt: the BF16 GEMV's streaming kernel over FP8 codes (launch_gemv_fp8_stream,
//     gemv.h): float32 FMAs on CUDA cores, exact products, row tiles pipelined; it also
//     takes the RMSNorm prologue and the sum-of-squares epilogue (LinearContext fuses
//     the norm with it). kAuto takes it for block_in not a multiple of 128 and for one
//     activation row where kPipe does not apply, the tensor-core kernel otherwise.
//   * kPipe (one activation row, k and block_in multiples of 128): the tensor-core
//     product with the weights streamed through a shared-memory ring (gemv_pipe.h);
//     kAuto takes it for one row where gemv_fp8_pipe_chosen (opt-in for now).
// Scales are stored per row ([n_out, k / block_in]) so fused matrices (q|k|v, gate/up
// interleaved) need no index mapping. Also: the FP8 -> BF16 dequantization used by the
// cuBLAS path for many rows.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/kernels/gemv.h"
#include "core/dtype.h"

namespace qwen3::cuda {

// kAuto: kSimt where the environment sets QWEN3_GEMV_FP8=simt (a switch for benchmarks
// and bisecting), else kPipe where gemv_fp8_pipe_chosen (and rows_per_warp is 0), else
// kSimt where gemv_fp8_takes_stream, else kMma.
enum class GemvFp8Kernel { kAuto, kMma, kSimt, kPipe };

struct GemvFp8Params {
  const uint8_t* w;          // [n_out, k] FP8 bytes, 16-byte aligned
  const float* row_scales;   // [n_out, scale_cols]: W[n, k] = fp8 * row_scales[n, k / block_in]
  const float* x;            // [rows, k], 16-byte aligned
  float* y;                  // [rows, n_out] (kSiluPairs: [rows, n_out / 2])
  int64_t n_out;
  int64_t k;                 // multiple of 16
  int64_t scale_cols;        // ceil(k / block_in)
  int block_in = 128;        // a power of two, multiple of 16
  DType dtype = DType::kF8E4M3;  // kF8E4M3 or kF8E5M2
  int rows;                  // 1 .. kGemvMaxRows
  int rows_per_warp = 0;     // kSimt only: W rows per warp (1, 2, 4); 0: the launcher's
  int k_split = 0;           // warps sharing one row's (kMma: one 16-row tile's) k range
                             // (1, 2, 4, 8); 0: chosen by the launcher
  GemvEpilogue epilogue = GemvEpilogue::kStore;
  GemvFp8Kernel kernel = GemvFp8Kernel::kAuto;  // kMma needs block_in % 128 == 0
  int mma_unroll = 0;  // kMma: 128-column chunks per warp load batch (2, or 4 with one
                       // row); 0: the launcher's choice
  int pipe_parts = 0;  // kPipe: k-parts per 16-row tile (GemvParams::pipe_parts)
};

// True when the FP8 GEMV handles the shape (else dequantize and use cuBLAS).
bool gemv_fp8_supports(int64_t rows, int64_t k, int64_t block_in);
// True when kAuto picks the streaming kernel (kSimt) for this shape.
bool gemv_fp8_takes_stream(int64_t rows, int64_t block_in);
void launch_gemv_fp8(const GemvFp8Params& p, cudaStream_t stream);

struct DequantFp8Params {
  const uint8_t* w;         // [rows, cols] FP8 bytes
  const float* row_scales;  // [rows, scale_cols]
  __nv_bfloat16* out;       // [rows, cols]: bf16(fp8 * scale), rounded to nearest even
  int64_t rows;
  int64_t cols;
  int64_t scale_cols;
  int64_t block_in;
  DType dtype = DType::kF8E4M3;
};
void launch_dequant_fp8_to_bf16(const DequantFp8Params& p, cudaStream_t stream);

}  // namespace qwen3::cuda
