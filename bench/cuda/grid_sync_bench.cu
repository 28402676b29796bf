// What one grid-wide barrier of the persistent decoder costs by itself
// (kernels/decode_persistent_sync.cuh's grid_sync, and variants of its global part), with
// no work between barriers: one block per SM of the decoder's 15 consumer warps + 1 idle
// warp, a cooperative launch, `iters` barriers back to back. The difference between this
// and the decoder's measured "grid barriers" region is the blocks' imbalance.
#include <cuda_runtime.h>

#include <algorithm>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/kernels/decode_persistent.h"
#include "backends/cuda/kernels/decode_persistent_sync.cuh"
#include "backends/cuda/kernels/launch.h"
#include "grid_sync_bench.h"

namespace qwen3::cuda {
namespace {

// The decoder's block: its consumer warps in the barrier, the producer warp idle.
constexpr int kConsumers = kPersistentConsumerWarps * 32;
constexpr int kThreads = kConsumers + 32;

// V: 0 grid_sync as the decoder runs it, 1 without the poll's sleep, 2 also without the
// fence before the release.
template <int V>
__global__ void __launch_bounds__(kThreads, 1) grid_sync_kernel(unsigned* counter, int iters) {
  if (threadIdx.x >= kConsumers) return;  // the decoder's producer warp: not in the barrier
  unsigned target = 0;
  for (int i = 0; i < iters; ++i) {
    constexpr bool kSleep = V == 0, kFence = V < 2;
    grid_sync<kSleep, kFence>(counter, target, kConsumers);
  }
}

template <int V>
double time_variant(unsigned* counter, int iters, cudaStream_t stream) {
  const CooperativeLaunch launch(kThreads, 0, stream);
  cudaEvent_t start, stop;
  QWEN3_CUDA_CHECK(cudaEventCreate(&start));
  QWEN3_CUDA_CHECK(cudaEventCreate(&stop));
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {  // the best of three launches
    QWEN3_CUDA_CHECK(cudaMemsetAsync(counter, 0, sizeof(unsigned), stream));
    QWEN3_CUDA_CHECK(cudaEventRecord(start, stream));
    QWEN3_CUDA_CHECK(cudaLaunchKernelEx(&launch.cfg, grid_sync_kernel<V>, counter, iters));
    QWEN3_CUDA_CHECK(cudaEventRecord(stop, stream));
    QWEN3_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    QWEN3_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    best = std::min(best, 1e3 * ms / iters);
  }
  QWEN3_CUDA_CHECK(cudaEventDestroy(start));
  QWEN3_CUDA_CHECK(cudaEventDestroy(stop));
  return best;
}

}  // namespace

GridSyncTimes time_grid_sync(int iters) {
  unsigned* counter = nullptr;
  cudaStream_t stream = nullptr;
  QWEN3_CUDA_CHECK(cudaMalloc(&counter, sizeof(unsigned)));
  QWEN3_CUDA_CHECK(cudaStreamCreate(&stream));
  GridSyncTimes t;
  t.blocks = num_sms();
  t.grid_sync_us = time_variant<0>(counter, iters, stream);
  t.no_sleep_us = time_variant<1>(counter, iters, stream);
  t.no_fence_us = time_variant<2>(counter, iters, stream);
  QWEN3_CUDA_CHECK(cudaStreamDestroy(stream));
  QWEN3_CUDA_CHECK(cudaFree(counter));
  return t;
}

}  // namespace qwen3::cuda
