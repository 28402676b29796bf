// Kernel launches with programmatic dependent launch (PDL): consecutive kernels of the
// decoder overlap one's prologue (e.g. a GEMV's first weight loads) with the previous
// one's tail. Every kernel launched this way calls pdl_wait() before reading what an
// earlier kernel wrote. set_pdl_enabled(false) launches plainly (for comparisons).
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "backends/cuda/cuda_check.h"

namespace qwen3::cuda {

// The environment switch `name` (a tuning or A/B knob such as QWEN3_CUDA_PDL): "1" on,
// "0" off, unset or anything else `fallback`. Callers read it once.
bool env_flag(const char* name, bool fallback);

bool pdl_enabled();
void set_pdl_enabled(bool on);

// Streaming multiprocessors of the current device (132 when it cannot be asked), read once:
// the GEMV launchers size their grids by it.
int num_sms();
// Opt-in shared memory per block of the current device, asked once (the GPUs of one process
// are of one kind: tensor parallelism refuses GPUs that differ).
size_t smem_optin();
// Compute capability of the current device as 10 * major + minor (90 for Hopper), asked
// once (0 when it cannot be asked).
int compute_capability();

// Blocks of `Kernel` (launched with kThreads threads, no dynamic shared memory) that fit
// on one SM at once, asked once per kernel instance: launchers size grids by it.
template <auto Kernel, int kThreads>
int resident_blocks_per_sm() {
  static const int n = [] {
    int blocks = 0;
    check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, Kernel, kThreads, 0),
               "cudaOccupancyMaxActiveBlocksPerMultiprocessor", __FILE__, __LINE__);
    return blocks < 1 ? 1 : blocks;
  }();
  return n;
}

// Lets `Kernel` use `bytes` of dynamic shared memory (above the 48 KiB default) on the
// current device. The attribute is per device, so it is set once per device: tensor-
// parallel ranks launch the same kernels on several GPUs from several threads.
template <auto Kernel>
void allow_dynamic_smem(size_t bytes) {
  static std::atomic<uint64_t> done{0};  // bit d: set on device d (d < 64)
  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice", __FILE__, __LINE__);
  const uint64_t bit = dev < 64 ? uint64_t{1} << dev : 0;
  if (bit != 0 && (done.load(std::memory_order_acquire) & bit) != 0) return;
  check_cuda(cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(bytes)),
             "cudaFuncSetAttribute", __FILE__, __LINE__);
  done.fetch_or(bit, std::memory_order_acq_rel);
}

template <typename... Params, typename... Args>
void launch_kernel(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                   cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = pdl_enabled() ? 1 : 0;
  check_cuda(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...), name, __FILE__,
             __LINE__);
}

// The configuration of a launch of one block per SM that must all be resident at once
// (kernels with grid-wide barriers): cooperative, so that the driver refuses the launch
// rather than deadlocks when they do not fit. Not copyable: cfg points at attr.
struct CooperativeLaunch {
  CooperativeLaunch(unsigned threads, size_t smem, cudaStream_t stream);
  CooperativeLaunch(const CooperativeLaunch&) = delete;
  CooperativeLaunch& operator=(const CooperativeLaunch&) = delete;
  cudaLaunchAttribute attr[1] = {};
  cudaLaunchConfig_t cfg = {};
};

}  // namespace qwen3::cuda
