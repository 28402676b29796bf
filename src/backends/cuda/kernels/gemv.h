// Decode-shaped linear layers: y[m, n] = sum_k x[m, k] * W[n, k] for 1..kGemvMaxRows
// activation rows. W (BF16, or FP8 with block scales, row-major [n_out, k]) is streamed
// once with 16-byte loads, up to 16 per lane in flight; x stays float32 (read through
// L1), accumulation is float32. k is split over the warps of a block (more warps, each
// with all its loads in flight at once); the grid is one wave of blocks working through
// row tiles. Launched with PDL: the first weights are loaded before waiting for the
// previous kernel's x.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen3::cuda {

inline constexpr int kGemvMaxRows = 8;

// What the GEMV writes: y = xW^T, y += xW^T (y holds the residual stream), or, for a
// weight whose rows alternate (gate_i, up_i), y[m, i] = silu(gate_i . x) * (up_i . x).
enum class GemvEpilogue { kStore, kAddTo, kSiluPairs };

struct GemvParams {
  const __nv_bfloat16* w;  // [n_out, k], 16-byte aligned
  const float* x;          // [rows, k], 16-byte aligned
  float* y;                // [rows, n_out]
  int64_t n_out;
  int64_t k;  // multiple of 8
  int rows;   // 1 .. kGemvMaxRows
  int rows_per_warp = 0;  // W rows per warp (1, 2, 4); 0: chosen by the launcher
  int k_split = 0;        // warps sharing one row's k range (1, 2, 4, 8); 0: launcher's
  // Prologue: when set, x is the residual stream and the product uses
  // norm_weight * x / sqrt(mean(x^2) + norm_eps) per row (the block's RMSNorm).
  const float* norm_weight = nullptr;  // [k]
  float norm_eps = 0.0f;
  // With norm_weight: sum of x^2 per row computed by whoever wrote x (the previous
  // kAddTo GEMV's sum_squares_out, or the embedding), so no block reduces the row itself.
  const float* norm_sum_squares = nullptr;  // [rows]
  // kAddTo only: adds sum over n of (new y[m, n])^2 to sum_squares_out[m] (float atomics,
  // one per block and row; the buffer must be zeroed before the step).
  float* sum_squares_out = nullptr;  // [rows]
  GemvEpilogue epilogue = GemvEpilogue::kStore;  // kSiluPairs: y is [rows, n_out / 2]
  // launch_gemv_fp8_stream only (w unused): FP8 codes [n_out, k] (E4M3, or E5M2 with
  // e5m2) and per-row block scales: W[n, k] = code * row_scales[n, k / block_in].
  const uint8_t* w_fp8 = nullptr;
  const float* row_scales = nullptr;  // [n_out, scale_cols]
  int64_t scale_cols = 0;
  int block_in = 0;  // a power of two >= 16
  bool e5m2 = false;
  // launch_gemv_fp8_pipe only: k-parts packed into one 16-row tensor-core tile (1, 2, 4,
  // 8; the tile then holds 16 / parts weight rows); 0: chosen by shape.
  int pipe_parts = 0;
};
// True when this kernel handles the shape (else use the cuBLAS path).
bool gemv_supports(int64_t rows, int64_t k);
void launch_gemv_bf16(const GemvParams& p, cudaStream_t stream);
// The same kernel over FP8 weights (16 per 16-byte load, decoded exactly to float32 on
// the integer pipe, each 16-weight partial scaled by its block's scale): k % 16 == 0.
// launch_gemv_fp8 (gemv_fp8.h) takes it for one activation row and for GemvFp8Kernel::kSimt.
void launch_gemv_fp8_stream(const GemvParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
