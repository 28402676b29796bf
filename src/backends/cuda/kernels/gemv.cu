#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/gemv_epilogue.cuh"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 8;   // warps per block
constexpr int64_t kStep = 32 * 8;  // elements of one warp-wide 16-byte load

__device__ __forceinline__ float dot8(const uint4 w, const float4 a, const float4 b) {
  float s = bf16_lo(w.x) * a.x;
  s = fmaf(bf16_hi(w.x), a.y, s);
  s = fmaf(bf16_lo(w.y), a.z, s);
  s = fmaf(bf16_hi(w.y), a.w, s);
  s = fmaf(bf16_lo(w.z), b.x, s);
  s = fmaf(bf16_hi(w.z), b.y, s);
  s = fmaf(bf16_lo(w.w), b.z, s);
  s = fmaf(bf16_hi(w.w), b.w, s);
  return s;
}

// A block's 8 warps form (8 / k_split) row groups x k_split k-slices. Warp (g, s)
// computes R consecutive rows of group g over slice s of k: lane l reads
// W[n, kbeg + 8 (l + 32 j) .. +8), U loads per row issued before their first use, each x load (float32, L1-resident) serving R rows. Slices are summed in shared
// memory; the epilogue stores, accumulates into y, or applies SiLU-gate pairs.
template <int M, int R>
__global__ void __launch_bounds__(kWarps * 32) gemv_bf16_kernel(const GemvParams p) {
  constexpr int U = R == 1 ? 4 : 2;
  __shared__ float partial[kWarps][R][M];
  __shared__ float inv_rms[M];
  __shared__ float out_ss[M];
  __shared__ float scratch[32];
  pdl_trigger();
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int groups = kWarps / p.k_split;
  const int g = warp % groups;
  const int slice = warp / groups;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * groups + g) * R;
  const int64_t slice_len = ((p.k + p.k_split - 1) / p.k_split + kStep - 1) / kStep * kStep;
  const int64_t kbeg = slice * slice_len;
  const int64_t kend = min(p.k, kbeg + slice_len);
  const __nv_bfloat16* wrow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) wrow[r] = p.w + min(n0 + r, p.n_out - 1) * p.k;  // clamp tails

  // Weights do not depend on the previous kernel: start them moving, then wait for x.
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t k = kbeg + lane * 8 + u * kStep;
      if (k < kend) prefetch_l2(wrow[r] + k);
    }
  pdl_wait();
  if (p.norm_weight != nullptr && p.norm_sum_squares != nullptr) {  // the writer summed x^2
    if (threadIdx.x < M) {
      const float ss = p.norm_sum_squares[threadIdx.x];
      inv_rms[threadIdx.x] = 1.0f / sqrtf(ss / static_cast<float>(p.k) + p.norm_eps);
    }
    __syncthreads();
  } else if (p.norm_weight != nullptr) {  // RMSNorm of each x row, computed by every block
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float ss = 0.0f;
      for (int64_t c = threadIdx.x * 4; c < p.k; c += kWarps * 32 * 4) {
        const float4 v = *reinterpret_cast<const float4*>(p.x + m * p.k + c);
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
      }
      ss = block_sum(ss, scratch);
      if (threadIdx.x == 0) inv_rms[m] = 1.0f / sqrtf(ss / static_cast<float>(p.k) + p.norm_eps);
    }
    __syncthreads();
  }

  float acc[R][M];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;
  // Full groups of U loads, then single loads (a predicated tail measured slower).
  int64_t k0 = kbeg + lane * 8;
  for (; k0 + (U - 1) * kStep < kend; k0 += U * kStep) {
    uint4 w[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int r = 0; r < R; ++r) w[u][r] = load_stream(wrow[r] + k0 + u * kStep);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t k = k0 + u * kStep;
      float4 na, nb;
      if (p.norm_weight != nullptr) {
        na = __ldg(reinterpret_cast<const float4*>(p.norm_weight + k));
        nb = __ldg(reinterpret_cast<const float4*>(p.norm_weight + k) + 1);
      }
#pragma unroll
      for (int m = 0; m < M; ++m) {
        const float4* xv = reinterpret_cast<const float4*>(p.x + m * p.k + k);
        float4 a = __ldg(xv), b = __ldg(xv + 1);
        if (p.norm_weight != nullptr) {  // the CPU's order: w * (x * inv)
          const float s = inv_rms[m];
          a = make_float4(na.x * (a.x * s), na.y * (a.y * s), na.z * (a.z * s), na.w * (a.w * s));
          b = make_float4(nb.x * (b.x * s), nb.y * (b.y * s), nb.z * (b.z * s), nb.w * (b.w * s));
        }
#pragma unroll
        for (int r = 0; r < R; ++r) acc[r][m] += dot8(w[u][r], a, b);
      }
    }
  }
  for (; k0 < kend; k0 += kStep) {
    uint4 w[R];
#pragma unroll
    for (int r = 0; r < R; ++r) w[r] = load_stream(wrow[r] + k0);
    float4 na, nb;
    if (p.norm_weight != nullptr) {
      na = __ldg(reinterpret_cast<const float4*>(p.norm_weight + k0));
      nb = __ldg(reinterpret_cast<const float4*>(p.norm_weight + k0) + 1);
    }
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const float4* xv = reinterpret_cast<const float4*>(p.x + m * p.k + k0);
      float4 a = __ldg(xv), b = __ldg(xv + 1);
      if (p.norm_weight != nullptr) {
        const float s = inv_rms[m];
        a = make_float4(na.x * (a.x * s), na.y * (a.y * s), na.z * (a.z * s), na.w * (a.w * s));
        b = make_float4(nb.x * (b.x * s), nb.y * (b.y * s), nb.z * (b.z * s), nb.w * (b.w * s));
      }
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r][m] += dot8(w[r], a, b);
    }
  }
  gemv_block_finish<kWarps, M, R>(acc, partial, out_ss, p.k_split, groups, p.n_out, p.epilogue,
                                  p.y, p.sum_squares_out);
}

template <int M, int R>
void launch_rows(GemvParams p, cudaStream_t stream) {
  if (p.k_split <= 0) {
    p.k_split = gemv_default_k_split<kWarps, R>(p.n_out, p.k, kStep, p.epilogue);
  }
  const int64_t groups = kWarps / p.k_split;
  const int64_t row_warps = (p.n_out + R - 1) / R;
  const auto blocks = static_cast<unsigned>((row_warps + groups - 1) / groups);
  launch_kernel("gemv_bf16_kernel", gemv_bf16_kernel<M, R>, dim3(blocks), dim3(kWarps * 32), 0,
                stream, p);
}

// Rows of W per warp: the launcher's choice, or the caller's (benchmarks) when set.
template <int M>
void launch_m(const GemvParams& p, cudaStream_t stream) {
  // Two rows per warp measured faster than one at every Qwen3-4B shape for one
  // activation row on the H200 (lm_head 4.06 vs 3.27 TB/s).
  const int r = p.rows_per_warp > 0 ? p.rows_per_warp : (M <= 4 ? 2 : 4);
  switch (r) {
    case 1: return launch_rows<M, 1>(p, stream);
    case 2: return launch_rows<M, 2>(p, stream);
    default: return launch_rows<M, 4>(p, stream);
  }
}

}  // namespace

bool gemv_supports(int64_t rows, int64_t k) {
  return rows >= 1 && rows <= kGemvMaxRows && k % 8 == 0;
}

void launch_gemv_bf16(const GemvParams& p, cudaStream_t stream) {
  check_shape(gemv_supports(p.rows, p.k), "gemv_bf16", "needs 1..8 rows and k % 8 == 0");
  check_shape(reinterpret_cast<uintptr_t>(p.w) % 16 == 0 && reinterpret_cast<uintptr_t>(p.x) % 16 == 0,
              "gemv_bf16", "w and x must be 16-byte aligned");
  check_shape(p.k_split == 0 || p.k_split == 1 || p.k_split == 2 || p.k_split == 4 || p.k_split == 8,
              "gemv_bf16", "k_split must be 0, 1, 2, 4 or 8");
  check_shape(p.epilogue != GemvEpilogue::kSiluPairs ||
                  (p.n_out % 2 == 0 && (p.rows_per_warp != 1 || p.k_split != kWarps)),
              "gemv_bf16", "SiLU pairs need an even n_out and an even number of rows per block");
  check_shape(p.norm_weight == nullptr || reinterpret_cast<uintptr_t>(p.norm_weight) % 16 == 0,
              "gemv_bf16", "norm_weight must be 16-byte aligned");
  check_shape(p.sum_squares_out == nullptr || p.epilogue == GemvEpilogue::kAddTo, "gemv_bf16",
              "sum_squares_out needs the kAddTo epilogue");
  check_shape(p.norm_sum_squares == nullptr || p.norm_weight != nullptr, "gemv_bf16",
              "norm_sum_squares needs norm_weight");
  if (p.n_out <= 0) return;
  switch (p.rows) {  // one visible switch over the template instances
    case 1: launch_m<1>(p, stream); break;
    case 2: launch_m<2>(p, stream); break;
    case 3: launch_m<3>(p, stream); break;
    case 4: launch_m<4>(p, stream); break;
    case 5: launch_m<5>(p, stream); break;
    case 6: launch_m<6>(p, stream); break;
    case 7: launch_m<7>(p, stream); break;
    default: launch_m<8>(p, stream); break;
  }
}

}  // namespace qwen3::cuda
