// Block-scaled FP8 weight quantization, the format of Qwen3-*-FP8 checkpoints:
// each block_out x block_in tile gets scale_inv = amax(tile) / fp8_max and stores
// round_to_nearest_even(w / scale_inv) in E4M3 (or E5M2).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "model/safetensors_writer.h"

namespace qwen3 {

// w: [rows, cols] float32. out: [rows, cols] fp8 bytes.
// scale_inv: [ceil(rows/block_out), ceil(cols/block_in)] float32.
void quantize_fp8_blockwise(const float* w, int64_t rows, int64_t cols, int64_t block_out,
                            int64_t block_in, DType fp8_dtype, uint8_t* out, float* scale_inv);

// One linear layer to write as FP8: where its float weights come from and how to quantize.
struct Fp8LinearSource {
  std::string module;  // "model.layers.0.mlp.up_proj" (no ".weight")
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t block_out = 128;
  int64_t block_in = 128;
  DType fp8_dtype = DType::kF8E4M3;
  std::function<void(float* w)> load;  // writes rows * cols float32 values
  // Called once after quantization with the float weights, fp8 bytes and scales
  // (progress, error statistics); may be empty.
  std::function<void(const float* w, const uint8_t* q, const float* scale_inv)> observe;
};

// Appends MODULE.weight (fp8) and MODULE.weight_scale_inv (F32 [ceil(rows/bo), ceil(cols/bi)])
// to `specs`, in that order. The weight is loaded and quantized once, when the weight is
// filled; the scale spec must therefore be written right after it (same shard, next tensor),
// which write_safetensors_* does for consecutive specs.
void append_fp8_linear_specs(Fp8LinearSource source, std::vector<TensorSpec>& specs);

// dequant(q) for a [rows, cols] fp8 matrix with block scales, into float32 `out`.
void dequantize_fp8_blockwise(const uint8_t* q, int64_t rows, int64_t cols, int64_t block_out,
                              int64_t block_in, DType fp8_dtype, const float* scale_inv,
                              float* out);

}  // namespace qwen3
