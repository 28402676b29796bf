// The CUDA runner's batch-1 persistent decoder (kernels/decode_persistent.h): the device
// table of the layers' weights and KV pools, the split-KV partials and counters, and
// (QWEN3_PERSISTENT_PROFILE=1) block 0's time per region, printed to stderr at the end.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>

#include "backends/cuda/cuda_kv_pool.h"
#include "backends/cuda/cuda_weights.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/decode_persistent.h"

namespace qwen3::cuda {

class PersistentDecoder {
 public:
  // nullptr where the GPU or the model cannot run it (mixed weight formats, head_dim,
  // ...); slot_bytes: the weight ring's slot size (0: the kernel's default).
  static std::unique_ptr<PersistentDecoder> create(const CudaWeights& weights,
                                                   const CudaKvPool& pool, int slot_bytes);
  ~PersistentDecoder();

  // Whether a step of this one decode row runs here: full attention over a context of at
  // most QWEN3_PERSISTENT_MAX_CONTEXT tokens (8,192; the block table's width).
  static bool takes_context(int64_t table_tokens);

  // The whole decoder for one row (the embedding already in h): the step's buffers are
  // the runner's; table, row_pos, row_slot its plan's device arrays.
  struct Step {
    const int32_t* table;
    const int32_t* row_pos;
    const int64_t* row_slot;
    float* h;
    float* qkv;
    float* attn;
    float* act;
  };
  void launch(const Step& step, cudaStream_t stream);
  // A step that ran it (the profile's denominator).
  void count_step() { ++steps_; }
  int64_t steps() const { return steps_; }

 private:
  PersistentDecoder() = default;
  void print_arrivals() const;  // at exit, with the profile

  PersistentShape shape_;
  int num_layers_ = 0;
  KvDtype kv_dtype_ = KvDtype::kBF16;
  int block_size_ = 0;
  float eps_ = 0.0f;
  float scale_ = 0.0f;
  const float* inv_freq_ = nullptr;
  float rope_scaling_ = 1.0f;
  DeviceBuffer layers_;    // [num_layers] PersistentLayer
  DeviceBuffer partials_;  // split-KV partial outputs
  DeviceBuffer sync_;      // [kv_heads] split arrivals, then the grid barrier
  DeviceBuffer profile_;   // QWEN3_PERSISTENT_PROFILE=1
  DeviceBuffer arrivals_;  // the same: each block's arrival at each barrier of the last step
  int64_t steps_ = 0;
};

}  // namespace qwen3::cuda
