#include <type_traits>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/fp8_convert.cuh"
#include "backends/cuda/kernels/gemv_epilogue.cuh"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {
namespace {

constexpr int kWarps = 8;   // warps per block
constexpr int kMaxU = 8;    // most loads per row a lane issues together

// Weight formats: F = 0 BF16 (8 weights per 16-byte load), 1 E4M3, 2 E5M2 (16).
constexpr int kBf16 = 0, kE4M3 = 1, kE5M2 = 2;
template <int F>
constexpr int kPerLoad = F == kBf16 ? 8 : 16;
template <int F>
constexpr int kStepOf = 32 * kPerLoad<F>;  // elements of one warp-wide 16-byte load

// A block's 8 warps form (8 / k_split) row groups x k_split k-slices. Warp (g, s)
// computes R consecutive rows of group g over slice s of k: lane l reads
// W[n, kbeg + 8 (l + 32 j) .. +8), issuing U loads per row (U * R 16-byte loads per lane,
// up to 8 KB per warp) before the first use; each x load (float32, L1-resident) serves R
// rows. Slices are summed in shared memory; the epilogue stores, accumulates into y, or
// applies SiLU-gate pairs. The grid holds at most as many blocks as fit on the device at
// once and each block works through tiles (groups * R rows) in turn, so no tail wave runs
// a fraction of the device; the next tile's first loads are issued before this tile's
// reduction and epilogue, and a kAddTo tile reads the y it adds to before its weights
// arrive. The first tile's first loads are issued before waiting for the previous kernel
// (PDL): the weights do not depend on it.
// Registers are capped so that enough blocks stay resident (the loads in flight per SM
// are what the kernel is about): one x row 2 blocks of 4 rows per warp (128 registers)
// or 3 of fewer rows (85); more x rows 2 blocks, or 1 with 4 rows per warp.
template <int M>
constexpr int gemv_min_blocks(int r) {
  return M == 1 ? (r == 4 ? 2 : 3) : (r == 4 ? 1 : 2);
}
template <int M, int R, int U, int F>
__global__ void __launch_bounds__(kWarps * 32, gemv_min_blocks<M>(R))
    gemv_bf16_kernel(const GemvParams p, int64_t tiles) {
  constexpr int kStep = kStepOf<F>;
  __shared__ float partial[kWarps][R][M];
  __shared__ float out_ss[M];
  pdl_trigger();
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  const int groups = kWarps / p.k_split;
  const int g = warp % groups;
  const int slice = warp / groups;
  // Offsets within a row fit 32 bits (the launcher checks k): fewer registers.
  const int k = static_cast<int>(p.k);
  const int slice_len = ((k + p.k_split - 1) / p.k_split + kStep - 1) / kStep * kStep;
  const int kbeg = slice * slice_len;
  const int kend = min(k, kbeg + slice_len);
  const int k_first = kbeg + lane * kPerLoad<F>;
  using Weight = std::conditional_t<F == kBf16, __nv_bfloat16, uint8_t>;
  const Weight* base;
  if constexpr (F == kBf16) {
    base = p.w;
  } else {
    base = p.w_fp8;
  }
  const int block_shift = F == kBf16 ? 0 : __ffs(p.block_in) - 1;

  uint4 w[U][R];  // one batch of loads, all in flight before the first use
  auto issue = [&](int64_t tile, int k0) {
    const int64_t n0 = (tile * groups + g) * R;
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const Weight* row = base + min(n0 + r, p.n_out - 1) * p.k;  // clamp tails
#pragma unroll
      for (int u = 0; u < U; ++u)
        w[u][r] = k0 + u * kStep < kend ? load_stream(row + k0 + u * kStep)
                                        : make_uint4(0u, 0u, 0u, 0u);
    }
  };
  int64_t tile = blockIdx.x;
  if (tile < tiles && k_first < kend) issue(tile, k_first);

  // x, y and the sums of squares are the previous kernel's output: wait for it (the first
  // weights are on their way), then read or compute each x row's 1 / rms for the norm
  // prologue.
  pdl_wait();
  float inv_rms[M];
  if (p.norm_weight != nullptr) {
#pragma unroll
    for (int m = 0; m < M; ++m) {
      float ss;
      if (p.norm_sum_squares != nullptr) {  // the writer of x summed x^2
        ss = p.norm_sum_squares[m];
      } else {  // RMSNorm of each x row, computed by every warp
        ss = 0.0f;
        for (int c = lane * 4; c < k; c += 32 * 4) {
          const float4 v = *reinterpret_cast<const float4*>(p.x + static_cast<int64_t>(m) * k + c);
          ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
        ss = warp_sum(ss);
      }
      inv_rms[m] = 1.0f / sqrtf(ss / static_cast<float>(k) + p.norm_eps);
    }
  }

  for (; tile < tiles; tile += gridDim.x) {
    const float y_old = gemv_y_old<M, R>(groups, p.n_out, p.epilogue, p.y, tile);
    float acc[R][M];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;
    for (int k0 = k_first; k0 < kend; k0 += U * kStep) {
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int kk = k0 + u * kStep;
        if (kk >= kend) {
          // past this slice's end: nothing to multiply
        } else if constexpr (F == kBf16) {
          float4 na, nb;
          if (p.norm_weight != nullptr) {
            na = __ldg(reinterpret_cast<const float4*>(p.norm_weight + kk));
            nb = __ldg(reinterpret_cast<const float4*>(p.norm_weight + kk) + 1);
          }
#pragma unroll
          for (int m = 0; m < M; ++m) {
            const float4* xv = reinterpret_cast<const float4*>(p.x + static_cast<int64_t>(m) * k + kk);
            float4 a = __ldg(xv), b = __ldg(xv + 1);
            if (p.norm_weight != nullptr) {  // the CPU's order: w * (x * inv)
              const float s = inv_rms[m];
              a = make_float4(na.x * (a.x * s), na.y * (a.y * s), na.z * (a.z * s), na.w * (a.w * s));
              b = make_float4(nb.x * (b.x * s), nb.y * (b.y * s), nb.z * (b.z * s), nb.w * (b.w * s));
            }
#pragma unroll
            for (int r = 0; r < R; ++r) acc[r][m] += dot_bf16x8(w[u][r], a, b);
          }
        } else {
          // x row m's 16 values at kk, normed as in the BF16 path.
          auto load_x = [&](int m, float (&xs)[16]) {
            const float4* xv = reinterpret_cast<const float4*>(p.x + static_cast<int64_t>(m) * k + kk);
#pragma unroll
            for (int j = 0; j < 4; ++j) {
              float4 a = __ldg(xv + j);
              if (p.norm_weight != nullptr) {
                const float4 n = __ldg(reinterpret_cast<const float4*>(p.norm_weight + kk) + j);
                const float s = inv_rms[m];
                a = make_float4(n.x * (a.x * s), n.y * (a.y * s), n.z * (a.z * s), n.w * (a.w * s));
              }
              xs[4 * j] = a.x;
              xs[4 * j + 1] = a.y;
              xs[4 * j + 2] = a.z;
              xs[4 * j + 3] = a.w;
            }
          };
          constexpr float kFix = F == kE4M3 ? 0x1p8f : 1.0f;  // E4M3 decodes to value * 2^-8
          const int64_t n0 = (tile * groups + g) * R;
          float sc[R];
#pragma unroll
          for (int r = 0; r < R; ++r)
            sc[r] = __ldg(p.row_scales + min(n0 + r, p.n_out - 1) * p.scale_cols +
                          (kk >> block_shift)) * kFix;
          if constexpr (M == 1) {  // one x load serves the R rows
            float xs[16];
            load_x(0, xs);
#pragma unroll
            for (int r = 0; r < R; ++r)
              acc[r][0] = fmaf(dot_fp8x16<F == kE5M2>(w[u][r], xs), sc[r], acc[r][0]);
          } else {
#pragma unroll
            for (int m = 0; m < M; ++m) {
              float xs[16];
              load_x(m, xs);
#pragma unroll
              for (int r = 0; r < R; ++r)
                acc[r][m] = fmaf(dot_fp8x16<F == kE5M2>(w[u][r], xs), sc[r], acc[r][m]);
            }
          }
        }
      }
      if (k0 + U * kStep < kend) {
        issue(tile, k0 + U * kStep);
      } else if (tile + gridDim.x < tiles) {  // in flight during the reduction below
        issue(tile + gridDim.x, k_first);
      }
    }
    gemv_block_finish<kWarps, M, R>(acc, partial, out_ss, p.k_split, groups, p.n_out, p.epilogue,
                                    p.y, p.sum_squares_out, tile, y_old);
    __syncthreads();  // partial and out_ss are reused by the next tile
  }
}

template <int M, int R, int U, int F>
void launch_rows(const GemvParams& p, cudaStream_t stream) {
  const int64_t groups = kWarps / p.k_split;
  const int64_t tiles = (p.n_out + groups * R - 1) / (groups * R);
  const int64_t resident =
      int64_t{resident_blocks_per_sm<gemv_bf16_kernel<M, R, U, F>, kWarps * 32>()} * num_sms();
  const auto blocks = static_cast<unsigned>(tiles < resident ? tiles : resident);
  launch_kernel("gemv_bf16_kernel", gemv_bf16_kernel<M, R, U, F>, dim3(blocks),
                dim3(kWarps * 32), 0, stream, p, tiles);
}

// Rows of W per warp and k-split: the caller's (benchmarks) when set, else the choice
// measured with tools/gpu/gemv_lab.cu on the H200 at the Qwen3-4B shapes (back to back
// in a graph, 2026-11-30). One x row: 4 rows per warp with k split 4 ways (qkv 9.2 us,
// o 6.7, gate_up 25.4: 75-93 % of copy bandwidth), k split 1 for very tall matrices
// (lm_head 173 us, 100 %+), and 2 rows x 2-way split for long rows (down 14.5 us, 82 %).
// More x rows: 4 rows per warp (each x load serves more weights), k split by shape. FP8
// (twice the weights per load): the same start, halved until every slice holds at least
// two warp loads. (A per-shape FP8 tiling from the lab's plain-store sweep, 2 rows per
// warp for qkv / gate_up / down, made the decoder slower: 299.6 against 350.6 tok/s.)
template <int M, int F>
void launch_m(GemvParams p, cudaStream_t stream) {
  const bool tall = p.n_out >= 65536, long_rows = p.k >= 8192;
  const int r = p.rows_per_warp > 0 ? p.rows_per_warp : (M == 1 && long_rows ? 2 : 4);
  if (p.k_split <= 0) {
    int want = M == 1 ? (tall ? 1 : long_rows ? 2 : 4)
                      : (p.n_out >= 16384 ? 1 : p.k <= 2560 ? 2 : 4);
    const int min_slice = F == kBf16 ? kStepOf<F> : 2 * kStepOf<F>;
    while (want > 1 && p.k / want < min_slice) want /= 2;
    if (p.epilogue == GemvEpilogue::kSiluPairs && r == 1 && want == kWarps) want /= 2;
    p.k_split = want;
  }
  // FP8 at 4 rows per warp: 2 loads per row in a batch (4 spill under the register cap).
  switch (r) {
    case 1: return launch_rows<M, 1, 8, F>(p, stream);
    case 2: return launch_rows<M, 2, 4, F>(p, stream);
    default: return launch_rows<M, 4, F == kBf16 ? 4 : 2, F>(p, stream);
  }
}

template <int F>
void launch_format(const GemvParams& p, cudaStream_t stream) {
  switch (p.rows) {  // one visible switch over the template instances
    case 1: return launch_m<1, F>(p, stream);
    case 2: return launch_m<2, F>(p, stream);
    case 3: return launch_m<3, F>(p, stream);
    case 4: return launch_m<4, F>(p, stream);
    case 5: return launch_m<5, F>(p, stream);
    case 6: return launch_m<6, F>(p, stream);
    case 7: return launch_m<7, F>(p, stream);
    default: return launch_m<8, F>(p, stream);
  }
}

// What both formats require of the shape and the prologue / epilogue fields.
void check_common(const GemvParams& p, const char* name) {
  check_shape(reinterpret_cast<uintptr_t>(p.x) % 16 == 0, name, "x must be 16-byte aligned");
  check_shape(p.k_split == 0 || p.k_split == 1 || p.k_split == 2 || p.k_split == 4 || p.k_split == 8,
              name, "k_split must be 0, 1, 2, 4 or 8");
  check_shape(p.epilogue != GemvEpilogue::kSiluPairs ||
                  (p.n_out % 2 == 0 && (p.rows_per_warp != 1 || p.k_split != kWarps)),
              name, "SiLU pairs need an even n_out and an even number of rows per block");
  check_shape(p.norm_weight == nullptr || reinterpret_cast<uintptr_t>(p.norm_weight) % 16 == 0,
              name, "norm_weight must be 16-byte aligned");
  check_shape(p.sum_squares_out == nullptr || p.epilogue == GemvEpilogue::kAddTo, name,
              "sum_squares_out needs the kAddTo epilogue");
  check_shape(p.norm_sum_squares == nullptr || p.norm_weight != nullptr, name,
              "norm_sum_squares needs norm_weight");
  check_shape(p.k <= INT32_MAX - 2 * kMaxU * kStepOf<kE4M3>, name, "k must fit 32 bits");
}

}  // namespace

bool gemv_supports(int64_t rows, int64_t k) {
  return rows >= 1 && rows <= kGemvMaxRows && k % 8 == 0;
}

void launch_gemv_bf16(const GemvParams& p, cudaStream_t stream) {
  check_shape(gemv_supports(p.rows, p.k), "gemv_bf16", "needs 1..8 rows and k % 8 == 0");
  check_shape(reinterpret_cast<uintptr_t>(p.w) % 16 == 0, "gemv_bf16", "w must be 16-byte aligned");
  check_common(p, "gemv_bf16");
  if (p.n_out <= 0) return;
  launch_format<kBf16>(p, stream);
}

void launch_gemv_fp8_stream(const GemvParams& p, cudaStream_t stream) {
  check_shape(gemv_supports(p.rows, p.k) && p.k % 16 == 0, "gemv_fp8_stream",
              "needs 1..8 rows and k % 16 == 0");
  check_shape(reinterpret_cast<uintptr_t>(p.w_fp8) % 16 == 0, "gemv_fp8_stream",
              "w_fp8 must be 16-byte aligned");
  check_shape(p.block_in >= 16 && (p.block_in & (p.block_in - 1)) == 0 &&
                  p.scale_cols == (p.k + p.block_in - 1) / p.block_in,
              "gemv_fp8_stream", "needs a power-of-two block_in >= 16 and ceil(k / block_in) scale columns");
  check_common(p, "gemv_fp8_stream");
  if (p.n_out <= 0) return;
  if (p.e5m2) {
    launch_format<kE5M2>(p, stream);
  } else {
    launch_format<kE4M3>(p, stream);
  }
}

}  // namespace qwen3::cuda
