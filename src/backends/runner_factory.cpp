#include "backends/runner_factory.h"

#include <algorithm>

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
  int64_t bytes = static_cast<int64_t>(weights.matrix_bytes()) + (tied ? 0 : e.rows * e.cols * 2);
  // FP8 on the GPU: scales expanded per row, and the BF16 scratch the largest matrix
  // (gate + up fused) is dequantized into for many-row steps (cuda_weights.h).
  int64_t largest = 0;
  auto fp8_extra = [&](const WeightMatrix& m, int64_t fused_rows) {
    if (!m.is_fp8()) return;
    bytes += m.rows * m.scale_cols() * 4;
    largest = std::max(largest, fused_rows * m.cols);
  };
  if (!tied) fp8_extra(weights.lm_head(), weights.lm_head().rows);
  for (const LayerWeights& l : weights.layers()) {
    const int64_t qkv_rows = l.q_proj.rows + l.k_proj.rows + l.v_proj.rows;
    for (const WeightMatrix* m : {&l.q_proj, &l.k_proj, &l.v_proj}) fp8_extra(*m, qkv_rows);
    fp8_extra(l.o_proj, l.o_proj.rows);
    fp8_extra(l.gate_proj, 2 * l.gate_proj.rows);
    fp8_extra(l.up_proj, 2 * l.up_proj.rows);
    fp8_extra(l.down_proj, l.down_proj.rows);
  }
  return bytes + largest * 2;
}

KvCacheDtype parse_kv_cache_dtype(const std::string& name) {
  if (name == "auto") return KvCacheDtype::kAuto;
  if (name == "bf16" || name == "bfloat16") return KvCacheDtype::kBF16;
  if (name == "fp8" || name == "fp8_e4m3") return KvCacheDtype::kFp8E4M3;
  if (name == "fp8_e5m2" || name == "fp8_inc" || name == "fp8_ds_mla") {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "--kv-cache-dtype {}: not supported; use fp8 (fp8_e4m3), bf16 or auto", name);
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "--kv-cache-dtype '{}': expected auto, bf16, bfloat16, fp8 or fp8_e4m3", name);
}

void check_kv_cache_dtype(Device device, KvCacheDtype kv) {
  if (kv != KvCacheDtype::kAuto && resolve_device(device) != Device::kCuda) {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "--kv-cache-dtype {}: the CPU backend keeps the KV cache in float32; use auto "
                "(or --device cuda)",
                kv == KvCacheDtype::kBF16 ? "bf16" : "fp8");
  }
}

const char* kv_cache_dtype_name(Device device, KvCacheDtype kv) {
  if (resolve_device(device) != Device::kCuda) return "float32";
  return kv == KvCacheDtype::kFp8E4M3 ? "fp8_e4m3" : "bf16";
}

#ifdef QWEN3_HAVE_CUDA
namespace {
cuda::KvDtype cuda_kv_dtype(KvCacheDtype kv) {
  return kv == KvCacheDtype::kFp8E4M3 ? cuda::KvDtype::kFp8E4M3 : cuda::KvDtype::kBF16;
}
}  // namespace
#endif

int64_t kv_bytes_per_block(Device device, const ModelConfig& config, int64_t block_size,
                           KvCacheDtype kv) {
  check_kv_cache_dtype(device, kv);
#ifdef QWEN3_HAVE_CUDA
  if (resolve_device(device) == Device::kCuda)
    return cuda::CudaKvPool::bytes_per_block(config, block_size, cuda_kv_dtype(kv));
#endif
  return cpu::PagedKvPool::bytes_per_block(config, block_size);
}

std::unique_ptr<ModelRunner> make_runner(Device device, const Qwen3Weights& weights,
                                         int64_t num_blocks, int64_t block_size,
                                         KvCacheDtype kv) {
  check_kv_cache_dtype(device, kv);
  switch (resolve_device(device)) {
    case Device::kCuda:
#ifdef QWEN3_HAVE_CUDA
      return std::make_unique<cuda::CudaRunner>(weights, num_blocks, block_size,
                                                cuda::CudaRunnerOptions{.kv_dtype = cuda_kv_dtype(kv)});
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
