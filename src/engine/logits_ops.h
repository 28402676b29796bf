// The per-row logits transforms behind the sampler (src/engine/sampler.h gives their order),
// one function each so each can be checked against a plain reference. A row is [vocab]
// float logits of one sequence; token ids outside [0, vocab) are a bug (QWEN3_CHECK).
//
// Candidate lists are kept best first: higher logit, then lower token id. Selecting the m
// best of a row costs one vectorised pass over the row plus O(m log m) for typical logits,
// so top_k / top_p never sort the whole vocabulary unless the kept set really is most of it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace qwen3 {

struct LogitCandidate {
  float logit = 0;  // NaN logits are read as -inf
  int32_t token = 0;
};

// The candidate order: higher logit first, lower id first among equal logits.
template <typename Candidate>
inline bool candidate_better(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

// row[id] += value for each (id, value).
void apply_logit_bias(std::span<float> row, std::span<const std::pair<int32_t, float>> bias);

// row[id] = -inf for each id (eos / stop ids below min_tokens).
void mask_tokens(std::span<float> row, std::span<const int64_t> ids);

// HF / vLLM repetition penalty, once per distinct token of prompt + output:
// logit > 0 ? logit / penalty : logit * penalty.
// seen: scratch; resized to row.size() zeros if smaller, left all zero.
void apply_repetition_penalty(std::span<float> row, std::span<const int32_t> prompt,
                              std::span<const int32_t> output, double penalty,
                              std::vector<uint8_t>& seen);

// OpenAI penalties over the output tokens: logit -= frequency * count + presence * (count > 0).
// counts: scratch; resized to row.size() zeros if smaller, left all zero.
void apply_frequency_presence(std::span<float> row, std::span<const int32_t> output,
                              double frequency, double presence, std::vector<int32_t>& counts);

// The largest logit's id, the lowest id among equal maxima (0 for an all-NaN row). O(vocab).
int32_t argmax_lowest_id(std::span<const float> row);

// out = the min(m, vocab) best entries of the row, best first.
void top_candidates(std::span<const float> row, int64_t m, std::vector<LogitCandidate>& out);

// w[i] = exp((c[i].logit - c[0].logit) / temperature), temperature > 0: the softmax of the
// tempered logits up to its common factor (w[0] = 1; entries equal to c[0] get exactly 1).
void candidate_weights(std::span<const LogitCandidate> c, double temperature,
                       std::vector<double>& w);

// The largest logit (-inf for a row of -inf / NaN). O(vocab), vectorised.
float max_logit(std::span<const float> row);

// A token with its tempered softmax weight relative to the row's best token.
struct WeightedCandidate {
  float logit = 0;
  int32_t token = 0;
  float weight = 0;  // exp((logit - max_logit) / temperature), in (0, 1]
};

struct CandidateMass {
  double total = 0;  // sum of every token's weight: the softmax denominator
  double kept = 0;   // sum of the weights put in `out`
};

// One vectorised pass (a float exp good to a few ulp): out = the tokens with weight >= floor
// and > 0 (weights below ~1e-38 read as 0, -inf and NaN logits too), in id order.
CandidateMass weighted_candidates(std::span<const float> row, float max_logit, double temperature,
                                  float floor, std::vector<WeightedCandidate>& out);

// Mass-weighted quickselect: reorders c so that c[0, k) are its k best (candidate order) for
// the smallest k whose weight sum reaches need (sum >= need, or sum > need when strict), with
// c[k - 1] the k-th best; c.size() when the whole sum stays short. Sorts only a short final
// range: expected O(c.size()).
size_t select_mass_prefix(std::span<WeightedCandidate> c, double need, bool strict);

// Length of the smallest prefix of w (best first) with sum >= top_p * total; 0 if w's whole
// sum stays below it (the boundary lies beyond these candidates).
size_t top_p_prefix(std::span<const double> w, double total, double top_p);

// Length of the prefix whose weights are >= min_p * w[0] (w best first, so this is the min_p
// set when w holds it; w.size() when no weight in w falls below).
size_t min_p_prefix(std::span<const double> w, double min_p);

// Inverse CDF: the first i with w[0] + ... + w[i] > target; w.size() if none.
size_t inverse_cdf(std::span<const double> w, double target);

// log(sum exp(row)), the raw log_softmax denominator (float exps, double sums). O(vocab).
double log_sum_exp(std::span<const float> row);

}  // namespace qwen3
