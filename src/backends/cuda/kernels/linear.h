// y = x W^T for a BF16 or FP8 weight matrix and float32 activations, choosing per shape:
// the streaming GEMV (gemv.h, gemv_fp8.h) for <= kGemvMaxRows rows, cuBLAS (x rounded to
// BF16, float32 accumulate and output; inside the MLP BF16 in and out where the caller
// asks, see run_silu_pairs_bf16) above. FP8 weights above the GEMV's rows take the
// block-scaled FP8 GEMM (fp8_gemm.h: x quantized per token and 128-wide group, the
// checkpoints' dynamic activation scheme) where cuBLASLt has one (Hopper, E4M3, 128-wide
// blocks), else they are dequantized to a BF16 scratch matrix for cuBLAS.
#pragma once

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/fp8_gemm.h"
#include "core/dtype.h"

namespace qwen3::cuda {

// BF16 weights take the GEMV up to this many activation rows, cuBLAS above: on the H200
// at Qwen3-4B shapes the GEMV streams 31-49 % of copy bandwidth at 4 rows against
// cuBLAS's 25-52 % (and 21-34 % at 8), while at 1-2 rows the GEMV is clearly ahead.
inline constexpr int64_t kGemvBf16Rows = 3;

// A weight matrix on the device: row-major [rows, cols], BF16 (data) or FP8 (fp8 with
// one scale per row and block_in columns: W[r, c] = fp8[r, c] * row_scales[r, c / block_in];
// per-row rather than per-tile scales keep row permutations such as the gate/up
// interleave trivial, for 4 / block_in bytes per weight).
struct DeviceMatrix {
  const __nv_bfloat16* data = nullptr;  // [rows, cols], dtype kBF16
  int64_t rows = 0;
  int64_t cols = 0;
  DType dtype = DType::kBF16;           // kBF16, kF8E4M3 or kF8E5M2
  const uint8_t* fp8 = nullptr;         // [rows, cols], FP8 dtypes
  const float* row_scales = nullptr;    // [rows, ceil(cols / block_in)], FP8 dtypes
  int64_t block_in = 0;                 // FP8 dtypes
  // The same scales as [cols / 128, rows] (row index fastest), cuBLASLt's layout for the
  // block-scaled FP8 GEMM; set for E4M3 matrices with block_in 128 whose cols are a
  // multiple of 128 (CudaWeights), else nullptr.
  const float* lt_scales = nullptr;

  bool is_fp8() const { return dtype_is_fp8(dtype); }
  int64_t scale_cols() const { return block_in > 0 ? (cols + block_in - 1) / block_in : 0; }
};

// The input of a linear layer: x, or RMSNorm(x) * norm_weight when norm_weight is set
// (x is then the residual stream). The norm runs as its own kernel first, unless
// sum_squares holds each row's sum of x^2 (written by the producer of x, see
// LinearContext::run's sum_squares_out) and fuses_norm(w, rows): the GEMV then applies
// the norm while it reads x.
// x_bf16 instead of x: an input already rounded to BF16 (what run_silu_pairs_bf16 writes),
// taken by the shapes of takes_bf16_input (a BF16 product as it is; the FP8 GEMM
// quantizes it).
struct LinearInput {
  const float* x = nullptr;            // [rows, w.cols]
  const float* norm_weight = nullptr;  // [w.cols] or nullptr
  float eps = 0.0f;
  const float* sum_squares = nullptr;  // [rows] or nullptr
  const __nv_bfloat16* x_bf16 = nullptr;  // [rows, w.cols] (then x, norm_weight unused)
};

enum class LinearOutput {
  kStore,      // y = x W^T                               y: [rows, w.rows]
  kAddTo,      // y += x W^T (y is the residual stream)   y: [rows, w.rows]
  kSiluPairs,  // W rows alternate gate_i, up_i: y[:, i] = silu(gate_i) * up_i; y: [rows, w.rows / 2]
};

class LinearContext {
 public:
  explicit LinearContext(cudaStream_t stream);
  ~LinearContext();
  LinearContext(const LinearContext&) = delete;
  LinearContext& operator=(const LinearContext&) = delete;

  // sum_squares_out (kAddTo, fuses_norm only): receives += each new y row's sum of squares
  // (zero it before the step).
  void run(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
           LinearOutput out = LinearOutput::kStore, float* sum_squares_out = nullptr);
  // True when run() takes LinearInput::sum_squares and sum_squares_out for this shape (the
  // streaming GEMV: BF16 up to kGemvBf16Rows rows, FP8 where gemv_fp8_takes_stream, on
  // the pipelined FP8 kernel where gemv_fp8_pipe_chosen; the FP8 tensor-core GEMV for
  // 2-8 rows and cuBLAS run the norm as a kernel of its own).
  static bool fuses_norm(const DeviceMatrix& w, int64_t rows);
  void run(const DeviceMatrix& w, const float* x, int64_t rows, float* y) {
    run(w, LinearInput{x}, rows, y);
  }
  // The GEMV with its RMSNorm prologue fused (tests; see run()).
  void run_gemv_fused_norm(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y);
  // True when run_cublas() takes the block-scaled FP8 GEMM for `rows` rows of this matrix
  // (bf16_out: with a BF16 output, for run_silu_pairs_bf16).
  bool takes_fp8_gemm(const DeviceMatrix& w, int64_t rows, bool bf16_out = false);
  // True when run() multiplies `rows` rows of this matrix on cuBLAS in BF16 (BF16 weights
  // above the GEMV's rows; FP8 ones dequantized where neither FP8 kernel takes them).
  bool takes_bf16_gemm(const DeviceMatrix& w, int64_t rows);
  // True when run() takes LinearInput::x_bf16 for `rows` rows of this matrix: a BF16
  // product (takes_bf16_gemm) or the FP8 GEMM (its activation quantizer reads BF16 too).
  bool takes_bf16_input(const DeviceMatrix& w, int64_t rows);
  // LinearOutput::kSiluPairs with the gate/up products and y ([rows, w.rows / 2]) in BF16,
  // for the shapes of mlp_in_bf16: the next product reads y as x_bf16, so the MLP's widest
  // activations cross memory at half the bytes and are never converted (the float32 path
  // rounds the same values to BF16, or quantizes them, before down_proj anyway).
  void run_silu_pairs_bf16(const DeviceMatrix& w, const LinearInput& in, int64_t rows,
                           __nv_bfloat16* y);
  // Whether an MLP of these matrices keeps its activations in BF16 for `rows` rows
  // (run_silu_pairs_bf16, then down_proj on x_bf16): gate_up a BF16 product or an FP8 GEMM
  // with a BF16 output, down takes_bf16_input, and the switch on (QWEN3_CUDA_BF16_MLP=0
  // starts it off, for A/B runs).
  bool mlp_in_bf16(const DeviceMatrix& gate_up, const DeviceMatrix& down, int64_t rows);
  void set_bf16_mlp(bool on) { bf16_mlp_on_ = on; }
  // Off: FP8 weights above the GEMV's rows are dequantized for cuBLAS instead (tests and
  // benchmarks compare the two; QWEN3_CUDA_FP8_GEMM=0 starts it off).
  void set_fp8_gemm(bool on) { fp8_gemm_on_ = on; }
  // Forces the cuBLAS path (tests compare both paths).
  void run_cublas(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
                  LinearOutput out = LinearOutput::kStore);
  void run_cublas(const DeviceMatrix& w, const float* x, int64_t rows, float* y) {
    run_cublas(w, LinearInput{x}, rows, y);
  }
  cudaStream_t stream() const { return stream_; }
  // Sizes the normed-input buffer for `floats` values ahead of a graph capture; true
  // when it moved (captured graphs holding the old address must be dropped).
  bool reserve_normed(size_t floats) {
    return normed_.ensure(floats * sizeof(float), "normed linear-layer input");
  }
  // Sizes the BF16 scratch an FP8 matrix of `weights` values is dequantized into for
  // cuBLAS (reserved up front so a long prefill does not fail for memory later).
  void reserve_dequant(size_t weights) {
    dequant_.ensure(weights * sizeof(__nv_bfloat16), "FP8 weights dequantized to BF16");
  }

 private:
  cudaStream_t stream_;
  cublasHandle_t handle_ = nullptr;
  DeviceBuffer x_bf16_;  // x (or its norm) rounded to BF16 for cuBLAS
  DeviceBuffer normed_;  // RMSNorm(x) before the product
  DeviceBuffer pairs_;   // gate/up products before SiLU on the cuBLAS path
  DeviceBuffer dequant_;  // an FP8 matrix dequantized to BF16 for cuBLAS
  DeviceBuffer act_codes_;   // x quantized to E4M3 for the FP8 GEMM
  DeviceBuffer act_scales_;  // its group scales
  DeviceBuffer tail_out_;    // the FP8 GEMM's last (padded) 16 rows
  DeviceBuffer workspace_;
  Fp8BlockGemm fp8_gemm_;
  bool fp8_gemm_on_ = true;
  bool bf16_mlp_on_ = true;

  void run_fp8_gemm(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
                    LinearOutput out, __nv_bfloat16* y_bf16 = nullptr);
  // The input of a BF16 product: x_bf16 as given, else x (or its RMSNorm) rounded into
  // x_bf16_.
  const __nv_bfloat16* bf16_input(const LinearInput& in, int64_t rows, int64_t cols);
  // The BF16 weights of w for a product (an FP8 matrix dequantized into dequant_).
  const __nv_bfloat16* bf16_weights(const DeviceMatrix& w);
  // c = x W^T (+ c when accumulate), c [rows, w.rows] of c_type (float32 or BF16).
  void gemm_bf16(const __nv_bfloat16* wdata, const DeviceMatrix& w, const __nv_bfloat16* x,
                 int64_t rows, void* c, cudaDataType_t c_type, bool accumulate);
};

}  // namespace qwen3::cuda
