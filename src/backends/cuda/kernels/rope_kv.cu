#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/kv_fp8.cuh"
#include "backends/cuda/kernels/launch.h"
#include "backends/cuda/kernels/rope_kv.cuh"
#include "backends/cuda/kernels/rope_kv.h"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kMaxHeadDim = 256;

// One CTA per row: the row's (cos, sin) table first (hd / 2 entries, each computed once
// instead of by every head), then warp w takes heads w, w + kWarps, ...: q heads, then
// kv_heads of k, then of v. kD = head_dim / 32 (its dims in registers, vector loads and
// stores), 0 for any other even head_dim (through shared memory, one value per lane).
template <typename KV, int kD>
__global__ void __launch_bounds__(kWarps * 32) qk_norm_rope_kv_kernel(const QkNormRopeKvParams p) {
  constexpr bool kFp8 = std::is_same_v<KV, __nv_fp8_e4m3>;
  __shared__ float2 cs[kMaxHeadDim / 2];
  __shared__ float buf[kD == 0 ? kWarps : 1][kD == 0 ? kMaxHeadDim : 1];
  pdl_trigger();
  pdl_wait();
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int64_t row = blockIdx.x;
  const int hd = kD > 0 ? 32 * kD : p.head_dim;
  const float pos = static_cast<float>(p.row_pos[row]);
  for (int f = threadIdx.x; f < hd / 2; f += blockDim.x)
    cs[f] = rope_cos_sin(p.inv_freq, f, pos, p.attention_scaling);
  __syncthreads();
  const int total_heads = p.heads + 2 * p.kv_heads;
  const int64_t kv_dim = static_cast<int64_t>(p.kv_heads) * hd;
  const int64_t slot = p.row_slot[row];
  const float k_scale = kFp8 ? kv_scale_or_one(p.k_scale) : 1.0f;
  const float v_scale = kFp8 ? kv_scale_or_one(p.v_scale) : 1.0f;
  float* scratch = buf[kD == 0 ? warp : 0];
  const auto table = [&](int f) { return cs[f]; };
  for (int head = warp; head < total_heads; head += kWarps) {
    const float* x = p.qkv + row * total_heads * hd + static_cast<int64_t>(head) * hd;
    if (head >= p.heads + p.kv_heads) {  // v: straight into the pool
      KV* dst = static_cast<KV*>(p.v_pool) + slot * kv_dim +
                static_cast<int64_t>(head - p.heads - p.kv_heads) * hd;
      if constexpr (kD > 0) {
        float v[kD];
        load_run(x + lane * kD, v);
        store_run(dst + lane * kD, v, v_scale);
      } else {
        for (int i = lane; i < hd; i += 32) store_kv(dst + i, x[i], v_scale);
      }
    } else if (head < p.heads) {
      float* q = p.q_out + (row * p.heads + head) * hd;
      norm_rope_head(x, p.q_norm, p.eps, hd, scratch, table,
                     [&](int i, const auto& y) { store_run(q + i, y, 1.0f); });
    } else {
      KV* dst =
          static_cast<KV*>(p.k_pool) + slot * kv_dim + static_cast<int64_t>(head - p.heads) * hd;
      norm_rope_head(x, p.k_norm, p.eps, hd, scratch, table,
                     [&](int i, const auto& y) { store_run(dst + i, y, k_scale); });
    }
  }
}

template <typename KV>
void launch_for(const QkNormRopeKvParams& p, cudaStream_t stream) {
  const auto launch = [&](auto kernel) {
    launch_kernel("qk_norm_rope_kv_kernel", kernel, dim3(static_cast<unsigned>(p.rows)),
                  dim3(kWarps * 32), 0, stream, p);
  };
  switch (p.head_dim) {
    case 32:
      return launch(qk_norm_rope_kv_kernel<KV, 1>);
    case 64:
      return launch(qk_norm_rope_kv_kernel<KV, 2>);
    case 128:
      return launch(qk_norm_rope_kv_kernel<KV, 4>);
    case 256:
      return launch(qk_norm_rope_kv_kernel<KV, 8>);
    default:
      return launch(qk_norm_rope_kv_kernel<KV, 0>);
  }
}

}  // namespace

void launch_qk_norm_rope_kv(const QkNormRopeKvParams& p, cudaStream_t stream) {
  if (p.rows <= 0) return;
  check_shape(p.head_dim % 2 == 0 && p.head_dim >= 2 && p.head_dim <= kMaxHeadDim,
              "qk_norm_rope_kv", "head_dim must be even and <= 256", true);
  switch (p.kv_dtype) {
    case KvDtype::kBF16:
      return launch_for<__nv_bfloat16>(p, stream);
    case KvDtype::kF32:
      return launch_for<float>(p, stream);
    case KvDtype::kFp8E4M3:
      return launch_for<__nv_fp8_e4m3>(p, stream);
  }
}

}  // namespace qwen3::cuda
