#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/rope_kv.cuh"
#include "backends/cuda/kernels/rope_kv.h"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHeadDim = 256;

// One warp per (row, head). Heads 0..heads-1 are q, then kv_heads of k, then of v.
template <typename KV>
__global__ void __launch_bounds__(kWarps * 32) qk_norm_rope_kv_kernel(const QkNormRopeKvParams p) {
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  __shared__ float buf[kWarps][kMaxHeadDim];
  pdl_trigger();
  pdl_wait();
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t row = blockIdx.x;
  const int head = blockIdx.y * kWarps + warp;
  const int total_heads = p.heads + 2 * p.kv_heads;
  if (head >= total_heads) return;
  const int hd = p.head_dim;
  const int64_t row_stride = static_cast<int64_t>(total_heads) * hd;
  const float* x = p.qkv + row * row_stride + static_cast<int64_t>(head) * hd;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * hd;
  const int64_t slot = p.row_slot[row];

  if (head >= p.heads + p.kv_heads) {  // v: straight into the pool
    KV* dst = static_cast<KV*>(p.v_pool) + slot * kv_dim +
              static_cast<int64_t>(head - p.heads - p.kv_heads) * hd;
    const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;
    for (int i = lane; i < hd; i += 32) store_kv(dst + i, x[i], v_scale);
    return;
  }
  const float pos = static_cast<float>(p.row_pos[row]);
  if (head < p.heads) {
    float* q = p.q_out + row * static_cast<int64_t>(p.heads) * hd + static_cast<int64_t>(head) * hd;
    norm_rope_head(x, p.q_norm, p.inv_freq, pos, p.attention_scaling, p.eps, hd, buf[warp],
                   [&](int i, float y) { q[i] = y; });
    return;
  }
  KV* dst = static_cast<KV*>(p.k_pool) + slot * kv_dim + static_cast<int64_t>(head - p.heads) * hd;
  const float k_scale = kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f;
  norm_rope_head(x, p.k_norm, p.inv_freq, pos, p.attention_scaling, p.eps, hd, buf[warp],
                 [&](int i, float y) { store_kv(dst + i, y, k_scale); });
}

}  // namespace

void launch_qk_norm_rope_kv(const QkNormRopeKvParams& p, cudaStream_t stream) {
  if (p.rows <= 0) return;
  check_shape(p.head_dim % 2 == 0 && p.head_dim >= 2 && p.head_dim <= kMaxHeadDim,
              "qk_norm_rope_kv", "head_dim must be even and <= 256", true);
  const int total_heads = p.heads + 2 * p.kv_heads;
  const dim3 grid(static_cast<unsigned>(p.rows), (total_heads + kWarps - 1) / kWarps);
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      launch_kernel("qk_norm_rope_kv_kernel", qk_norm_rope_kv_kernel<__nv_bfloat16>, grid,
                    dim3(kWarps * 32), 0, stream, p);
      break;
    case KvDtype::kF32:
      launch_kernel("qk_norm_rope_kv_kernel", qk_norm_rope_kv_kernel<float>, grid,
                    dim3(kWarps * 32), 0, stream, p);
      break;
    case KvDtype::kFp8E4M3:
      launch_kernel("qk_norm_rope_kv_kernel", qk_norm_rope_kv_kernel<__nv_fp8_e4m3>, grid,
                    dim3(kWarps * 32), 0, stream, p);
      break;
  }
}

}  // namespace qwen3::cuda
