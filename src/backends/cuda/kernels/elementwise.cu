#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/elementwise.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

__global__ void embedding_kernel(const EmbeddingParams p) {
  __shared__ float scratch[32];
  pdl_trigger();
  pdl_wait();
  const int64_t r = blockIdx.x;
  const __nv_bfloat16* src = p.embed + static_cast<int64_t>(p.tokens[r]) * p.hidden;
  float* dst = p.out + r * p.hidden;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < p.hidden; i += blockDim.x) {
    const float v = __bfloat162float(src[i]);
    dst[i] = v;
    ss += v * v;
  }
  if (p.sum_squares == nullptr) return;  // uniform over the block
  ss = block_sum(ss, scratch);
  if (threadIdx.x == 0) p.sum_squares[r] = ss;
}

// Four floats rounded to BF16, packed in memory order (one 8-byte store).
__device__ __forceinline__ uint2 pack_bf16x4(float a, float b, float c, float d) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(a, b), hi = __floats2bfloat162_rn(c, d);
  return {*reinterpret_cast<const uint32_t*>(&lo), *reinterpret_cast<const uint32_t*>(&hi)};
}

__global__ void add_rms_norm_kernel(const AddRmsNormParams p) {
  __shared__ float scratch[32];
  pdl_trigger();
  pdl_wait();
  const int64_t i = blockIdx.x;
  const int64_t r = p.row_index ? p.row_index[i] : i;
  float* h = p.h + r * p.dim;
  const float* b = p.residual ? p.residual + r * p.dim : nullptr;
  float ss = 0.0f;
  for (int64_t c = threadIdx.x; c < p.dim; c += blockDim.x) {
    float x = h[c];
    if (b) x += b[c];
    if (p.write_h) h[c] = x;
    ss += x * x;
  }
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.dim) + p.eps);
  // Each thread re-reads only the elements it wrote (or read) above.
  for (int64_t c = threadIdx.x; c < p.dim; c += blockDim.x) {
    float x = h[c];
    if (b && !p.write_h) x += b[c];
    const float y = p.weight[c] * (x * inv);
    if (p.out_bf16 != nullptr) {
      p.out_bf16[i * p.dim + c] = __float2bfloat16_rn(y);
    } else {
      p.out[i * p.dim + c] = y;
    }
  }
}

// The same with the row in registers: thread t holds float4s t, t + kNormThreads, ... (at
// most kPer of them), so h (and the residual) are read once, in 16-byte loads (the
// launcher checks the alignment).
constexpr int kNormThreads = 256;
template <int kPer>
__global__ void __launch_bounds__(kNormThreads) add_rms_norm_vec_kernel(const AddRmsNormParams p) {
  __shared__ float scratch[32];
  pdl_trigger();
  pdl_wait();
  const int64_t i = blockIdx.x;
  const int64_t r = p.row_index ? p.row_index[i] : i;
  const int n4 = static_cast<int>(p.dim / 4);
  auto* h = reinterpret_cast<float4*>(p.h + r * p.dim);
  const auto* b = p.residual ? reinterpret_cast<const float4*>(p.residual + r * p.dim) : nullptr;
  float4 x[kPer];
  float ss = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int c = threadIdx.x + k * kNormThreads;
    if (c >= n4) break;
    x[k] = h[c];
    if (b) {
      const float4 d = b[c];
      x[k].x += d.x, x[k].y += d.y, x[k].z += d.z, x[k].w += d.w;
      if (p.write_h) h[c] = x[k];
    }
    ss += x[k].x * x[k].x + x[k].y * x[k].y + x[k].z * x[k].z + x[k].w * x[k].w;
  }
  ss = block_sum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.dim) + p.eps);
  const auto* w = reinterpret_cast<const float4*>(p.weight);
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int c = threadIdx.x + k * kNormThreads;
    if (c >= n4) break;
    const float4 g = w[c];
    const float4 y = make_float4(g.x * (x[k].x * inv), g.y * (x[k].y * inv), g.z * (x[k].z * inv),
                                 g.w * (x[k].w * inv));
    if (p.out_bf16 != nullptr) {
      reinterpret_cast<uint2*>(p.out_bf16 + i * p.dim)[c] = pack_bf16x4(y.x, y.y, y.z, y.w);
    } else {
      reinterpret_cast<float4*>(p.out + i * p.dim)[c] = y;
    }
  }
}

__device__ __forceinline__ float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// A row's (gate, up) pairs are contiguous, so output i reads gate_up[2 i], [2 i + 1].
__global__ void silu_mul_kernel(const SiluMulParams p) {
  pdl_trigger();
  pdl_wait();
  const int64_t n = p.rows * p.inter;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    p.out[i] = silu_times(p.gate_up[2 * i], p.gate_up[2 * i + 1]);
  }
}

// Four pairs per thread and loop trip (one 16-byte load, one 8-byte store) when both
// pointers are 16- / 8-byte aligned, else (and for the last n % 4) one pair at a time.
__global__ void silu_mul_bf16_kernel(const __nv_bfloat16* gate_up, __nv_bfloat16* out, int64_t n) {
  pdl_trigger();
  pdl_wait();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const bool vec = (reinterpret_cast<uintptr_t>(gate_up) & 15) == 0 &&
                   (reinterpret_cast<uintptr_t>(out) & 7) == 0;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t q = first; q < n4; q += stride) {
    const uint4 v = *reinterpret_cast<const uint4*>(gate_up + 8 * q);
    *reinterpret_cast<uint2*>(out + 4 * q) =
        pack_bf16x4(silu_times(bf16_lo(v.x), bf16_hi(v.x)), silu_times(bf16_lo(v.y), bf16_hi(v.y)),
                    silu_times(bf16_lo(v.z), bf16_hi(v.z)), silu_times(bf16_lo(v.w), bf16_hi(v.w)));
  }
  for (int64_t i = 4 * n4 + first; i < n; i += stride) {
    out[i] = __float2bfloat16_rn(
        silu_times(__bfloat162float(gate_up[2 * i]), __bfloat162float(gate_up[2 * i + 1])));
  }
}

// Four values per thread and loop trip (16-byte load, 8-byte store) when aligned, as above.
__global__ void f32_to_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n) {
  pdl_trigger();
  pdl_wait();
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const bool vec =
      (reinterpret_cast<uintptr_t>(in) & 15) == 0 && (reinterpret_cast<uintptr_t>(out) & 7) == 0;
  const int64_t n4 = vec ? n / 4 : 0;
  for (int64_t q = first; q < n4; q += stride) {
    const float4 v = reinterpret_cast<const float4*>(in)[q];
    *reinterpret_cast<uint2*>(out + 4 * q) = pack_bf16x4(v.x, v.y, v.z, v.w);
  }
  for (int64_t i = 4 * n4 + first; i < n; i += stride) out[i] = __float2bfloat16_rn(in[i]);
}

bool aligned(const void* ptr, uintptr_t bytes) {
  return (reinterpret_cast<uintptr_t>(ptr) & (bytes - 1)) == 0;
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 65535 * 16 ? (blocks > 0 ? blocks : 1) : 65535 * 16);
}

}  // namespace

void launch_embedding(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.rows <= 0) return;
  launch_kernel("embedding_kernel", embedding_kernel, dim3(static_cast<unsigned>(p.rows)), dim3(256),
                0, stream, p);
}

void launch_add_rms_norm(const AddRmsNormParams& p, cudaStream_t stream) {
  if (p.out_rows <= 0) return;
  const int64_t n4 = p.dim / 4, per = (n4 + kNormThreads - 1) / kNormThreads;
  if (p.dim % 4 == 0 && per <= 8 && aligned(p.h, 16) && aligned(p.residual, 16) &&
      aligned(p.weight, 16) && aligned(p.out, 16) && aligned(p.out_bf16, 8)) {
    const auto launch = [&](auto kernel) {
      launch_kernel("add_rms_norm_vec_kernel", kernel, dim3(static_cast<unsigned>(p.out_rows)),
                    dim3(kNormThreads), 0, stream, p);
    };
    if (per <= 1) return launch(add_rms_norm_vec_kernel<1>);
    if (per <= 2) return launch(add_rms_norm_vec_kernel<2>);
    if (per <= 4) return launch(add_rms_norm_vec_kernel<4>);
    return launch(add_rms_norm_vec_kernel<8>);
  }
  const int threads = p.dim >= 1024 ? 512 : (p.dim >= 256 ? 256 : 64);
  launch_kernel("add_rms_norm_kernel", add_rms_norm_kernel,
                dim3(static_cast<unsigned>(p.out_rows)), dim3(threads), 0, stream, p);
}

void launch_silu_mul(const SiluMulParams& p, cudaStream_t stream) {
  if (p.rows <= 0) return;
  launch_kernel("silu_mul_kernel", silu_mul_kernel, dim3(grid_for(p.rows * p.inter, 256)),
                dim3(256), 0, stream, p);
}

void launch_silu_mul_bf16(const __nv_bfloat16* gate_up, __nv_bfloat16* out, int64_t n,
                          cudaStream_t stream) {
  if (n <= 0) return;
  launch_kernel("silu_mul_bf16_kernel", silu_mul_bf16_kernel, dim3(grid_for((n + 3) / 4, 256)),
                dim3(256), 0, stream, gate_up, out, n);
}

void launch_f32_to_bf16(const float* in, __nv_bfloat16* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch_kernel("f32_to_bf16_kernel", f32_to_bf16_kernel, dim3(grid_for((n + 3) / 4, 256)),
                dim3(256), 0, stream, in, out, n);
}

}  // namespace qwen3::cuda
