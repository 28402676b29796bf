#include "model/fp8_quant.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace qwen3 {

void quantize_fp8_blockwise(const float* w, int64_t rows, int64_t cols, int64_t block_out,
                            int64_t block_in, DType fp8_dtype, uint8_t* out, float* scale_inv) {
  if (!dtype_is_fp8(fp8_dtype))
    QWEN3_THROW(ErrorCode::kInternal, "quantize to non-fp8 {}", dtype_name(fp8_dtype));
  const float qmax = fp8_max(fp8_dtype);
  const auto encode = fp8_dtype == DType::kF8E4M3 ? f32_to_fp8_e4m3 : f32_to_fp8_e5m2;
  const int64_t brows = (rows + block_out - 1) / block_out;
  const int64_t bcols = (cols + block_in - 1) / block_in;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t br = 0; br < brows; ++br) {
    for (int64_t bc = 0; bc < bcols; ++bc) {
      const int64_t r0 = br * block_out, r1 = std::min(rows, r0 + block_out);
      const int64_t c0 = bc * block_in, c1 = std::min(cols, c0 + block_in);
      float amax = 0.0f;
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
      }
      // An all-zero tile keeps scale 1 so dequantization stays finite.
      const float scale = amax > 0.0f ? amax / qmax : 1.0f;
      scale_inv[br * bcols + bc] = scale;
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) out[r * cols + c] = encode(w[r * cols + c] / scale);
      }
    }
  }
}

}  // namespace qwen3
