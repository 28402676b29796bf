// Kernel launches with programmatic dependent launch (PDL): consecutive kernels of the
// decoder overlap one's prologue (e.g. a GEMV's first weight loads) with the previous
// one's tail. Every kernel launched this way calls pdl_wait() before reading what an
// earlier kernel wrote. set_pdl_enabled(false) launches plainly (for comparisons).
#pragma once

#include <cuda_runtime.h>

#include "backends/cuda/cuda_check.h"

namespace qwen3::cuda {

bool pdl_enabled();
void set_pdl_enabled(bool on);

// Streaming multiprocessors of the current device (132 when it cannot be asked), read once:
// the GEMV launchers size their grids by it.
int num_sms();

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

template <typename... Params, typename... Args>
void launch_kernel(const char* name, void (*kernel)(Params...), dim3 grid, dim3 block,
                   size_t smem, cudaStream_t stream, Args&&... args) {
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

}  // namespace qwen3::cuda
