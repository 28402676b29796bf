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
  float* out = p.out + i * p.dim;
  // Each thread re-reads only the elements it wrote (or read) above.
  for (int64_t c = threadIdx.x; c < p.dim; c += blockDim.x) {
    float x = h[c];
    if (b && !p.write_h) x += b[c];
    out[c] = p.weight[c] * (x * inv);
  }
}

__global__ void silu_mul_kernel(const SiluMulParams p) {
  pdl_trigger();
  pdl_wait();
  const int64_t n = p.rows * p.inter;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < n;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = idx / p.inter;
    const int64_t c = idx - r * p.inter;
    const float g = p.gate_up[r * 2 * p.inter + 2 * c];
    const float u = p.gate_up[r * 2 * p.inter + 2 * c + 1];
    p.out[idx] = g / (1.0f + expf(-g)) * u;
  }
}

__global__ void f32_to_bf16_kernel(const float* in, __nv_bfloat16* out, int64_t n) {
  pdl_trigger();
  pdl_wait();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = __float2bfloat16_rn(in[i]);
  }
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
  const int threads = p.dim >= 1024 ? 512 : (p.dim >= 256 ? 256 : 64);
  launch_kernel("add_rms_norm_kernel", add_rms_norm_kernel,
                dim3(static_cast<unsigned>(p.out_rows)), dim3(threads), 0, stream, p);
}

void launch_silu_mul(const SiluMulParams& p, cudaStream_t stream) {
  if (p.rows <= 0) return;
  launch_kernel("silu_mul_kernel", silu_mul_kernel, dim3(grid_for(p.rows * p.inter, 256)),
                dim3(256), 0, stream, p);
}

void launch_f32_to_bf16(const float* in, __nv_bfloat16* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  launch_kernel("f32_to_bf16_kernel", f32_to_bf16_kernel, dim3(grid_for(n, 256)), dim3(256), 0,
                stream, in, out, n);
}

}  // namespace qwen3::cuda
