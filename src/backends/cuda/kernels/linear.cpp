#include "backends/cuda/kernels/linear.h"

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/kernels/fp8_act_quant.h"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/gemv_fp8.h"
#include "backends/cuda/kernels/gemv_pipe.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

GemvEpilogue gemv_epilogue(LinearOutput out) {
  return out == LinearOutput::kAddTo      ? GemvEpilogue::kAddTo
         : out == LinearOutput::kSiluPairs ? GemvEpilogue::kSiluPairs
                                           : GemvEpilogue::kStore;
}

// The streaming GEMV's parameters for `w` (BF16, or FP8 codes with their row scales);
// the caller adds the norm prologue / sum-of-squares fields it uses.
GemvParams stream_params(const DeviceMatrix& w, const float* x, float* y, int64_t rows,
                         LinearOutput out) {
  GemvParams p{.w = w.data, .x = x, .y = y, .n_out = w.rows, .k = w.cols,
               .rows = static_cast<int>(rows)};
  p.epilogue = gemv_epilogue(out);
  if (w.is_fp8()) {
    p.w_fp8 = w.fp8;
    p.row_scales = w.row_scales;
    p.scale_cols = w.scale_cols();
    p.block_in = static_cast<int>(w.block_in);
    p.e5m2 = w.dtype == DType::kF8E5M2;
  }
  return p;
}

// The streaming GEMV of `p`, or for one row the pipelined one where chosen (gemv_pipe.h).
void launch_one_row_aware(const DeviceMatrix& w, const GemvParams& p, cudaStream_t stream) {
  if (w.is_fp8()) {
    if (gemv_fp8_pipe_chosen(p.rows, w.cols, w.block_in)) return launch_gemv_fp8_pipe(p, stream);
    return launch_gemv_fp8_stream(p, stream);
  }
  if (gemv_bf16_pipe_chosen(p.rows, w.cols)) return launch_gemv_bf16_pipe(p, stream);
  launch_gemv_bf16(p, stream);
}

}  // namespace

LinearContext::LinearContext(cudaStream_t stream) : stream_(stream) {
  QWEN3_CUBLAS_CHECK(cublasCreate(&handle_));
  QWEN3_CUBLAS_CHECK(cublasSetStream(handle_, stream_));
  workspace_ = DeviceBuffer(32u << 20, "cuBLAS workspace");
  QWEN3_CUBLAS_CHECK(cublasSetWorkspace(handle_, workspace_.get(), workspace_.bytes()));
  fp8_gemm_on_ = env_flag("QWEN3_CUDA_FP8_GEMM", true);
  bf16_mlp_on_ = env_flag("QWEN3_CUDA_BF16_MLP", true);
}

LinearContext::~LinearContext() {
  if (handle_) cublasDestroy(handle_);
}

bool LinearContext::fuses_norm(const DeviceMatrix& w, int64_t rows) {
  if (w.is_fp8()) {
    return gemv_fp8_supports(rows, w.cols, w.block_in) && gemv_fp8_takes_stream(rows, w.block_in);
  }
  return rows <= kGemvBf16Rows && gemv_supports(rows, w.cols);
}

void LinearContext::run(const DeviceMatrix& w, const LinearInput& in, int64_t rows, float* y,
                        LinearOutput out, float* sum_squares_out) {
  if (rows <= 0) return;
  if (in.x_bf16 != nullptr) {  // run_cublas checks the shape takes it
    check_shape(in.sum_squares == nullptr && sum_squares_out == nullptr, "linear",
                "a BF16 input runs no fused norm (LinearContext::fuses_norm)");
    return run_cublas(w, in, rows, y, out);
  }
  const bool fused = fuses_norm(w, rows);
  check_shape(fused || (in.sum_squares == nullptr && sum_squares_out == nullptr), "linear",
              "sum_squares needs the streaming GEMV (LinearContext::fuses_norm)");
  if (fused && (in.sum_squares != nullptr || sum_squares_out != nullptr)) {
    // The norm's sum of squares comes with x, so the GEMV normalises x as it reads it
    // (no separate norm kernel, no block reduces the row).
    GemvParams p = stream_params(w, in.x, y, rows, out);
    if (in.sum_squares != nullptr) {
      p.norm_weight = in.norm_weight;
      p.norm_eps = in.eps;
      p.norm_sum_squares = in.sum_squares;
    }
    p.sum_squares_out = sum_squares_out;
    launch_one_row_aware(w, p, stream_);
    return;
  }
  if (w.is_fp8() ? gemv_fp8_supports(rows, w.cols, w.block_in)
                 : rows <= kGemvBf16Rows && gemv_supports(rows, w.cols)) {
    // The GEMV can fuse the norm (GemvParams::norm_weight), but every block then reduces
    // the whole row before its first weight load: on the H200 at Qwen3-4B shapes that
    // measured slower than a separate norm kernel (decode 241 vs 266 tok/s), so it is
    // only used by the tests for now.
    const float* x = in.x;
    if (in.norm_weight != nullptr) {
      normed_.ensure(static_cast<size_t>(rows * w.cols) * 4, "normed linear-layer input");
      launch_add_rms_norm({const_cast<float*>(in.x), nullptr, in.norm_weight, nullptr,
                           normed_.as<float>(), rows, w.cols, in.eps, false},
                          stream_);
      x = normed_.as<float>();
    }
    if (w.is_fp8()) {
      launch_gemv_fp8({.w = w.fp8, .row_scales = w.row_scales, .x = x, .y = y, .n_out = w.rows,
                       .k = w.cols, .scale_cols = w.scale_cols(),
                       .block_in = static_cast<int>(w.block_in), .dtype = w.dtype,
                       .rows = static_cast<int>(rows), .epilogue = gemv_epilogue(out)},
                      stream_);
      return;
    }
    launch_one_row_aware(w, stream_params(w, x, y, rows, out), stream_);
    return;
  }
  run_cublas(w, in, rows, y, out);
}

void LinearContext::run_gemv_fused_norm(const DeviceMatrix& w, const LinearInput& in,
                                        int64_t rows, float* y) {
  check_shape(!w.is_fp8(), "run_gemv_fused_norm", "BF16 weights only");
  GemvParams p = stream_params(w, in.x, y, rows, LinearOutput::kStore);
  p.norm_weight = in.norm_weight;
  p.norm_eps = in.eps;
  launch_gemv_bf16(p, stream_);
}

bool LinearContext::takes_fp8_gemm(const DeviceMatrix& w, int64_t rows, bool bf16_out) {
  if (!fp8_gemm_on_ || w.lt_scales == nullptr || w.dtype != DType::kF8E4M3 || w.block_in != 128)
    return false;
  const int64_t main = rows / 16 * 16;
  auto ok = [&](int64_t n) {
    return fp8_gemm_.supported(w.rows, w.cols, n, workspace_.get(), workspace_.bytes(), bf16_out);
  };
  return (main == 0 || ok(main)) && (main == rows || ok(16));
}

// The first rows / 16 * 16 rows in one product; the rest as a product of 16 rows (zero
// padding) into a scratch, then stored or added into y (SiLU pairs: into the pairs
// scratch, which holds the padded rows). y_bf16 (kSiluPairs only): the gate/up products
// in BF16 and the SiLU output rounded into y_bf16 instead of y.
void LinearContext::run_fp8_gemm(const DeviceMatrix& w, const LinearInput& in, int64_t rows,
                                 float* y, LinearOutput out, __nv_bfloat16* y_bf16) {
  const int64_t main = rows / 16 * 16, tail = rows - main;
  const bool bf16_pairs = y_bf16 != nullptr;
  const ActQuantParams q{.x = in.x_bf16 != nullptr ? nullptr : in.x,
                         .norm_weight = in.x_bf16 != nullptr ? nullptr : in.norm_weight,
                         .eps = in.eps,
                         .rows = rows,
                         .main_rows = main,
                         .k = w.cols,
                         .x_bf16 = in.x_bf16};
  const auto padded = static_cast<size_t>(q.padded_rows());
  const auto cols = static_cast<size_t>(w.cols), n_out = static_cast<size_t>(w.rows);
  act_codes_.ensure(padded * cols, "linear-layer activations (FP8)");
  act_scales_.ensure(padded * cols / kActQuantGroup * 4, "linear-layer activation scales");
  ActQuantParams qp = q;
  qp.codes = act_codes_.as<uint8_t>();
  qp.scales = act_scales_.as<float>();
  launch_act_quant_fp8(qp, stream_);  // with the input's RMSNorm applied first
  float* c = y;
  if (out == LinearOutput::kSiluPairs) {
    pairs_.ensure(padded * n_out * (bf16_pairs ? 2 : 4), "gate/up products");
    c = pairs_.as<float>();
  }
  auto* c_bf16 = bf16_pairs ? pairs_.as<__nv_bfloat16>() : nullptr;
  Fp8GemmArgs a{.w = w.fp8,
                .w_scales = w.lt_scales,
                .x = qp.codes,
                .x_scales = qp.scales,
                .y = bf16_pairs ? nullptr : c,
                .n_out = w.rows,
                .k = w.cols,
                .rows = main,
                .accumulate = out == LinearOutput::kAddTo,
                .y_bf16 = c_bf16};
  if (main > 0) fp8_gemm_.run(a, workspace_.get(), workspace_.bytes(), stream_);
  if (tail > 0) {
    a.x = qp.codes + main * w.cols;
    a.x_scales = qp.scales + main * w.cols / kActQuantGroup;
    a.rows = 16;
    a.accumulate = false;
    float* const dst = c + main * w.rows;
    if (bf16_pairs) {
      a.y_bf16 = c_bf16 + main * w.rows;
    } else if (out == LinearOutput::kSiluPairs) {
      a.y = dst;
    } else {
      tail_out_.ensure(16 * n_out * 4, "FP8 GEMM padded rows");
      a.y = tail_out_.as<float>();
    }
    fp8_gemm_.run(a, workspace_.get(), workspace_.bytes(), stream_);
    const auto n = static_cast<size_t>(tail) * n_out;
    if (out == LinearOutput::kStore) {
      QWEN3_CUDA_CHECK(cudaMemcpyAsync(dst, a.y, n * 4, cudaMemcpyDeviceToDevice, stream_));
    } else if (out == LinearOutput::kAddTo) {
      const float one = 1.0f;
      QWEN3_CUBLAS_CHECK(cublasSaxpy(handle_, static_cast<int>(n), &one, a.y, 1, dst, 1));
    }
  }
  if (bf16_pairs) {
    launch_silu_mul_bf16(c_bf16, y_bf16, rows * (w.rows / 2), stream_);
  } else if (out == LinearOutput::kSiluPairs) {
    launch_silu_mul({c, y, rows, w.rows / 2}, stream_);
  }
}

bool LinearContext::takes_bf16_gemm(const DeviceMatrix& w, int64_t rows) {
  if (w.is_fp8()) return !gemv_fp8_supports(rows, w.cols, w.block_in) && !takes_fp8_gemm(w, rows);
  return !(rows <= kGemvBf16Rows && gemv_supports(rows, w.cols));
}

// Above the GEMVs' rows everything runs in run_cublas, whose two paths both take x_bf16.
bool LinearContext::takes_bf16_input(const DeviceMatrix& w, int64_t rows) {
  return w.is_fp8() ? !gemv_fp8_supports(rows, w.cols, w.block_in) : takes_bf16_gemm(w, rows);
}

bool LinearContext::mlp_in_bf16(const DeviceMatrix& gate_up, const DeviceMatrix& down,
                                int64_t rows) {
  return bf16_mlp_on_ && takes_bf16_input(gate_up, rows) && takes_bf16_input(down, rows) &&
         (!takes_fp8_gemm(gate_up, rows) || takes_fp8_gemm(gate_up, rows, true));
}

const __nv_bfloat16* LinearContext::bf16_input(const LinearInput& in, int64_t rows, int64_t cols) {
  if (in.x_bf16 != nullptr) return in.x_bf16;
  const int64_t n = rows * cols;
  x_bf16_.ensure(static_cast<size_t>(n) * 2, "linear-layer activations (BF16)");
  auto* xb = x_bf16_.as<__nv_bfloat16>();
  if (in.norm_weight != nullptr) {  // the norm rounds its output straight to BF16
    launch_add_rms_norm({const_cast<float*>(in.x), nullptr, in.norm_weight, nullptr, nullptr, rows,
                         cols, in.eps, false, xb},
                        stream_);
  } else {
    launch_f32_to_bf16(in.x, xb, n, stream_);
  }
  return xb;
}

const __nv_bfloat16* LinearContext::bf16_weights(const DeviceMatrix& w) {
  if (!w.is_fp8()) return w.data;
  reserve_dequant(static_cast<size_t>(w.rows * w.cols));
  launch_dequant_fp8_to_bf16({.w = w.fp8,
                              .row_scales = w.row_scales,
                              .out = dequant_.as<__nv_bfloat16>(),
                              .rows = w.rows,
                              .cols = w.cols,
                              .scale_cols = w.scale_cols(),
                              .block_in = w.block_in,
                              .dtype = w.dtype},
                             stream_);
  return dequant_.as<__nv_bfloat16>();
}

void LinearContext::gemm_bf16(const __nv_bfloat16* wdata, const DeviceMatrix& w,
                              const __nv_bfloat16* x, int64_t rows, void* c, cudaDataType_t c_type,
                              bool accumulate) {
  // Column-major view: Y^T [n_out, rows] = W [k, n_out]^T * X^T [k, rows]; beta = 1 adds
  // into the residual stream.
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  QWEN3_CUBLAS_CHECK(
      cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows),
                   static_cast<int>(rows), static_cast<int>(w.cols), &alpha, wdata, CUDA_R_16BF,
                   static_cast<int>(w.cols), x, CUDA_R_16BF, static_cast<int>(w.cols), &beta, c,
                   c_type, static_cast<int>(w.rows), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void LinearContext::run_cublas(const DeviceMatrix& w, const LinearInput& in, int64_t rows,
                               float* y, LinearOutput out) {
  if (rows <= 0) return;
  check_shape(in.x_bf16 == nullptr || takes_bf16_input(w, rows), "linear",
              "a BF16 input needs a product that takes one (LinearContext::takes_bf16_input)");
  if (takes_fp8_gemm(w, rows)) {
    run_fp8_gemm(w, in, rows, y, out);
    return;
  }
  const __nv_bfloat16* wdata = bf16_weights(w);
  const __nv_bfloat16* x = bf16_input(in, rows, w.cols);
  float* c = y;
  if (out == LinearOutput::kSiluPairs) {
    pairs_.ensure(static_cast<size_t>(rows * w.rows) * 4, "gate/up products");
    c = pairs_.as<float>();
  }
  gemm_bf16(wdata, w, x, rows, c, CUDA_R_32F, out == LinearOutput::kAddTo);
  if (out == LinearOutput::kSiluPairs) {
    launch_silu_mul({c, y, rows, w.rows / 2}, stream_);
  }
}

void LinearContext::run_silu_pairs_bf16(const DeviceMatrix& w, const LinearInput& in, int64_t rows,
                                        __nv_bfloat16* y) {
  if (rows <= 0) return;
  check_shape(takes_bf16_input(w, rows), "run_silu_pairs_bf16",
              "products above the GEMV's rows only (LinearContext::mlp_in_bf16)");
  if (takes_fp8_gemm(w, rows)) {
    check_shape(takes_fp8_gemm(w, rows, true), "run_silu_pairs_bf16",
                "no FP8 GEMM with a BF16 output for this shape (LinearContext::mlp_in_bf16)");
    run_fp8_gemm(w, in, rows, nullptr, LinearOutput::kSiluPairs, y);
    return;
  }
  const __nv_bfloat16* wdata = bf16_weights(w);
  const __nv_bfloat16* x = bf16_input(in, rows, w.cols);
  pairs_.ensure(static_cast<size_t>(rows * w.rows) * 2, "gate/up products (BF16)");
  gemm_bf16(wdata, w, x, rows, pairs_.get(), CUDA_R_16BF, false);
  launch_silu_mul_bf16(pairs_.as<__nv_bfloat16>(), y, rows * (w.rows / 2), stream_);
}

}  // namespace qwen3::cuda
