#include "backends/runner_factory.h"

#include <algorithm>
#include <string_view>

#include "backends/cpu/cpu_batch.h"
#include "backends/cpu/cpu_runner.h"
#include "core/error.h"
#include "parallel/tensor_parallel.h"
#ifdef QWEN3_HAVE_CUDA
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/cuda_kv_pool.h"
#include "backends/cuda/cuda_runner.h"
#endif
#ifdef QWEN3_HAVE_NCCL
#include "backends/cuda/tp_runner.h"
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

int64_t device_weight_bytes(Device device, const Qwen3Weights& weights, int tp) {
  if (resolve_device(device) != Device::kCuda) return 0;
  tp = std::max(tp, 1);
  const WeightMatrix& e = weights.embed();
  const WeightMatrix& head = weights.lm_head();
  const bool tied = head.data == e.data;
  // matrix_bytes() counts the lm_head (the embedding when tied) and every layer's
  // matrices. The lm_head and an untied embedding (BF16 on the GPU) are whole on every
  // GPU; the layers' matrices split tp ways.
  const auto head_bytes = head.rows * head.cols * static_cast<int64_t>(dtype_size(head.dtype)) +
                          static_cast<int64_t>(head.scale_inv.size()) * 4;
  const int64_t layers = static_cast<int64_t>(weights.matrix_bytes()) - head_bytes;
  int64_t bytes = head_bytes + (tied ? 0 : e.rows * e.cols * 2);
  // FP8 on the GPU: scales expanded per row, and the BF16 scratch the largest matrix
  // (gate + up fused) is dequantized into for many-row steps (cuda_weights.h).
  int64_t largest = 0;
  auto fp8_extra = [&](const WeightMatrix& m, int64_t fused_rows, int split) {
    if (!m.is_fp8()) return;
    bytes += m.rows * m.scale_cols() * 4 / split;
    largest = std::max(largest, fused_rows * m.cols / split);
  };
  if (!tied) fp8_extra(head, head.rows, 1);
  for (const LayerWeights& l : weights.layers()) {
    const int64_t qkv_rows = l.q_proj.rows + l.k_proj.rows + l.v_proj.rows;
    for (const WeightMatrix* m : {&l.q_proj, &l.k_proj, &l.v_proj}) fp8_extra(*m, qkv_rows, tp);
    fp8_extra(l.o_proj, l.o_proj.rows, tp);
    fp8_extra(l.gate_proj, 2 * l.gate_proj.rows, tp);
    fp8_extra(l.up_proj, 2 * l.up_proj.rows, tp);
    fp8_extra(l.down_proj, l.down_proj.rows, tp);
  }
  return bytes + layers / tp + largest * 2;
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
                           KvCacheDtype kv, int tp) {
  check_kv_cache_dtype(device, kv);
  const ModelConfig rank = tp > 1 ? tp_rank_config(config, tp_shard(config, 0, tp)) : config;
#ifdef QWEN3_HAVE_CUDA
  if (resolve_device(device) == Device::kCuda)
    return cuda::CudaKvPool::bytes_per_block(rank, block_size, cuda_kv_dtype(kv));
#endif
  return cpu::PagedKvPool::bytes_per_block(rank, block_size);
}

void check_tensor_parallel(Device device, int tp, const ModelConfig* config) {
  if (tp < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--tensor-parallel-size {}: must be >= 1", tp);
  }
  if (tp == 1) return;
  if (resolve_device(device) != Device::kCuda) {
    QWEN3_THROW(ErrorCode::kUnsupported,
                "--tensor-parallel-size {}: tensor parallelism runs on GPUs; use --device cuda "
                "(or auto on a machine with {} GPUs)",
                tp, tp);
  }
#ifndef QWEN3_HAVE_NCCL
  (void)config;
  QWEN3_THROW(ErrorCode::kUnsupported,
              "--tensor-parallel-size {}: this build has no NCCL (configure with a CUDA toolkit "
              "that ships it)",
              tp);
#else
  const int visible = cuda::cuda_device_count();
  if (visible < tp) {
    QWEN3_THROW(ErrorCode::kUnavailable,
                "--tensor-parallel-size {}: {} GPU(s) are visible (CUDA_VISIBLE_DEVICES)", tp,
                visible);
  }
  // Kernel launchers size grids once per process from the first GPU they run on.
  cudaDeviceProp first{}, other{};
  QWEN3_CUDA_CHECK(cudaGetDeviceProperties(&first, 0));
  for (int d = 1; d < tp; ++d) {
    QWEN3_CUDA_CHECK(cudaGetDeviceProperties(&other, d));
    if (std::string_view(other.name) != first.name ||
        other.multiProcessorCount != first.multiProcessorCount) {
      QWEN3_THROW(ErrorCode::kUnsupported,
                  "--tensor-parallel-size {}: GPU {} is a {} ({} SMs) and GPU 0 a {} ({} SMs); "
                  "the ranks need identical GPUs (pick them with CUDA_VISIBLE_DEVICES)",
                  tp, d, other.name, other.multiProcessorCount, first.name,
                  first.multiProcessorCount);
    }
  }
  if (config != nullptr) tp_shard(*config, 0, tp);  // heads, KV heads and MLP split tp ways
#endif
}

std::unique_ptr<ModelRunner> make_runner(Device device, const Qwen3Weights& weights,
                                         int64_t num_blocks, int64_t block_size, KvCacheDtype kv,
                                         int tp) {
  check_kv_cache_dtype(device, kv);
  check_tensor_parallel(device, tp, &weights.config());
  switch (resolve_device(device)) {
    case Device::kCuda:
#ifdef QWEN3_HAVE_CUDA
#ifdef QWEN3_HAVE_NCCL
      if (tp > 1) {
        return std::make_unique<cuda::TpCudaRunner>(
            weights, tp, num_blocks, block_size,
            cuda::CudaRunnerOptions{.kv_dtype = cuda_kv_dtype(kv)});
      }
#endif
      return std::make_unique<cuda::CudaRunner>(
          weights, num_blocks, block_size, cuda::CudaRunnerOptions{.kv_dtype = cuda_kv_dtype(kv)});
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
