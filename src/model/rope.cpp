#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace qwen3 {
namespace {

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// Dimension index at which a frequency completes `rotations` turns over `max_pos` tokens.
double yarn_correction_dim(double rotations, int64_t dim, double base, double max_pos) {
  return (static_cast<double>(dim) * std::log(max_pos / (rotations * 2.0 * std::numbers::pi))) /
         (2.0 * std::log(base));
}

}  // namespace

RopeTable RopeTable::build(const ModelConfig& config) {
  const RopeConfig& rope = config.rope;
  const int64_t dim = config.head_dim;
  const int64_t half = dim / 2;
  RopeTable t;
  t.inv_freq.resize(static_cast<size_t>(half));
  // base ** (2i / dim) in float32, as torch computes it.
  std::vector<float> pos_freqs(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    pos_freqs[i] = std::pow(static_cast<float>(rope.theta), exponent);
  }

  switch (rope.type) {
    case RopeType::kDefault:
      for (int64_t i = 0; i < half; ++i) t.inv_freq[i] = 1.0f / pos_freqs[i];
      break;
    case RopeType::kLinear:
      for (int64_t i = 0; i < half; ++i) {
        t.inv_freq[i] = (1.0f / pos_freqs[i]) / static_cast<float>(rope.factor);
      }
      break;
    case RopeType::kYarn: {
      // The explicit factor wins even when max_position_embeddings / original differs
      // (transformers 5 warns and does the same; pinned by the yarn_untied fixture).
      const double factor = rope.factor;
      const double original = rope.original_max_position_embeddings > 0
                                  ? static_cast<double>(rope.original_max_position_embeddings)
                                  : static_cast<double>(config.max_position_embeddings);
      double attention = 1.0;
      if (rope.attention_factor) {
        attention = *rope.attention_factor;
      } else if (rope.mscale && rope.mscale_all_dim && *rope.mscale != 0 &&
                 *rope.mscale_all_dim != 0) {
        attention = yarn_mscale(factor, *rope.mscale) / yarn_mscale(factor, *rope.mscale_all_dim);
      } else {
        attention = yarn_mscale(factor, 1.0);
      }
      double low = yarn_correction_dim(rope.beta_fast, dim, rope.theta, original);
      double high = yarn_correction_dim(rope.beta_slow, dim, rope.theta, original);
      if (rope.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, static_cast<double>(dim - 1));
      if (low == high) high += 0.001;
      for (int64_t i = 0; i < half; ++i) {
        const float ramp = std::clamp(
            (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low),
            0.0f, 1.0f);
        const float extrapolation = 1.0f - ramp;  // weight of the unscaled frequency
        const float inv_extra = 1.0f / pos_freqs[i];
        const float inv_inter = 1.0f / (static_cast<float>(factor) * pos_freqs[i]);
        t.inv_freq[i] = inv_inter * (1.0f - extrapolation) + inv_extra * extrapolation;
      }
      t.attention_scaling = static_cast<float>(attention);
      break;
    }
  }
  return t;
}

void RopeTable::cos_sin(int64_t position, float* cos_out, float* sin_out) const {
  const float p = static_cast<float>(position);
  for (size_t i = 0; i < inv_freq.size(); ++i) {
    const float angle = p * inv_freq[i];
    cos_out[i] = std::cos(angle) * attention_scaling;
    sin_out[i] = std::sin(angle) * attention_scaling;
  }
}

}  // namespace qwen3
