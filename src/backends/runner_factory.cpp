#include "backends/runner_factory.h"

#include "backends/cpu/cpu_batch.h"
#include "backends/cpu/cpu_runner.h"
#include "core/error.h"
#ifdef QWEN3_HAVE_CUDA
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_kv_pool.h"
#include "backends/cuda/cuda_runner.h"
#endif

namespace qwen3 {

Device parse_device(const std::string& name) {
  if (name == "cpu") return Device::kCpu;
  if (name == "cuda") return Device::kCuda;
  if (name == "auto") return Device::kAuto;
  QWEN3_THROW(ErrorCode::kInvalidArgument, "--device '{}': expected cpu, cuda or auto", name);
}

bool cuda_backend_available() {
#ifdef QWEN3_HAVE_CUDA
  return cuda::cuda_device_available();
#else
  return false;
#endif
}

Device resolve_device(Device device) {
  if (device != Device::kAuto) return device;
  return cuda_backend_available() ? Device::kCuda : Device::kCpu;
}

GpuMemory gpu_memory() {
  GpuMemory m;
#ifdef QWEN3_HAVE_CUDA
  if (!cuda_backend_available()) return m;
  size_t free_b = 0, total_b = 0;
  QWEN3_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  m.free = static_cast<int64_t>(free_b);
  m.total = static_cast<int64_t>(total_b);
#endif
  return m;
}

int64_t device_weight_bytes(Device device, const Qwen3Weights& weights) {
  if (resolve_device(device) != Device::kCuda) return 0;
  const WeightMatrix& e = weights.embed();
  const bool tied = weights.lm_head().data == e.data;
  // matrix_bytes() counts the lm_head; an untied embedding is a second vocab x hidden.
  return static_cast<int64_t>(weights.matrix_bytes()) + (tied ? 0 : e.rows * e.cols * 2);
}

int64_t kv_bytes_per_block(Device device, const ModelConfig& config, int64_t block_size) {
#ifdef QWEN3_HAVE_CUDA
  if (resolve_device(device) == Device::kCuda)
    return cuda::CudaKvPool::bytes_per_block(config, block_size, cuda::KvDtype::kBF16);
#endif
  (void)device;
  return cpu::PagedKvPool::bytes_per_block(config, block_size);
}

std::unique_ptr<ModelRunner> make_runner(Device device, const Qwen3Weights& weights,
                                         int64_t num_blocks, int64_t block_size) {
  switch (resolve_device(device)) {
    case Device::kCuda:
#ifdef QWEN3_HAVE_CUDA
      return std::make_unique<cuda::CudaRunner>(weights, num_blocks, block_size);
#else
      QWEN3_THROW(ErrorCode::kUnsupported,
                  "--device cuda: this build has no CUDA backend (configure with a CUDA toolkit)");
#endif
    case Device::kCpu:
    case Device::kAuto:
      break;
  }
  return std::make_unique<cpu::CpuRunner>(weights, num_blocks, block_size);
}

}  // namespace qwen3
