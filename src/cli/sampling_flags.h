// Sampling flags shared by the terminal commands (vLLM/OpenAI names): --temperature,
// --top-p, ..., --preset. Unset flags keep generation_config.json's values.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "sched/sampling_params.h"

namespace qwen3::cli {

struct SamplingFlags {
  SamplingOverrides overrides;
  std::string preset;
  std::vector<std::string> stop;
};

void add_sampling_flags(CLI::App* app, SamplingFlags& f);
// generation_config.json of `model_dir` < preset < flags; max_tokens = the -n value.
SamplingParams resolve_sampling_flags(const SamplingFlags& f, const std::string& model_dir,
                                      int64_t max_tokens, bool ignore_eos);

}  // namespace qwen3::cli
