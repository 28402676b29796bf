// Dynamic FP8 (E4M3) quantization of activations for the block-scaled FP8 GEMM: each row
// is cut into groups of 128 values, each group gets scale = max|x| / 448 and codes
// e4m3(x / scale) (round to nearest even), the per-token-group scheme of FP8 checkpoints'
// "activation_scheme": "dynamic". The RMSNorm of the linear layer's input can be fused in
// (the values quantized are then norm_weight * (x * inv_rms), the CPU's order).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen3::cuda {

inline constexpr int64_t kActQuantGroup = 128;

// The FP8 GEMM takes row counts that are multiples of 16 (fp8_gemm.h): rows are quantized
// as two operands, the first `main_rows` (a multiple of 16) and the rest padded to 16 rows
// of zero codes (scale 1), each with its own scale tensor. main_rows == rows: one operand.
struct ActQuantParams {
  const float* x;                      // [rows, k], or nullptr with x_bf16
  const float* norm_weight = nullptr;  // [k] or nullptr: quantize x itself
  float eps = 0.0f;
  uint8_t* codes = nullptr;  // [padded_rows(), k] E4M3
  // Group g of row r < main_rows at scales[g * main_rows + r]; of row r >= main_rows at
  // scales[main_rows * k / 128 + g * 16 + (r - main_rows)].
  float* scales = nullptr;
  int64_t rows = 0;
  int64_t main_rows = 0;
  int64_t k = 0;  // a multiple of 128
  int64_t padded_rows() const { return rows == main_rows ? rows : main_rows + 16; }
  const __nv_bfloat16* x_bf16 = nullptr;  // [rows, k]: a BF16 input instead of x (no norm)
};
void launch_act_quant_fp8(const ActQuantParams& p, cudaStream_t stream);

}  // namespace qwen3::cuda
