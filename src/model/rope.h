// Rotary position embedding tables ("NeoX" rotate-half form over the full head_dim).
//
// Matches Hugging Face's computation in float32: inv_freq per frequency pair, angles
// position * inv_freq, and YaRN's attention scaling applied to cos and sin.
#pragma once

#include <cstdint>
#include <vector>

#include "model/config.h"

namespace qwen3 {

struct RopeTable {
  std::vector<float> inv_freq;  // [head_dim / 2]
  float attention_scaling = 1.0f;

  static RopeTable build(const ModelConfig& config);
  // cos/sin for one position: out arrays of head_dim / 2 (each frequency used twice).
  void cos_sin(int64_t position, float* cos_out, float* sin_out) const;
};

}  // namespace qwen3
