// Greedy generation for one sequence on the CPU backend (the engine issue replaces
// this with the scheduler; tests and `qwen3 generate` use it until then).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "backends/cpu/cpu_model.h"

namespace qwen3::cpu {

struct GreedyResult {
  std::vector<int32_t> tokens;  // generated ids (stop token included when hit)
  double prefill_seconds = 0;
  double decode_seconds = 0;  // all decode steps after the first token
  bool stopped_on_eos = false;
};

int32_t argmax(std::span<const float> logits);

// Prefills `prompt`, then decodes up to `max_new` tokens greedily; stops after a token
// in `stop_ids`. `on_token` (optional) sees each new token as soon as it is chosen.
GreedyResult generate_greedy(const CpuModel& model, std::span<const int32_t> prompt,
                             int64_t max_new, std::span<const int64_t> stop_ids,
                             const std::function<void(int32_t)>& on_token = nullptr);

}  // namespace qwen3::cpu
