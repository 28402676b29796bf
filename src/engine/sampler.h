// The sampler: turns one logits row per sequence into the next token, applying each
// request's own parameters (vectorised over the batch on the host).
//
// Order of transforms (vLLM v1 / HF order):
//   1. raw logprobs (log_softmax of the unmodified row) when logprobs >= 0 was asked
//   2. logit_bias; eos + stop_token_ids masked to -inf while output < min_tokens
//   3. repetition_penalty (prompt + output tokens: logit > 0 ? /p : *p)
//   4. frequency / presence penalties (output tokens: -= f * count + p * (count > 0))
//   5. greedy (temperature 0): argmax, lowest id on ties. Otherwise: / temperature,
//      top_k, then top_p over the softmax (smallest set with mass >= top_p, ties broken
//      by lower id), then min_p (drop p < min_p * p_max), renormalise, sample.
// Sampling draws one uniform number from a counter-based generator keyed by
// (seed, step), so a seeded request gives the same tokens whatever else is in the batch.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "sched/batch.h"  // SamplerRow
#include "sched/sampling_params.h"

namespace qwen3 {

struct SampledToken {
  int32_t token = 0;
  float logprob = 0;  // raw log-probability of `token` (valid when logprobs >= 0)
  std::vector<std::pair<int32_t, float>> top_logprobs;  // [logprobs] best first, raw
};

// sampler_uniform(seed, step), the draw of each row, is in sched/sampling_params.h.

// logits: [rows.size(), vocab], modified in place. Returns one token per row.
std::vector<SampledToken> sample_tokens(std::span<float> logits, int64_t vocab,
                                        std::span<const SamplerRow> rows);

// The tokens of a runner's output: the runner's own (RunnerOutput::sampled(), each
// SampledToken with its logprob and no top_logprobs) or, from its logits, sample_tokens().
// rows: the SamplerRows handed to execute_and_sample, [ro.rows].
std::vector<SampledToken> runner_output_tokens(RunnerOutput& ro, std::span<const SamplerRow> rows);

}  // namespace qwen3
