// The host side of sampling on the GPU: packs the engine's SamplerRows (sparse edits,
// per-row parameters, the draw u = sampler_uniform(seed, step)) into one pinned buffer,
// one copy up, launch_sampling over the device logits, one copy of the tokens down.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "backends/cuda/device_buffer.h"
#include "backends/cuda/kernels/sampling.h"
#include "sched/batch.h"

namespace qwen3::cuda {

class GpuSampler {
 public:
  explicit GpuSampler(int64_t vocab) : vocab_(vocab) {}

  // True when every row can be sampled here: all but top_logprobs (logprobs > 0), which
  // the host sampler serves from logits.
  static bool supports(std::span<const SamplerRow> rows);

  // logits: [rows.size(), vocab] float32 on the device, clobbered. Enqueues on `stream`,
  // records `done` (when set) after the last operation, waits for the stream and fills
  // out.sampled_tokens / out.sampled_logprobs (logits untouched). Token ids out of the
  // vocabulary in a row throw as the host sampler does.
  void sample(float* logits, std::span<const SamplerRow> rows, cudaStream_t stream,
              RunnerOutput& out, cudaEvent_t done = nullptr);

 private:
  int64_t vocab_;
  std::vector<SamplingRowParams> row_params_;
  std::vector<int32_t> ids_, counts_, bias_ids_;
  std::vector<float> bias_values_;
  std::vector<uint8_t> seen_;       // [vocab] scratch, left all zero
  std::vector<int32_t> count_of_;   // [vocab] scratch, left all zero
  PinnedBuffer up_host_;            // the packed inputs
  DeviceBuffer up_;
  DeviceBuffer workspace_;
  DeviceBuffer results_;            // [rows] tokens, then [rows] logprobs
  PinnedBuffer results_host_;
};

}  // namespace qwen3::cuda
