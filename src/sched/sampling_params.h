// Per-request sampling and stopping parameters, with the layering users expect:
// built-in defaults < generation_config.json < named preset < the request's own values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/config.h"

namespace qwen3 {

struct SamplingParams {
  double temperature = 1.0;                           // 0 = greedy (argmax)
  double top_p = 1.0;                                 // (0, 1]
  int64_t top_k = 0;                                  // 0 or -1 = off
  double min_p = 0.0;                                 // [0, 1]
  double repetition_penalty = 1.0;                    // > 0; prompt + output tokens (HF/vLLM rule)
  double presence_penalty = 0.0;                      // [-2, 2]; output tokens only
  double frequency_penalty = 0.0;                     // [-2, 2]; output tokens only
  std::vector<std::pair<int32_t, float>> logit_bias;  // token id -> added to the logit
  std::optional<uint64_t> seed;         // reproducible per request whatever the batch holds
  std::vector<std::string> stop;        // stop strings, matched on the decoded text
  std::vector<int64_t> stop_token_ids;  // extra stop ids besides eos
  bool ignore_eos = false;
  int64_t max_tokens = 16;  // new tokens; -1 = until the context is full
  int64_t min_tokens = 0;   // eos / stop ids are masked until this many were generated
  int64_t n = 1;            // completions sharing the prompt's KV blocks
  int64_t logprobs = -1;    // -1 = none; k >= 0: chosen token's logprob + top k
  bool skip_special_tokens = true;
  bool include_stop_str_in_output = false;

  bool greedy() const { return temperature == 0.0; }
  // Throws Error(kInvalidArgument) naming the first bad field and its allowed range.
  void validate(int64_t vocab_size) const;
};

// What a request or a flag may set; unset fields keep the layer below.
struct SamplingOverrides {
  std::optional<double> temperature, top_p, min_p, repetition_penalty, presence_penalty,
      frequency_penalty;
  std::optional<int64_t> top_k, max_tokens, min_tokens, n, logprobs;
  std::optional<uint64_t> seed;
  std::optional<std::vector<std::pair<int32_t, float>>> logit_bias;
  std::optional<std::vector<std::string>> stop;
  std::optional<std::vector<int64_t>> stop_token_ids;
  std::optional<bool> ignore_eos, skip_special_tokens, include_stop_str_in_output;

  void apply_to(SamplingParams& p) const;
};

// The scenario presets of MISSION.md: "math", "code", "creative", "summarize".
// Throws kInvalidArgument (listing the names) for anything else.
SamplingOverrides sampling_preset(std::string_view name);
std::vector<std::string> sampling_preset_names();

// The uniform number in [0, 1) a sampler draws at (seed, step): a counter-based generator,
// so a seeded request gives the same tokens whatever else is in the batch and whichever
// backend samples (the host sampler, a runner sampling on its device).
double sampler_uniform(uint64_t seed, int64_t step);

// Built-in defaults, then generation_config.json's temperature/top_p/top_k/repetition_penalty
// (whatever do_sample says, as vLLM's `--generation-config auto` does; a value equal to the
// built-in default reads as absent), then the preset (if any), then the request.
// The result is not validated: call validate(vocab) on it.
SamplingParams resolve_sampling(const GenerationConfig& gen, std::string_view preset,
                                const SamplingOverrides& request);

}  // namespace qwen3
