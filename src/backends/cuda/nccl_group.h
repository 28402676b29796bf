// NCCL communicators of N GPUs of this host (devices 0..N-1), one per tensor-parallel
// rank, all owned by one process (ncclCommInitAll). Each rank calls all_reduce_sum from
// its own thread on its own stream; a call can be captured in a CUDA graph. NVLink
// multicast (NVLS) stays off unless NCCL_NVLS_ENABLE is already set.
#pragma once

#include <cuda_runtime_api.h>
#include <nccl.h>

#include <cstddef>
#include <vector>

namespace qwen3::cuda {

class NcclGroup {
 public:
  // Throws kInternal when NCCL fails (check_tensor_parallel has checked the GPU count).
  explicit NcclGroup(int size);
  ~NcclGroup();
  NcclGroup(const NcclGroup&) = delete;
  NcclGroup& operator=(const NcclGroup&) = delete;

  int size() const { return static_cast<int>(comms_.size()); }
  // In place: data (count float32 on rank's device) becomes the sum over the ranks.
  void all_reduce_sum(int rank, float* data, size_t count, cudaStream_t stream) const;

 private:
  std::vector<ncclComm_t> comms_;
};

}  // namespace qwen3::cuda
