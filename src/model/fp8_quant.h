// Block-scaled FP8 weight quantization, the format of Qwen3-*-FP8 checkpoints:
// each block_out x block_in tile gets scale_inv = amax(tile) / fp8_max and stores
// round_to_nearest_even(w / scale_inv) in E4M3 (or E5M2).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace qwen3 {

// w: [rows, cols] float32. out: [rows, cols] fp8 bytes.
// scale_inv: [ceil(rows/block_out), ceil(cols/block_in)] float32.
void quantize_fp8_blockwise(const float* w, int64_t rows, int64_t cols, int64_t block_out,
                            int64_t block_in, DType fp8_dtype, uint8_t* out, float* scale_inv);

}  // namespace qwen3
