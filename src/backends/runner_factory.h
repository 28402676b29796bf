// Picks the backend that runs a model: `--device cpu|cuda|auto`. The one place that
// knows every backend; the engine and the CLI only see ModelRunner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "model/weights.h"
#include "sched/batch.h"

namespace qwen3 {

enum class Device { kCpu, kCuda, kAuto };

// "cpu", "cuda", "auto"; throws kInvalidArgument naming --device otherwise.
Device parse_device(const std::string& name);
// True when this build has the CUDA backend and a GPU is present.
bool cuda_backend_available();
// kAuto -> kCuda when cuda_backend_available(), else kCpu.
Device resolve_device(Device device);

// Free and total bytes of the GPU's memory (device 0); zeros when there is no GPU or the
// build has no CUDA backend.
struct GpuMemory {
  int64_t free = 0;
  int64_t total = 0;
};
GpuMemory gpu_memory();

// Bytes the backend on `device` keeps for the weights themselves: the BF16 matrices (the
// lm_head once when tied) on CUDA; 0 on the CPU (it reads the checkpoint's memory map).
// With tensor parallelism, what one GPU keeps: 1/tp of the layers' matrices, the
// embedding and lm_head whole.
int64_t device_weight_bytes(Device device, const Qwen3Weights& weights, int tp = 1);

// `--kv-cache-dtype` (vLLM's names): auto -> the backend's own (CUDA BF16, CPU float32);
// bf16 / bfloat16 -> BF16 (CUDA only); fp8 / fp8_e4m3 -> FP8 E4M3 with per-layer K and V
// scales of 1.0 (CUDA only; half of BF16's bytes).
enum class KvCacheDtype { kAuto, kBF16, kFp8E4M3 };
// Throws naming --kv-cache-dtype: kUnsupported for fp8_e5m2 and the other vLLM names we
// do not implement, kInvalidArgument for anything else.
KvCacheDtype parse_kv_cache_dtype(const std::string& name);
// Throws kUnsupported naming --kv-cache-dtype when `device` (resolved) cannot hold `kv`:
// the CPU backend keeps float32 only.
void check_kv_cache_dtype(Device device, KvCacheDtype kv);
// "bf16", "fp8_e4m3", "float32" for the startup log (after check_kv_cache_dtype).
const char* kv_cache_dtype_name(Device device, KvCacheDtype kv);

// Bytes of KV cache per block on `device` (CPU: float32; CUDA: BF16, or 1 byte per
// element for FP8); with tensor parallelism, on one GPU (its share of the KV heads).
int64_t kv_bytes_per_block(Device device, const ModelConfig& config, int64_t block_size,
                           KvCacheDtype kv = KvCacheDtype::kAuto, int tp = 1);

// `--tensor-parallel-size N` against the device and the build: N >= 1, and N > 1 only on
// CUDA built with NCCL (kUnsupported otherwise) with N identical GPUs visible
// (kUnavailable when fewer, kUnsupported when they differ) and,
// given a config, a model whose heads, KV heads and MLP split N ways (kInvalidArgument,
// tp_shard). Without a config it runs before the model loads.
void check_tensor_parallel(Device device, int tp, const ModelConfig* config = nullptr);

// The runner for `device` with num_blocks KV blocks of block_size tokens, over `tp` GPUs
// (tensor parallelism; checked as check_tensor_parallel). kCuda without CUDA support (or
// without a GPU) throws kUnsupported / kUnavailable, saying so; a `kv` the device cannot
// hold throws as check_kv_cache_dtype.
std::unique_ptr<ModelRunner> make_runner(Device device, const Qwen3Weights& weights,
                                         int64_t num_blocks, int64_t block_size,
                                         KvCacheDtype kv = KvCacheDtype::kAuto, int tp = 1);

}  // namespace qwen3
