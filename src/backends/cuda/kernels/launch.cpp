#include "backends/cuda/kernels/launch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <cuda_runtime_api.h>

namespace qwen3::cuda {
namespace {

std::atomic<bool>& pdl_flag() {
  // Hopper and later only; QWEN3_CUDA_PDL=0 turns it off (for A/B timing).
  static std::atomic<bool> on{env_flag("QWEN3_CUDA_PDL", true) && compute_capability() >= 90};
  return on;
}

}  // namespace

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (v != nullptr && std::strcmp(v, "1") == 0) return true;
  if (v != nullptr && std::strcmp(v, "0") == 0) return false;
  return fallback;
}

bool pdl_enabled() { return pdl_flag().load(std::memory_order_relaxed); }
void set_pdl_enabled(bool on) { pdl_flag().store(on, std::memory_order_relaxed); }

int num_sms() {
  static const int n = [] {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
      cudaGetLastError();
      return 132;
    }
    return sms;
  }();
  return n;
}

size_t smem_optin() {
  static const size_t bytes = [] {
    int dev = 0, v = 0;
    QWEN3_CUDA_CHECK(cudaGetDevice(&dev));
    QWEN3_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return static_cast<size_t>(v);
  }();
  return bytes;
}

int compute_capability() {
  static const int cc = [] {
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess) {
      cudaGetLastError();
      return 0;
    }
    return 10 * major + minor;
  }();
  return cc;
}

CooperativeLaunch::CooperativeLaunch(unsigned threads, size_t smem, cudaStream_t stream) {
  cfg.gridDim = dim3(static_cast<unsigned>(num_sms()));
  cfg.blockDim = dim3(threads);
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeCooperative;
  attr[0].val.cooperative = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
}

}  // namespace qwen3::cuda
