#include "backends/cuda/nccl_group.h"

#include <cstdlib>
#include <numeric>

#include "core/error.h"

namespace qwen3::cuda {
namespace {

void check_nccl(ncclResult_t r, const char* call) {
  if (r == ncclSuccess) return;
  QWEN3_THROW(ErrorCode::kInternal, "NCCL call {} failed: {} ({})", call, ncclGetErrorString(r),
              static_cast<int>(r));
}

}  // namespace

NcclGroup::NcclGroup(int size) {
  // NVLink multicast can take a shared host's GPUs out of service; opt in explicitly.
  setenv("NCCL_NVLS_ENABLE", "0", /*overwrite=*/0);
  std::vector<int> list(static_cast<size_t>(size));
  std::iota(list.begin(), list.end(), 0);
  comms_.resize(static_cast<size_t>(size));
  check_nccl(ncclCommInitAll(comms_.data(), size, list.data()), "ncclCommInitAll");
}

NcclGroup::~NcclGroup() {
  for (ncclComm_t c : comms_) {
    if (c != nullptr) ncclCommDestroy(c);
  }
}

void NcclGroup::all_reduce_sum(int rank, float* data, size_t count, cudaStream_t stream) const {
  check_nccl(ncclAllReduce(data, data, count, ncclFloat32, ncclSum,
                           comms_[static_cast<size_t>(rank)], stream),
             "ncclAllReduce");
}

}  // namespace qwen3::cuda
