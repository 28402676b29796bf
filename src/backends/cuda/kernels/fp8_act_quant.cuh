// One 128-wide activation group quantized to E4M3 by a warp (4 values per lane, lane l
// holding columns 4l .. 4l+3): scale = max|v| / 448 (1 for an all-zero group), codes =
// e4m3(v / scale), saturating. The FP8 GEMM's activation quantizer (fp8_act_quant.cu) and
// the pipelined one-row FP8 GEMV (gemv_pipe.cu) share it, so prefill and decode multiply
// the same codes.
#pragma once

#include <cuda_fp8.h>

#include <cstdint>

#include "backends/cuda/kernels/common.cuh"

namespace qwen3::cuda {

constexpr float kE4M3Max = 448.0f;

// Returns the lane's 4 codes packed (column 4l in the low byte); the group's scale in `scale`.
__device__ __forceinline__ uint32_t quantize_group_e4m3(const float4 v, float& scale) {
  const float amax = warp_max(fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
  // An all-zero group (or one of NaNs) keeps scale 1: its codes are the values.
  scale = amax > 0.0f ? amax / kE4M3Max : 1.0f;
  const float q[4] = {v.x / scale, v.y / scale, v.z / scale, v.w / scale};
  uint32_t packed = 0;
#pragma unroll
  for (int j = 0; j < 4; ++j)
    packed |= static_cast<uint32_t>(__nv_cvt_float_to_fp8(q[j], __NV_SATFINITE, __NV_E4M3))
              << (8 * j);
  return packed;
}

}  // namespace qwen3::cuda
