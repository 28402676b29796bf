#include "engine/sampler.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "engine/logits_ops.h"

namespace qwen3 {
namespace {

// Without top_k, a first pass keeps only the tokens whose weight is at least this fraction
// of the best one's; only when the kept set (or the draw) reaches beyond them are all taken.
constexpr float kTailFloor = 1e-5f;

// Per-thread buffers, reused across the rows a thread samples.
struct RowScratch {
  std::vector<LogitCandidate> candidates;
  std::vector<double> weights;
  std::vector<WeightedCandidate> weighted;
  std::vector<float> raw;  // the unmodified row, when logprobs are asked
  std::vector<uint8_t> seen;
  std::vector<int32_t> counts;
};

double sum_of(std::span<const double> w) { return std::accumulate(w.begin(), w.end(), 0.0); }

// Index into w of the draw u over w[0, kept): inverse CDF, best first; rounding that leaves
// the target unreached picks the last candidate with a positive weight.
size_t draw_index(std::span<const double> w, size_t kept, double u) {
  const std::span<const double> k = w.first(kept);
  const size_t i = inverse_cdf(k, u * sum_of(k));
  if (i < kept) return i;
  size_t last = 0;
  for (size_t j = 0; j < kept; ++j)
    if (k[j] > 0) last = j;
  return last;
}

// top_k set: the k best, sorted; then top_p over their softmax, min_p, the draw.
int32_t sample_top_k(std::span<const float> row, const SamplingParams& p, double u, RowScratch& s) {
  top_candidates(row, p.top_k, s.candidates);
  if (!(s.candidates[0].logit > -std::numeric_limits<float>::infinity()))
    return s.candidates[0].token;  // everything masked
  candidate_weights(s.candidates, p.temperature, s.weights);
  size_t kept = s.weights.size();
  if (p.top_p < 1.0) {
    const size_t n = top_p_prefix(s.weights, sum_of(s.weights), p.top_p);
    if (n > 0) kept = n;
  }
  if (p.min_p > 0.0) kept = std::min(kept, min_p_prefix(s.weights, p.min_p));
  return s.candidates[draw_index(s.weights, kept, u)].token;
}

// No top_k: weigh the row once, keep the top_p / min_p set by a mass-weighted quickselect
// and draw from it the same way, so nothing is sorted but a short final range.
int32_t sample_full(std::span<const float> row, const SamplingParams& p, double u, RowScratch& s) {
  const float best = max_logit(row);
  if (!(best > -std::numeric_limits<float>::infinity())) return argmax_lowest_id(row);
  const bool top_p_on = p.top_p < 1.0;
  const auto min_p = static_cast<float>(p.min_p);
  CandidateMass mass =
      weighted_candidates(row, best, p.temperature, std::max(min_p, kTailFloor), s.weighted);
  // The first pass holds a best-first prefix of the row: enough when it holds the whole kept
  // set (min_p alone cuts there, or top_p's mass is reached) or, with no cut, the draw.
  bool enough = min_p >= kTailFloor;
  if (top_p_on) enough = enough || mass.kept >= p.top_p * mass.total;
  if (!top_p_on && min_p <= 0.0f) enough = mass.kept > u * mass.total;
  if (!enough) mass = weighted_candidates(row, best, p.temperature, min_p, s.weighted);
  std::span<WeightedCandidate> kept(s.weighted);
  if (top_p_on) kept = kept.first(select_mass_prefix(kept, p.top_p * mass.total, false));
  double kept_mass = mass.total;  // no cut: the whole row
  if (top_p_on || min_p > 0.0f) {
    kept_mass = 0;
    for (const WeightedCandidate& c : kept) kept_mass += c.weight;
  }
  const size_t k = select_mass_prefix(kept, u * kept_mass, true);
  return kept[std::max<size_t>(k, 1) - 1].token;
}

int32_t sample_random(std::span<const float> row, const SamplingParams& p, double u,
                      RowScratch& s) {
  if (p.top_k >= 1 && p.top_k < std::ssize(row)) return sample_top_k(row, p, u, s);
  return sample_full(row, p, u, s);
}

void fill_logprobs(std::span<const float> raw, int64_t k, SampledToken& t, RowScratch& s) {
  const double lse = log_sum_exp(raw);
  t.logprob = static_cast<float>(raw[static_cast<size_t>(t.token)] - lse);
  top_candidates(raw, k, s.candidates);
  t.top_logprobs.clear();
  for (const LogitCandidate& c : s.candidates)
    t.top_logprobs.emplace_back(c.token, static_cast<float>(c.logit - lse));
}

SampledToken sample_row(std::span<float> row, const SamplerRow& r, RowScratch& s) {
  const SamplingParams& p = *r.params;
  const int64_t step = std::ssize(r.output_tokens);
  if (p.logprobs >= 0) s.raw.assign(row.begin(), row.end());
  apply_logit_bias(row, p.logit_bias);
  if (step < p.min_tokens) {
    mask_tokens(row, r.eos_token_ids);
    mask_tokens(row, p.stop_token_ids);
  }
  if (p.repetition_penalty != 1.0)
    apply_repetition_penalty(row, r.prompt_tokens, r.output_tokens, p.repetition_penalty, s.seen);
  if (p.frequency_penalty != 0.0 || p.presence_penalty != 0.0)
    apply_frequency_presence(row, r.output_tokens, p.frequency_penalty, p.presence_penalty,
                             s.counts);
  SampledToken t;
  t.token =
      p.greedy() ? argmax_lowest_id(row) : sample_random(row, p, sampler_uniform(r.seed, step), s);
  if (p.logprobs >= 0) fill_logprobs(s.raw, p.logprobs, t, s);
  return t;
}

}  // namespace

std::vector<SampledToken> sample_tokens(std::span<float> logits, int64_t vocab,
                                        std::span<const SamplerRow> rows) {
  const int64_t n = std::ssize(rows);
  QWEN3_CHECK(vocab > 0 && std::ssize(logits) == n * vocab);
  for (const SamplerRow& r : rows) QWEN3_CHECK(r.params != nullptr);
  std::vector<SampledToken> out(rows.size());
  std::exception_ptr error;  // an exception must not leave an OpenMP region
#pragma omp parallel if (n > 1)
  {
    RowScratch scratch;
#pragma omp for schedule(dynamic, 4)
    for (int64_t i = 0; i < n; ++i) {
      try {
        const auto u = static_cast<size_t>(i);
        out[u] =
            sample_row(logits.subspan(u * static_cast<size_t>(vocab), static_cast<size_t>(vocab)),
                       rows[u], scratch);
      } catch (...) {
#pragma omp critical(qwen3_sampler_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return out;
}

std::vector<SampledToken> runner_output_tokens(RunnerOutput& ro,
                                               std::span<const SamplerRow> rows) {
  QWEN3_CHECK(ro.rows == std::ssize(rows));
  if (!ro.sampled()) return sample_tokens(ro.logits, ro.vocab, rows);
  QWEN3_CHECK(std::ssize(ro.sampled_tokens) == ro.rows &&
              std::ssize(ro.sampled_logprobs) == ro.rows);
  std::vector<SampledToken> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    QWEN3_CHECK(ro.sampled_tokens[i] >= 0 && ro.sampled_tokens[i] < ro.vocab);
    out[i].token = ro.sampled_tokens[i];
    out[i].logprob = ro.sampled_logprobs[i];
  }
  return out;
}

}  // namespace qwen3
