#include "sched/sampling_params.h"

#include <fmt/ranges.h>

#include <array>
#include <cmath>

#include "core/error.h"

namespace qwen3 {
namespace {

constexpr int64_t kMaxN = 128;
constexpr int64_t kMaxLogprobs = 20;
constexpr size_t kMaxStopStrings = 16;
constexpr double kMaxTemperature = 100.0;  // OpenAI caps at 2; vLLM accepts any value >= 0
constexpr double kMaxAbsBias = 100.0;

// Closed range [lo, hi]; NaN fails every comparison and so is rejected too.
void check_closed(std::string_view field, double v, double lo, double hi) {
  if (!(v >= lo && v <= hi))
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{} must be in [{}, {}], got {}", field, lo, hi, v);
}

void check_token_id(std::string_view field, int64_t id, int64_t vocab_size) {
  if (id < 0 || id >= vocab_size)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: token id {} is outside [0, {})", field, id,
                vocab_size);
}

void validate_logit_bias(const std::vector<std::pair<int32_t, float>>& bias, int64_t vocab) {
  for (const auto& [id, value] : bias) {
    check_token_id("logit_bias", id, vocab);
    if (!(value >= -kMaxAbsBias && value <= kMaxAbsBias))
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "logit_bias values must be in [-100, 100], got {} for token {}", value, id);
  }
}

void validate_lengths(const SamplingParams& p) {
  if (p.max_tokens != -1 && p.max_tokens < 1)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "max_tokens must be >= 1 (or -1 = no limit), got {}",
                p.max_tokens);
  if (p.min_tokens < 0)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "min_tokens must be >= 0, got {}", p.min_tokens);
  if (p.max_tokens != -1 && p.min_tokens > p.max_tokens)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "min_tokens must be <= max_tokens ({}), got {}",
                p.max_tokens, p.min_tokens);
  if (p.n < 1 || p.n > kMaxN)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "n must be in [1, {}], got {}", kMaxN, p.n);
  if (p.logprobs != -1 && (p.logprobs < 0 || p.logprobs > kMaxLogprobs))
    QWEN3_THROW(ErrorCode::kInvalidArgument, "logprobs must be in [0, {}] (or -1 = none), got {}",
                kMaxLogprobs, p.logprobs);
}

void validate_stops(const SamplingParams& p, int64_t vocab) {
  if (p.stop.size() > kMaxStopStrings)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "stop takes at most {} strings, got {}",
                kMaxStopStrings, p.stop.size());
  for (const std::string& s : p.stop)
    if (s.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "stop strings must be non-empty");
  for (int64_t id : p.stop_token_ids) check_token_id("stop_token_ids", id, vocab);
}

struct Preset {
  std::string_view name;
  double temperature, top_p;
  int64_t max_tokens;
  double repetition_penalty;
};

// MISSION.md §8, the middle of each published range.
constexpr std::array<Preset, 4> kPresets = {{
    {"math", 0.6, 0.8, 1024, 1.0},
    {"code", 0.7, 0.9, 8192, 1.0},
    {"creative", 0.9, 0.9, 1024, 1.1},
    {"summarize", 0.3, 0.7, 2048, 1.0},
}};

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

double sampler_uniform(uint64_t seed, int64_t step) {
  const uint64_t h = splitmix64(seed ^ splitmix64(static_cast<uint64_t>(step)));
  return static_cast<double>(h >> 11) * 0x1.0p-53;  // 53 random bits: [0, 1)
}

void SamplingParams::validate(int64_t vocab_size) const {
  check_closed("temperature", temperature, 0.0, kMaxTemperature);
  if (!(top_p > 0.0 && top_p <= 1.0))
    QWEN3_THROW(ErrorCode::kInvalidArgument, "top_p must be in (0, 1], got {}", top_p);
  if (top_k < -1)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "top_k must be -1 or 0 (off) or >= 1, got {}", top_k);
  check_closed("min_p", min_p, 0.0, 1.0);
  if (!(repetition_penalty > 0.0 && std::isfinite(repetition_penalty)))
    QWEN3_THROW(ErrorCode::kInvalidArgument, "repetition_penalty must be > 0 (finite), got {}",
                repetition_penalty);
  check_closed("presence_penalty", presence_penalty, -2.0, 2.0);
  check_closed("frequency_penalty", frequency_penalty, -2.0, 2.0);
  validate_logit_bias(logit_bias, vocab_size);
  validate_lengths(*this);
  validate_stops(*this, vocab_size);
}

void SamplingOverrides::apply_to(SamplingParams& p) const {
  auto set = [](auto& dst, const auto& src) {
    if (src) dst = *src;
  };
  set(p.temperature, temperature);
  set(p.top_p, top_p);
  set(p.min_p, min_p);
  set(p.repetition_penalty, repetition_penalty);
  set(p.presence_penalty, presence_penalty);
  set(p.frequency_penalty, frequency_penalty);
  set(p.top_k, top_k);
  set(p.max_tokens, max_tokens);
  set(p.min_tokens, min_tokens);
  set(p.n, n);
  set(p.logprobs, logprobs);
  if (seed) p.seed = *seed;
  set(p.logit_bias, logit_bias);
  set(p.stop, stop);
  set(p.stop_token_ids, stop_token_ids);
  set(p.ignore_eos, ignore_eos);
  set(p.skip_special_tokens, skip_special_tokens);
  set(p.include_stop_str_in_output, include_stop_str_in_output);
}

std::vector<std::string> sampling_preset_names() {
  std::vector<std::string> names;
  for (const Preset& p : kPresets) names.emplace_back(p.name);
  return names;
}

SamplingOverrides sampling_preset(std::string_view name) {
  for (const Preset& p : kPresets) {
    if (p.name != name) continue;
    SamplingOverrides o;
    o.temperature = p.temperature;
    o.top_p = p.top_p;
    o.max_tokens = p.max_tokens;
    if (p.repetition_penalty != 1.0) o.repetition_penalty = p.repetition_penalty;
    return o;
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument, "unknown sampling preset '{}' (valid: {})", name,
              fmt::join(sampling_preset_names(), ", "));
}

SamplingParams resolve_sampling(const GenerationConfig& gen, std::string_view preset,
                                const SamplingOverrides& request) {
  SamplingParams p;
  // GenerationConfig's defaults equal SamplingParams's, so copying a field the file lacked
  // keeps the built-in value: the same result as vLLM's "apply only what is present".
  p.temperature = gen.temperature;
  p.top_p = gen.top_p;
  p.top_k = gen.top_k;
  p.repetition_penalty = gen.repetition_penalty;
  if (!preset.empty()) sampling_preset(preset).apply_to(p);
  request.apply_to(p);
  return p;
}

}  // namespace qwen3
