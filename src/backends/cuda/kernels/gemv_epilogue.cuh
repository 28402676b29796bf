// The end of a block of the streaming GEMV (gemv.cu, BF16 and FP8 weights). There every warp
// holds float32 partial sums for R weight rows x M activation rows over its k-slice; they
// are reduced across the warp, summed over the k-slices in shared memory and written by
// the epilogue (store, add to y, or SiLU(gate) * up pairs), optionally adding each new y
// row's sum of squares to sum_squares_out (kAddTo).
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/common.cuh"
#include "backends/cuda/kernels/gemv.h"
#include "backends/cuda/kernels/launch.h"

namespace qwen3::cuda {

// A block's warps form `groups` row groups x k_split k-slices (warp = slice * groups + g);
// group g of tile t owns rows (t * groups + g) * R .. + R - 1 (a block works on tile
// blockIdx.x, or on several in turn: then it must __syncthreads() between two calls).
// y_old: for kAddTo, the value of y this thread's output adds to, loaded ahead by the
// caller (gemv_y_old).
template <int kWarps, int M, int R>
__device__ __forceinline__ void gemv_block_finish(const float (&acc)[R][M],
                                                  float (&partial)[kWarps][R][M],
                                                  float (&out_ss)[M], int k_split, int groups,
                                                  int64_t n_out, GemvEpilogue epilogue, float* y,
                                                  float* sum_squares_out, int64_t tile,
                                                  float y_old) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, t = threadIdx.x;
  if (t < M) out_ss[t] = 0.0f;
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int m = 0; m < M; ++m) {
      const float s = warp_sum(acc[r][m]);
      if (lane == 0) partial[warp][r][m] = s;
    }
  __syncthreads();
  // Sum of the k-slices for local row lr (block rows are groups * R consecutive rows).
  auto row_sum = [&](int lr, int m) {
    const int gg = lr / R, r = lr % R;
    float s = 0.0f;
    for (int sl = 0; sl < k_split; ++sl) s += partial[sl * groups + gg][r][m];
    return s;
  };
  const int64_t block_row0 = tile * groups * R;
  if (epilogue == GemvEpilogue::kSiluPairs) {
    const int pairs = groups * R / 2;
    if (t < pairs * M) {
      const int pair = t / M, m = t % M;
      const int64_t n = block_row0 + 2 * pair;
      if (n + 1 < n_out) {
        const float gate = row_sum(2 * pair, m), up = row_sum(2 * pair + 1, m);
        y[m * (n_out / 2) + n / 2] = gate / (1.0f + expf(-gate)) * up;
      }
    }
    return;
  }
  // The epilogue's threads fit in warp 0 with M a power of two: the sum of squares per x
  // row is reduced by shuffles (xor offsets >= M keep t % M), with no second barrier.
  constexpr bool kPow2 = (M & (M - 1)) == 0;
  const bool in_warp0 = kPow2 && groups * R * M <= 32;
  float sq = 0.0f;
  if (t < groups * R * M) {
    const int lr = t / M, m = t % M;
    const int64_t n = block_row0 + lr;
    if (n < n_out) {
      float* dst = y + m * n_out + n;
      const float v = epilogue == GemvEpilogue::kAddTo ? y_old + row_sum(lr, m) : row_sum(lr, m);
      *dst = v;
      if (sum_squares_out != nullptr && !in_warp0) atomicAdd(&out_ss[m], v * v);
      sq = v * v;
    }
  }
  if (sum_squares_out == nullptr) return;  // uniform over the block
  if (in_warp0) {
    if (warp == 0) {
#pragma unroll
      for (int off = 16; off >= M; off /= 2) sq += __shfl_xor_sync(0xffffffffu, sq, off);
      if (lane < M) atomicAdd(sum_squares_out + lane, sq);
    }
    return;
  }
  __syncthreads();
  if (t < M) atomicAdd(sum_squares_out + t, out_ss[t]);
}

// The y value a kAddTo output of this thread will add to (gemv_block_finish's y_old),
// loaded early so its latency hides behind the tile's weight loads; 0 (unused) for threads
// and epilogues that have none.
template <int M, int R>
__device__ __forceinline__ float gemv_y_old(int groups, int64_t n_out, GemvEpilogue epilogue,
                                            const float* y, int64_t tile) {
  const int t = threadIdx.x;
  if (epilogue != GemvEpilogue::kAddTo || t >= groups * R * M) return 0.0f;
  const int lr = t / M, m = t % M;
  const int64_t n = tile * groups * R + lr;
  return n < n_out ? y[m * n_out + n] : 0.0f;
}

}  // namespace qwen3::cuda
