// Synchronisation of the persistent decode kernel (sm_90): mbarriers and bulk copies for
// its shared-memory weight ring, a named barrier over the consumer warps, and a grid-wide
// barrier (every block resident: a cooperative launch).
#pragma once

#include <cstdint>

#include "backends/cuda/kernels/common.cuh"

namespace qwen3::cuda {

__device__ __forceinline__ void mbar_init(uint64_t* bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_u32(bar)), "r"(count));
}
// The inits visible to the bulk-copy (async) proxy before any copy signals them.
__device__ __forceinline__ void mbar_fence_init() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}
// One arrival that also expects `bytes` of bulk copies to complete on the barrier.
__device__ __forceinline__ void mbar_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_u32(bar)),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_u32(bar)) : "memory");
}
// Waits for the completion of the barrier's phase of this parity.
__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_u32(bar)), "r"(parity)
        : "memory");
  } while (done == 0);
}
// `bytes` (a multiple of 16, both addresses 16-byte aligned) from global to shared
// memory by the copy engine, completing on `bar`.
__device__ __forceinline__ void bulk_copy_g2s(void* dst, const void* src, uint32_t bytes,
                                              uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::
          "r"(smem_u32(dst)),
      "l"(src), "r"(bytes), "r"(smem_u32(bar))
      : "memory");
}

// A shared int published by one thread (release) and polled by others (acquire), CTA scope.
__device__ __forceinline__ void store_release_shared(int* p, int v) {
  asm volatile("st.release.cta.shared::cta.u32 [%0], %1;" ::"r"(smem_u32(p)), "r"(v) : "memory");
}
__device__ __forceinline__ int load_acquire_shared(const int* p) {
  int v;
  asm volatile("ld.acquire.cta.shared::cta.u32 %0, [%1];" : "=r"(v) : "r"(smem_u32(p)) : "memory");
  return v;
}

// Barrier 1 over the first `threads` threads of the block (the consumer warps).
__device__ __forceinline__ void consumer_sync(int threads) {
  asm volatile("bar.sync 1, %0;" ::"r"(threads) : "memory");
}

// Every block's consumers meet: thread 0 of each adds one to *counter (zero at launch)
// and waits until all gridDim.x arrivals of this barrier are in; `target` counts the
// block's barriers so far times the grid. Writes before the barrier (ordered by the block
// barrier and the release) are visible after it to loads that bypass L1 (__ldcg).
// arrival (optional): where thread 0 stores the time (globaltimer, ns) the block arrived.
// kSleep / kFence off: the variants qwen3_cuda_bench --grid-sync times against it.
template <bool kSleep = true, bool kFence = true>
__device__ __forceinline__ void grid_sync(unsigned* counter, unsigned& target, int threads,
                                          unsigned long long* arrival = nullptr) {
  consumer_sync(threads);
  target += gridDim.x;
  if (threadIdx.x == 0) {
    if (arrival != nullptr) {
      unsigned long long t;
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
      *arrival = t;
    }
    // Arrive (release: this block's writes before it), then poll with a short sleep so
    // that 132 pollers of one L2 line do not slow the arrivals down.
    if constexpr (kFence)
      __threadfence();  // the other threads' writes, ordered by the block barrier
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter) : "memory");
    unsigned seen = 0;
    while (true) {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(seen) : "l"(counter) : "memory");
      if (seen >= target) break;
      if constexpr (kSleep) __nanosleep(32);
    }
  }
  consumer_sync(threads);
}

}  // namespace qwen3::cuda
