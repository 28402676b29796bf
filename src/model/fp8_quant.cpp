#include "model/fp8_quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

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

void dequantize_fp8_blockwise(const uint8_t* q, int64_t rows, int64_t cols, int64_t block_out,
                              int64_t block_in, DType fp8_dtype, const float* scale_inv,
                              float* out) {
  const float* table = fp8_dtype == DType::kF8E4M3 ? fp8_e4m3_table() : fp8_e5m2_table();
  const int64_t bcols = (cols + block_in - 1) / block_in;
  for (int64_t r = 0; r < rows; ++r) {
    const float* s = scale_inv + (r / block_out) * bcols;
    for (int64_t c = 0; c < cols; ++c) out[r * cols + c] = table[q[r * cols + c]] * s[c / block_in];
  }
}

void append_fp8_linear_specs(Fp8LinearSource source, std::vector<TensorSpec>& specs) {
  auto src = std::make_shared<const Fp8LinearSource>(std::move(source));
  const int64_t srows = (src->rows + src->block_out - 1) / src->block_out;
  const int64_t scols = (src->cols + src->block_in - 1) / src->block_in;
  // The scales of the last quantization, handed from the weight's fill to the scale's.
  auto scales = std::make_shared<std::vector<float>>();
  specs.push_back({src->module + ".weight",
                   src->fp8_dtype,
                   {src->rows, src->cols},
                   [src, scales, n = srows * scols](uint8_t* dst) {
                     std::vector<float> w(static_cast<size_t>(src->rows * src->cols));
                     src->load(w.data());
                     scales->resize(static_cast<size_t>(n));
                     quantize_fp8_blockwise(w.data(), src->rows, src->cols, src->block_out,
                                            src->block_in, src->fp8_dtype, dst, scales->data());
                     if (src->observe) src->observe(w.data(), dst, scales->data());
                   }});
  specs.push_back({src->module + ".weight_scale_inv",
                   DType::kF32,
                   {srows, scols},
                   [scales, n = srows * scols](uint8_t* dst) {
                     QWEN3_CHECK(scales->size() == static_cast<size_t>(n));
                     std::memcpy(dst, scales->data(), scales->size() * 4);
                     scales->clear();
                   }});
}

}  // namespace qwen3
