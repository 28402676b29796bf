// y = x W^T on FP8 tensor cores with block scales, through cuBLASLt (Hopper, cuBLAS >= 12.9):
// W in E4M3 with one float scale per row and 128 columns, x quantized per token and 128-wide
// group (fp8_act_quant.h), float32 accumulate, output float32 (stored or added to y) or
// BF16. Both scale
// tensors use cuBLASLt's VEC128_32F layout: [k / 128][rows of the operand], the row index
// fastest (DeviceMatrix::lt_scales for W, ActQuantParams::scales for x). On the H200 with
// cuBLAS 13.1 cuBLASLt offers kernels for this pairing only when the activation rows are a
// multiple of 8 (none at 333 rows, some at 40), so products take multiples of 16 rows
// (LinearContext pads the rest); its heuristic answers only once the scale pointers are set.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <tuple>

namespace qwen3::cuda {

struct Fp8GemmArgs {
  const uint8_t* w;       // [n_out, k] E4M3
  const float* w_scales;  // [k / 128, n_out]
  const uint8_t* x;       // [rows, k] E4M3
  const float* x_scales;  // [k / 128, rows]
  float* y;               // [rows, n_out], or nullptr with y_bf16
  int64_t n_out = 0;
  int64_t k = 0;            // a multiple of 128
  int64_t rows = 0;         // a multiple of 16
  bool accumulate = false;  // y += x W^T instead of y = x W^T
  __nv_bfloat16* y_bf16 = nullptr;  // [rows, n_out]: the output rounded to BF16 instead of y
};

class Fp8BlockGemm {
 public:
  Fp8BlockGemm();
  ~Fp8BlockGemm();
  Fp8BlockGemm(const Fp8BlockGemm&) = delete;
  Fp8BlockGemm& operator=(const Fp8BlockGemm&) = delete;

  // True when the device is a Hopper GPU (compute capability 9.0) and cuBLASLt offers a
  // kernel for this shape (rows a multiple of 16) within the workspace (asked once per
  // shape, then cached; `workspace` stands in for the scale pointers while asking).
  // bf16_out: with a BF16 output (Fp8GemmArgs::y_bf16).
  bool supported(int64_t n_out, int64_t k, int64_t rows, void* workspace, size_t workspace_bytes,
                 bool bf16_out = false);
  // Runs the product (supported() must have said yes for the shape).
  void run(const Fp8GemmArgs& a, void* workspace, size_t workspace_bytes, cudaStream_t stream);

 private:
  struct Plan {
    bool ok = false;
    cublasLtMatmulAlgo_t algo{};
  };
  const Plan& plan(int64_t n_out, int64_t k, int64_t rows, bool bf16_out, void* workspace,
                   size_t workspace_bytes);

  cublasLtHandle_t handle_ = nullptr;
  bool hopper_ = false;
  std::map<std::tuple<int64_t, int64_t, int64_t, bool>, Plan> plans_;
};

}  // namespace qwen3::cuda
