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
int64_t device_weight_bytes(Device device, const Qwen3Weights& weights);

// Bytes of KV cache per block on `device` (CPU: float32; CUDA: BF16).
int64_t kv_bytes_per_block(Device device, const ModelConfig& config, int64_t block_size);

// The runner for `device` with num_blocks KV blocks of block_size tokens. kCuda without
// CUDA support (or without a GPU) throws kUnsupported / kUnavailable, saying so.
std::unique_ptr<ModelRunner> make_runner(Device device, const Qwen3Weights& weights,
                                         int64_t num_blocks, int64_t block_size);

}  // namespace qwen3
