#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/fp8_act_quant.cuh"
#include "backends/cuda/kernels/fp8_act_quant.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

constexpr int kThreads = 256;

// Four values of the input row from column c: float32, or BF16 (x_bf16) widened.
template <bool kBf16>
__device__ __forceinline__ float4 load4(const ActQuantParams& p, int64_t r, int64_t c) {
  if constexpr (kBf16) {
    const uint2 v = *reinterpret_cast<const uint2*>(p.x_bf16 + r * p.k + c);
    return make_float4(bf16_lo(v.x), bf16_hi(v.x), bf16_lo(v.y), bf16_hi(v.y));
  } else {
    return *reinterpret_cast<const float4*>(p.x + r * p.k + c);
  }
}

// One block per row; warp w quantizes groups w, w + 8, ... (a lane holds 4 values).
template <bool kBf16>
__global__ void __launch_bounds__(kThreads) act_quant_kernel(const ActQuantParams p) {
  __shared__ float scratch[32];
  pdl_trigger();
  pdl_wait();
  const int64_t r = blockIdx.x;
  const int64_t groups = p.k / kActQuantGroup;
  float* scales =
      r < p.main_rows ? p.scales + r : p.scales + p.main_rows * groups + (r - p.main_rows);
  const int64_t scale_stride = r < p.main_rows ? p.main_rows : 16;
  if (r >= p.rows) {  // padding: zero codes, scale 1
    for (int64_t c = threadIdx.x * 4; c < p.k; c += kThreads * 4)
      *reinterpret_cast<uint32_t*>(p.codes + r * p.k + c) = 0u;
    for (int64_t g = threadIdx.x; g < groups; g += kThreads) scales[g * scale_stride] = 1.0f;
    return;
  }
  float inv = 1.0f;
  if (p.norm_weight != nullptr) {
    float ss = 0.0f;
    for (int64_t c = threadIdx.x * 4; c < p.k; c += kThreads * 4) {
      const float4 v = load4<kBf16>(p, r, c);
      ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    ss = block_sum(ss, scratch);
    inv = 1.0f / sqrtf(ss / static_cast<float>(p.k) + p.eps);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t g = warp; g < groups; g += kThreads / 32) {
    const int64_t c = g * kActQuantGroup + lane * 4;
    float4 v = load4<kBf16>(p, r, c);
    if (p.norm_weight != nullptr) {
      const float4 w = *reinterpret_cast<const float4*>(p.norm_weight + c);
      v = make_float4(w.x * (v.x * inv), w.y * (v.y * inv), w.z * (v.z * inv), w.w * (v.w * inv));
    }
    float scale;
    const uint32_t packed = quantize_group_e4m3(v, scale);
    *reinterpret_cast<uint32_t*>(p.codes + r * p.k + c) = packed;
    if (lane == 0) scales[g * scale_stride] = scale;
  }
}

}  // namespace

void launch_act_quant_fp8(const ActQuantParams& p, cudaStream_t stream) {
  check_shape(p.k > 0 && p.k % kActQuantGroup == 0, "act_quant_fp8", "k must be a multiple of 128");
  check_shape(
      reinterpret_cast<uintptr_t>(p.x) % 16 == 0 &&
          reinterpret_cast<uintptr_t>(p.x_bf16) % 8 == 0 &&
          (p.norm_weight == nullptr || reinterpret_cast<uintptr_t>(p.norm_weight) % 16 == 0),
      "act_quant_fp8", "x (x_bf16) and norm_weight must be 16 (8)-byte aligned");
  check_shape((p.x == nullptr) != (p.x_bf16 == nullptr), "act_quant_fp8", "one input: x or x_bf16");
  check_shape(p.main_rows >= 0 && p.main_rows % 16 == 0 && p.main_rows <= p.rows &&
                  p.rows - p.main_rows < 16,
              "act_quant_fp8", "main_rows must be rows rounded down to a multiple of 16");
  if (p.rows <= 0) return;
  const dim3 grid(static_cast<unsigned>(p.padded_rows()));
  if (p.x_bf16 != nullptr) {
    launch_kernel("act_quant_kernel", act_quant_kernel<true>, grid, dim3(kThreads), 0, stream, p);
  } else {
    launch_kernel("act_quant_kernel", act_quant_kernel<false>, grid, dim3(kThreads), 0, stream, p);
  }
}

}  // namespace qwen3::cuda
