#include "cli/sampling_flags.h"

#include "model/config.h"

namespace qwen3::cli {

void add_sampling_flags(CLI::App* app, SamplingFlags& f) {
  SamplingOverrides& o = f.overrides;
  app->add_option("--temperature", o.temperature, "0 = greedy (default: generation_config.json)");
  app->add_option("--top-p", o.top_p, "Nucleus sampling mass in (0, 1]");
  app->add_option("--top-k", o.top_k, "Keep the k most likely tokens (0 or -1: all)");
  app->add_option("--min-p", o.min_p, "Drop tokens below min_p x the top probability");
  app->add_option("--repetition-penalty", o.repetition_penalty, "> 1 discourages repeats");
  app->add_option("--presence-penalty", o.presence_penalty, "In [-2, 2]");
  app->add_option("--frequency-penalty", o.frequency_penalty, "In [-2, 2]");
  app->add_option("--min-tokens", o.min_tokens, "Generate at least this many tokens");
  app->add_option("--seed", o.seed, "Sampling seed (reproducible output)");
  app->add_option("--stop", f.stop, "Stop string (repeatable)");
  app->add_option("--preset", f.preset, "Sampling preset: math, code, creative, summarize");
}

SamplingParams resolve_sampling_flags(const SamplingFlags& f, const std::string& model_dir,
                                      int64_t max_tokens, bool ignore_eos) {
  SamplingOverrides o = f.overrides;
  o.max_tokens = max_tokens;
  if (ignore_eos) o.ignore_eos = true;
  if (!f.stop.empty()) o.stop = f.stop;
  return resolve_sampling(GenerationConfig::load(model_dir), f.preset, o);
}

}  // namespace qwen3::cli
