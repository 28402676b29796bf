// The sampler and its transforms against plain references (full sorts, double precision).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "core/error.h"
#include "engine/logits_ops.h"
#include "engine/sampler.h"

namespace qwen3 {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int64_t kBigVocab = 151936;

// ---- inputs -------------------------------------------------------------------------------

// N(0, sigma) logits; with `grid` > 0 rounded to multiples of it so that ties are common.
std::vector<float> random_logits(uint64_t seed, int64_t vocab, double sigma = 2.0,
                                 double grid = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<float> row(static_cast<size_t>(vocab));
  for (float& v : row) {
    double x = normal(rng);
    if (grid > 0) x = std::round(x / grid) * grid;
    v = static_cast<float>(x);
  }
  return row;
}

std::vector<int32_t> random_tokens(uint64_t seed, size_t n, int64_t vocab) {
  std::mt19937_64 rng(seed);
  // A small range so that repeats (the case penalties care about) are frequent.
  std::uniform_int_distribution<int32_t> pick(
      0, static_cast<int32_t>(std::min<int64_t>(vocab, 300)) - 1);
  std::vector<int32_t> t(n);
  for (int32_t& x : t) x = pick(rng);
  return t;
}

// ---- references -----------------------------------------------------------------------------

// All ids, best first (higher logit, then lower id), by a full sort.
std::vector<int32_t> ref_order(const std::vector<float>& row) {
  std::vector<int32_t> ids(row.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    const float x = row[static_cast<size_t>(a)], y = row[static_cast<size_t>(b)];
    return x > y || (x == y && a < b);
  });
  return ids;
}

void ref_repetition(std::vector<float>& row, const std::vector<int32_t>& prompt,
                    const std::vector<int32_t>& output, double penalty) {
  std::set<int32_t> ids(prompt.begin(), prompt.end());
  ids.insert(output.begin(), output.end());
  for (int32_t id : ids) {
    const double l = row[static_cast<size_t>(id)];
    row[static_cast<size_t>(id)] = static_cast<float>(l > 0 ? l / penalty : l * penalty);
  }
}

void ref_frequency_presence(std::vector<float>& row, const std::vector<int32_t>& output,
                            double frequency, double presence) {
  std::map<int32_t, int> counts;
  for (int32_t id : output) ++counts[id];
  for (const auto& [id, c] : counts) {
    const double l = row[static_cast<size_t>(id)];
    row[static_cast<size_t>(id)] = static_cast<float>(l - frequency * c - presence);
  }
}

// Steps 2-4 of sampler.h on a copy of the row.
std::vector<float> ref_transform(std::vector<float> row, const SamplingParams& p,
                                 const std::vector<int32_t>& prompt,
                                 const std::vector<int32_t>& output,
                                 const std::vector<int64_t>& eos) {
  for (const auto& [id, b] : p.logit_bias) row[static_cast<size_t>(id)] += b;
  if (static_cast<int64_t>(output.size()) < p.min_tokens) {
    for (int64_t id : eos) row[static_cast<size_t>(id)] = -kInf;
    for (int64_t id : p.stop_token_ids) row[static_cast<size_t>(id)] = -kInf;
  }
  if (p.repetition_penalty != 1.0) ref_repetition(row, prompt, output, p.repetition_penalty);
  ref_frequency_presence(row, output, p.frequency_penalty, p.presence_penalty);
  return row;
}

// Probabilities of the kept set of step 5 (ids best first), renormalised.
std::vector<std::pair<int32_t, double>> ref_kept(const std::vector<float>& row,
                                                 const SamplingParams& p) {
  std::vector<int32_t> order = ref_order(row);
  const auto vocab = static_cast<int64_t>(row.size());
  if (p.top_k >= 1 && p.top_k < vocab) order.resize(static_cast<size_t>(p.top_k));
  const double top = row[static_cast<size_t>(order[0])];
  std::vector<double> prob;
  for (int32_t id : order)
    prob.push_back(std::exp((row[static_cast<size_t>(id)] - top) / p.temperature));
  const double z = std::accumulate(prob.begin(), prob.end(), 0.0);
  for (double& q : prob) q /= z;
  size_t keep = prob.size();
  if (p.top_p < 1.0) {
    double cum = 0;
    for (size_t i = 0; i < prob.size(); ++i) {
      cum += prob[i];
      if (cum >= p.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  for (size_t i = 0; i < keep; ++i)
    if (prob[i] < p.min_p * prob[0]) keep = i;
  std::vector<std::pair<int32_t, double>> kept;
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) mass += prob[i];
  for (size_t i = 0; i < keep; ++i) kept.emplace_back(order[i], prob[i] / mass);
  return kept;
}

int32_t ref_argmax(const std::vector<float>& row) {
  int32_t best = 0;
  for (size_t i = 1; i < row.size(); ++i)
    if (row[i] > row[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

// Inverse CDF over the kept set (best first).
int32_t ref_draw(const std::vector<std::pair<int32_t, double>>& kept, double u) {
  double cum = 0;
  for (const auto& [id, q] : kept) {
    cum += q;
    if (cum > u) return id;
  }
  return kept.back().first;
}

std::vector<double> ref_log_softmax(const std::vector<float>& row) {
  const double top = *std::max_element(row.begin(), row.end());
  double z = 0;
  for (float v : row) z += std::exp(v - top);
  std::vector<double> out;
  for (float v : row) out.push_back(v - top - std::log(z));
  return out;
}

// ---- driving sample_tokens ----------------------------------------------------------------

struct TestRow {
  SamplingParams params;
  std::vector<int32_t> prompt, output;
  std::vector<int64_t> eos;
  uint64_t seed = 0;

  SamplerRow view() const { return {&params, prompt, output, eos, seed}; }
};

SampledToken sample_one(std::vector<float> row, const TestRow& r) {
  const SamplerRow v = r.view();
  auto out = sample_tokens(row, static_cast<int64_t>(row.size()), std::span(&v, 1));
  return out.at(0);
}

// ---- transforms ---------------------------------------------------------------------------

TEST(SamplerOps, LogitBiasAndMask) {
  std::vector<float> row = random_logits(1, 1000);
  std::vector<float> want = row;
  want[3] += 2.5f;
  want[999] += -100.0f;
  want[0] += 0.75f;
  want[7] = want[500] = -kInf;
  const std::vector<std::pair<int32_t, float>> bias = {{3, 2.5f}, {999, -100.0f}, {0, 0.75f}};
  const std::vector<int64_t> ids = {7, 500}, bad = {1000};
  apply_logit_bias(row, bias);
  mask_tokens(row, ids);
  EXPECT_EQ(row, want);
  EXPECT_THROW(mask_tokens(row, bad), Error);
}

TEST(SamplerOps, PenaltiesMatchReference) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    for (int64_t vocab : {int64_t{1000}, kBigVocab}) {
      const std::vector<float> row0 = random_logits(seed, vocab);
      const auto prompt = random_tokens(seed + 10, 400, vocab);
      const auto output = random_tokens(seed + 20, 150, vocab);
      const double rep = seed % 2 ? 1.3 : 0.8;
      std::vector<float> got = row0, want = row0;
      std::vector<uint8_t> seen;
      std::vector<int32_t> counts;
      apply_repetition_penalty(got, prompt, output, rep, seen);
      apply_frequency_presence(got, output, 0.7, -0.4, counts);
      ref_repetition(want, prompt, output, rep);
      ref_frequency_presence(want, output, 0.7, -0.4);
      for (size_t i = 0; i < got.size(); ++i) ASSERT_FLOAT_EQ(got[i], want[i]) << seed << " " << i;
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](uint8_t s) { return s == 0; }));
      EXPECT_TRUE(std::all_of(counts.begin(), counts.end(), [](int32_t c) { return c == 0; }));
    }
  }
}

TEST(SamplerOps, TopCandidatesMatchFullSort) {
  for (uint64_t seed : {5, 6, 7}) {
    for (int64_t vocab : {int64_t{1000}, kBigVocab}) {
      // Coarse grid: many equal logits, so the lower-id rule decides membership and order.
      std::vector<float> row = random_logits(seed, vocab, 2.0, seed == 7 ? 0.5 : 0.0);
      row[17] = -kInf;
      row[18] = std::numeric_limits<float>::quiet_NaN();  // read as -inf
      std::vector<float> clean = row;
      clean[18] = -kInf;
      const std::vector<int32_t> order = ref_order(clean);
      for (int64_t m : {1, 2, 20, 64, 999, 1000, 5000, 20000, 200000}) {
        std::vector<LogitCandidate> got;
        top_candidates(row, m, got);
        ASSERT_EQ(static_cast<int64_t>(got.size()), std::min(m, vocab));
        for (size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i].token, order[i]) << "seed " << seed << " m " << m << " at " << i;
          ASSERT_EQ(got[i].logit, clean[static_cast<size_t>(order[i])]);
        }
      }
    }
  }
}

TEST(SamplerOps, ArgmaxLowestIdOnTies) {
  std::vector<float> row(300, 0.0f);
  EXPECT_EQ(argmax_lowest_id(row), 0);
  row[250] = 3.0f;
  row[77] = 3.0f;
  row[290] = 3.0f;
  EXPECT_EQ(argmax_lowest_id(row), 77);
  row[299] = 3.5f;
  EXPECT_EQ(argmax_lowest_id(row), 299);
  for (uint64_t seed : {1, 2, 3}) {
    const std::vector<float> r = random_logits(seed, kBigVocab, 2.0, 0.25);
    EXPECT_EQ(argmax_lowest_id(r), ref_argmax(r));
  }
}

TEST(SamplerOps, TemperatureWeightsAreTemperedSoftmax) {
  const std::vector<float> row = random_logits(9, 1000, 3.0);
  std::vector<LogitCandidate> c;
  top_candidates(row, 1000, c);
  EXPECT_EQ(max_logit(row), c[0].logit);
  for (double t : {0.05, 0.3, 0.7, 1.0, 1.7}) {
    double z = 0;
    for (float v : row) z += std::exp(v / t - c[0].logit / t);
    std::vector<double> w;
    candidate_weights(c, t, w);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    EXPECT_NEAR(total, z, 1e-12 * z);
    for (size_t i = 0; i < c.size(); ++i) {
      const double want = std::exp(c[i].logit / t - c[0].logit / t) / z;
      ASSERT_NEAR(w[i] / total, want, 1e-12 + 1e-9 * want) << t << " " << i;
    }
    // The vectorised float pass: weights to a few ulp, the floor splits exactly by weight.
    const float floor = 1e-3f;
    std::vector<WeightedCandidate> wc;
    const CandidateMass mass = weighted_candidates(row, c[0].logit, t, floor, wc);
    EXPECT_NEAR(mass.total, z, 1e-6 * z) << t;
    double kept = 0;
    for (const WeightedCandidate& x : wc) {
      const double want = std::exp(x.logit / t - c[0].logit / t);
      ASSERT_NEAR(x.weight, want, 1e-6 * want) << t << " token " << x.token;
      ASSERT_GE(x.weight, floor);
      ASSERT_EQ(x.logit, row[static_cast<size_t>(x.token)]);
      kept += x.weight;
    }
    EXPECT_NEAR(mass.kept, kept, 1e-9 * kept);
    size_t want_kept = 0;
    for (float v : row) want_kept += std::exp(v / t - c[0].logit / t) >= floor * (1 + 1e-6);
    EXPECT_GE(wc.size(), want_kept);
    EXPECT_LE(wc.size(), want_kept + 1);  // at most a weight within rounding of the floor
  }
}

TEST(SamplerOps, WeightsOfMaskedAndTinyTemperature) {
  std::vector<float> row = {0.0f,   -kInf, 1.0f, 1.0f, std::numeric_limits<float>::quiet_NaN(),
                            -200.0f};
  std::vector<WeightedCandidate> wc;
  CandidateMass m = weighted_candidates(row, 1.0f, 1.0, 0.0f, wc);
  ASSERT_EQ(wc.size(), 3u);  // -inf, NaN and exp(-201) (below float range) are out
  EXPECT_EQ(wc[1].weight, 1.0f);
  EXPECT_EQ(wc[2].weight, 1.0f);
  EXPECT_NEAR(m.total, 2.0 + std::exp(-1.0), 1e-6);
  m = weighted_candidates(row, 1.0f, 1e-300, 0.0f, wc);
  ASSERT_EQ(wc.size(), 2u);
  EXPECT_EQ(m.total, 2.0);
}

// Reference for select_mass_prefix: the running sum over the fully sorted candidates.
size_t ref_mass_prefix(const std::vector<WeightedCandidate>& sorted, double need, bool strict) {
  double cum = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    cum += sorted[i].weight;
    if (strict ? cum > need : cum >= need) return i + 1;
  }
  return sorted.size();
}

TEST(SamplerOps, MassPrefixSelectMatchesSortedRunningSum) {
  for (uint64_t seed : {41, 42, 43}) {
    for (int64_t vocab : {int64_t{40}, int64_t{1000}, kBigVocab}) {
      // A coarse grid: ties decided by the lower id.
      const std::vector<float> row = random_logits(seed, vocab, 1.0, seed == 43 ? 0.125 : 0.0);
      std::vector<WeightedCandidate> all;
      const CandidateMass m = weighted_candidates(row, max_logit(row), 0.8, 0.0f, all);
      std::vector<WeightedCandidate> sorted = all;
      std::sort(sorted.begin(), sorted.end(), candidate_better<WeightedCandidate>);
      for (double frac : {0.0, 1e-4, 0.1, 0.5, 0.9, 0.999, 1.5}) {
        for (bool strict : {false, true}) {
          std::vector<WeightedCandidate> c = all;
          const size_t want = ref_mass_prefix(sorted, frac * m.total, strict);
          const size_t k = select_mass_prefix(c, frac * m.total, strict);
          ASSERT_EQ(k, want) << seed << " " << vocab << " " << frac << " " << strict;
          if (k == 0) continue;
          EXPECT_EQ(c[k - 1].token, sorted[k - 1].token);  // the k-th best at k - 1
          std::vector<int32_t> got_ids, want_ids;
          for (size_t i = 0; i < k; ++i) {
            got_ids.push_back(c[i].token);
            want_ids.push_back(sorted[i].token);
          }
          std::sort(got_ids.begin(), got_ids.end());
          std::sort(want_ids.begin(), want_ids.end());
          ASSERT_EQ(got_ids, want_ids);
        }
      }
    }
  }
}

TEST(SamplerOps, MassPrefixExactBoundary) {
  // Weights exact in binary; equal logits are ordered by id.
  std::vector<WeightedCandidate> c;
  const float w[] = {0.5f, 1.0f, 1.0f, 0.5f, 1.0f, 1.0f};
  for (int32_t id = 0; id < 6; ++id) c.push_back({std::log(w[id]), id, w[id]});
  std::vector<WeightedCandidate> x = c;
  EXPECT_EQ(select_mass_prefix(x, 2.0, false), 2u);  // exactly 2 = top_p 0.4 of 5
  EXPECT_EQ(x[1].token, 2);
  x = c;
  EXPECT_EQ(select_mass_prefix(x, 2.0, true), 3u);  // the draw's rule: strictly above
  x = c;
  EXPECT_EQ(select_mass_prefix(x, 4.0, false), 4u);
  x = c;
  EXPECT_EQ(select_mass_prefix(x, 4.5, false), 5u);
  EXPECT_EQ(x[4].token, 0);
  x = c;
  EXPECT_EQ(select_mass_prefix(x, 5.5, false), 6u);  // never reached
}

TEST(SamplerOps, TopPPrefixMatchesReference) {
  for (uint64_t seed : {11, 12, 13}) {
    const std::vector<float> row = random_logits(seed, 1000, 1.5);
    std::vector<LogitCandidate> c;
    top_candidates(row, 1000, c);
    std::vector<double> w;
    candidate_weights(c, 0.8, w);
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    for (double top_p : {0.01, 0.3, 0.8, 0.95, 0.999}) {
      size_t want = 0;
      double cum = 0;
      while (cum < top_p) cum += w[want++] / total;
      EXPECT_EQ(top_p_prefix(w, total, top_p), want) << seed << " " << top_p;
      // Fewer candidates than the boundary needs: not settled.
      EXPECT_EQ(top_p_prefix(std::span(w).first(want - 1), total, top_p), 0u);
    }
  }
}

TEST(SamplerOps, TopPExactBoundaryKeepsTheSmallestSet) {
  const std::vector<double> w = {1, 1, 1, 1, 0.5, 0.5};  // exact in binary: total 5
  EXPECT_EQ(top_p_prefix(w, 5, 0.4), 2u);                // mass exactly 2 = 0.4 * 5
  EXPECT_EQ(top_p_prefix(w, 5, 0.2), 1u);                // exactly 1
  EXPECT_EQ(top_p_prefix(w, 5, 0.4000001), 3u);
  EXPECT_EQ(top_p_prefix(w, 5, 0.9), 5u);  // 4.5
  EXPECT_EQ(top_p_prefix(w, 5, 1.0), 6u);
  // Through the sampler: four equal best logits (exact probabilities 1/4, rest -inf).
  std::vector<float> row(1000, -kInf);
  for (size_t id : {40, 10, 30, 20}) row[id] = 2.0f;
  for (int64_t top_k : {0, 4}) {  // the full-row path and the top_k path
    TestRow r;
    r.params.temperature = 1.0;
    r.params.top_k = top_k;
    std::set<int32_t> seen_half, seen_more;
    for (int64_t step = 0; step < 200; ++step) {
      r.output.assign(static_cast<size_t>(step), 0);
      r.params.top_p = 0.5;  // exactly reached by two of the four: the lower ids 10 and 20
      seen_half.insert(sample_one(row, r).token);
      r.params.top_p = 0.5 + 1e-9;  // one more needed
      seen_more.insert(sample_one(row, r).token);
    }
    EXPECT_EQ(seen_half, (std::set<int32_t>{10, 20})) << top_k;
    EXPECT_EQ(seen_more, (std::set<int32_t>{10, 20, 30})) << top_k;
  }
}

TEST(SamplerOps, MinPPrefixAndInverseCdf) {
  const std::vector<double> w = {1.0, 0.5, 0.25, 0.2, 0.1};
  EXPECT_EQ(min_p_prefix(w, 0.0), 5u);
  EXPECT_EQ(min_p_prefix(w, 0.25), 3u);  // 0.25 >= 0.25 * 1 stays
  EXPECT_EQ(min_p_prefix(w, 0.3), 2u);
  EXPECT_EQ(min_p_prefix(w, 1.0), 1u);
  EXPECT_EQ(inverse_cdf(w, 0.0), 0u);
  EXPECT_EQ(inverse_cdf(w, 0.999), 0u);
  EXPECT_EQ(inverse_cdf(w, 1.0), 1u);  // cumulative 1.0 is not > 1.0
  EXPECT_EQ(inverse_cdf(w, 1.9), 3u);
  EXPECT_EQ(inverse_cdf(w, 2.05), 5u);  // beyond the mass in hand
}

TEST(SamplerOps, LogSumExp) {
  for (uint64_t seed : {1, 2}) {
    const std::vector<float> row = random_logits(seed, 5000, 4.0);
    const std::vector<double> ls = ref_log_softmax(row);
    const double lse = log_sum_exp(row);
    for (size_t i : {0, 1, 4999}) EXPECT_NEAR(row[i] - lse, ls[i], 1e-6);
  }
  const std::vector<float> masked = {-kInf, -kInf};
  EXPECT_EQ(log_sum_exp(masked), -kInf);
}

// ---- sample_tokens ---------------------------------------------------------------------------

std::vector<SamplingParams> param_grid() {
  std::vector<SamplingParams> grid;
  auto add = [&](double t, int64_t k, double p, double min_p) {
    SamplingParams s;
    s.temperature = t;
    s.top_k = k;
    s.top_p = p;
    s.min_p = min_p;
    grid.push_back(s);
  };
  add(0.7, 20, 0.8, 0.0);     // Qwen3's own generation_config
  add(1.0, 0, 1.0, 0.0);      // plain sampling (the full-row path)
  add(0.6, -1, 0.95, 0.0);    // top_p alone
  add(0.9, 0, 1.0, 0.05);     // min_p alone
  add(1.3, 50, 0.9, 0.1);     // all three
  add(0.3, 1, 1.0, 0.0);      // top_k 1 = greedy
  add(0.0, 20, 0.8, 0.0);     // greedy ignores the rest
  add(2.0, 5000, 0.99, 0.0);  // a top_k large enough to partition
  grid[1].repetition_penalty = 1.2;
  grid[2].frequency_penalty = 0.5;
  grid[2].presence_penalty = 0.3;
  grid[4].logit_bias = {{5, 4.0f}, {6, -3.0f}};
  grid[6].repetition_penalty = 1.5;
  return grid;
}

// Row shapes for MatchesReferenceSampler: 0 peaked, 1 flat (top_p / plain sampling reach deep
// into the row), 2 one spike over a bulk whose tokens each weigh ~2e-6 of it (under the first
// pass's floor) yet hold ~1/4 of the mass: top_p and the draw need the second, full pass.
std::vector<float> reference_row(int shape, uint64_t seed, int64_t vocab, double temperature) {
  if (shape < 2) return random_logits(seed, vocab, shape == 0 ? 3.0 : 0.5);
  std::vector<float> row = random_logits(seed, vocab, 0.3);
  row[777] += static_cast<float>(13.0 * std::max(temperature, 0.1));
  return row;
}

TEST(Sampler, MatchesReferenceSampler) {
  int checked = 0;
  for (int64_t vocab : {int64_t{1000}, kBigVocab}) {
    const std::vector<SamplingParams> grid = param_grid();
    for (size_t g = 0; g < grid.size(); ++g) {
      for (int shape : {0, 1, 2}) {
        const uint64_t seed = 21 + static_cast<uint64_t>(shape);
        const std::vector<float> row =
            reference_row(shape, seed * 100 + g, vocab, grid[g].temperature);
        TestRow r;
        r.params = grid[g];
        r.prompt = random_tokens(seed + 1, 50, vocab);
        r.output = random_tokens(seed + 2, 7 + g, vocab);
        r.seed = seed * 7919;
        for (int step = 0; step < (shape == 2 ? 4 : 1); ++step) {
          const double u = sampler_uniform(r.seed, static_cast<int64_t>(r.output.size()));
          const auto transformed = ref_transform(row, r.params, r.prompt, r.output, {});
          const int32_t got = sample_one(row, r).token;
          // Exact, though the full-row path weighs in float: its exponent is formed in double,
          // so weights are off by a few ulp at random, not by a shared bias (a float
          // 1 / temperature made flat rows pick sorted-order neighbours here).
          const int32_t want = r.params.greedy() ? ref_argmax(transformed)
                                                 : ref_draw(ref_kept(transformed, r.params), u);
          EXPECT_EQ(got, want) << "vocab " << vocab << " params " << g << " shape " << shape
                               << " u " << u;
          r.output.push_back(got);
          ++checked;
        }
      }
    }
  }
  EXPECT_EQ(checked, 2 * 8 * (1 + 1 + 4));
}

TEST(Sampler, SampleFrequenciesMatchProbabilities) {
  // 20,000 draws of one request (steps 0..19999) in one batch; chi-square against the
  // reference probabilities. The seeds are fixed, so this is deterministic.
  const std::vector<float> logits = {1.0f, 0.2f, -0.5f, 2.0f, 1.5f, -1.0f, 0.0f, 0.7f};
  const int64_t vocab = 8, draws = 20000;
  SamplingParams plain, cut;
  plain.temperature = 0.8;
  cut.temperature = 1.2;
  cut.top_k = 6;
  cut.top_p = 0.85;
  for (const SamplingParams* p : {&plain, &cut}) {
    const std::vector<int32_t> history(static_cast<size_t>(draws), 0);
    const std::vector<int64_t> no_eos;
    std::vector<SamplerRow> rows;
    std::vector<float> batch;
    for (int64_t s = 0; s < draws; ++s) {
      rows.push_back({p, {}, std::span(history).first(static_cast<size_t>(s)), no_eos, 99});
      batch.insert(batch.end(), logits.begin(), logits.end());
    }
    std::vector<int64_t> counts(vocab, 0);
    for (const SampledToken& t : sample_tokens(batch, vocab, rows))
      ++counts[static_cast<size_t>(t.token)];
    std::vector<double> prob(vocab, 0.0);
    for (const auto& [id, q] : ref_kept(logits, *p)) prob[static_cast<size_t>(id)] = q;
    double chi2 = 0;
    int dof = -1;
    for (int64_t i = 0; i < vocab; ++i) {
      const double expect = prob[static_cast<size_t>(i)] * draws;
      if (expect == 0) {
        EXPECT_EQ(counts[static_cast<size_t>(i)], 0) << "token " << i << " is outside the kept set";
        continue;
      }
      chi2 += std::pow(counts[static_cast<size_t>(i)] - expect, 2) / expect;
      ++dof;
    }
    EXPECT_LT(chi2, 4.0 * dof + 10.0) << "dof " << dof;  // p < 1e-4 for any dof <= 7
    EXPECT_GE(dof, p == &cut ? 2 : 7);
  }
}

TEST(SamplerUniform, PureAndUniform) {
  EXPECT_EQ(sampler_uniform(5, 17), sampler_uniform(5, 17));
  EXPECT_NE(sampler_uniform(5, 17), sampler_uniform(6, 17));
  EXPECT_NE(sampler_uniform(5, 17), sampler_uniform(5, 18));
  EXPECT_NE(sampler_uniform(0, 0), sampler_uniform(1, 0));
  std::vector<int> bins(10, 0);
  double mean = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double u = sampler_uniform(static_cast<uint64_t>(i % 100), i / 100);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    mean += u / n;
    ++bins[static_cast<size_t>(u * 10)];
  }
  double chi2 = 0;
  for (int b : bins) chi2 += std::pow(b - n / 10.0, 2) / (n / 10.0);
  EXPECT_LT(chi2, 40.0);  // 9 dof
  EXPECT_NEAR(mean, 0.5, 0.005);
}

// The next logits of a fake model: depend on the step and the last token only.
std::vector<float> fake_model(uint64_t stream, const std::vector<int32_t>& out, int64_t vocab) {
  const uint64_t last = out.empty() ? 0 : static_cast<uint64_t>(out.back());
  return random_logits(stream * 1000003 + out.size() * 7919 + last, vocab, 2.5);
}

// Decodes `steps` tokens for each row together; returns each row's output.
std::vector<std::vector<int32_t>> decode(std::vector<TestRow> rows, int64_t vocab, int steps) {
  for (int s = 0; s < steps; ++s) {
    std::vector<float> batch;
    std::vector<SamplerRow> views;
    for (const TestRow& r : rows) {
      const auto l = fake_model(r.seed, r.output, vocab);
      batch.insert(batch.end(), l.begin(), l.end());
      views.push_back(r.view());
    }
    const auto tokens = sample_tokens(batch, vocab, views);
    for (size_t i = 0; i < rows.size(); ++i) rows[i].output.push_back(tokens[i].token);
  }
  std::vector<std::vector<int32_t>> outs;
  for (const TestRow& r : rows) outs.push_back(r.output);
  return outs;
}

TEST(Sampler, SeededRowIndependentOfBatch) {
  const int64_t vocab = 2000;
  const int steps = 64;
  TestRow a;
  a.params.temperature = 0.9;
  a.params.top_k = 50;
  a.params.top_p = 0.95;
  a.params.repetition_penalty = 1.1;
  a.params.frequency_penalty = 0.2;
  a.prompt = {1, 2, 3, 4, 5};
  a.seed = 1234;
  const std::vector<SamplingParams> grid = param_grid();
  std::vector<TestRow> batch;
  for (size_t i = 0; i < 8; ++i) {
    TestRow o;
    o.params = grid[i];
    o.prompt = {static_cast<int32_t>(i), 9, 9};
    o.seed = 500 + i;
    batch.push_back(o);
  }
  const auto alone = decode({a}, vocab, steps)[0];
  auto mixed = batch;
  mixed[3] = a;
  EXPECT_EQ(decode(mixed, vocab, steps)[3], alone);
  mixed = batch;
  mixed[7] = a;
  mixed[0].params.logprobs = 5;
  EXPECT_EQ(decode(mixed, vocab, steps)[7], alone);
  // Not a tautology: the seed does reach the draw (other seeds, same first logits).
  const std::vector<float> first = fake_model(a.seed, {}, vocab);
  EXPECT_EQ(sample_one(first, a).token, alone[0]);
  int differ = 0;
  for (uint64_t s = 1; s < 20; ++s) {
    TestRow c = a;
    c.seed = a.seed + s * 1000;
    differ += sample_one(first, c).token != alone[0];
  }
  EXPECT_GT(differ, 0);
}

TEST(Sampler, GreedyLowestIdAfterBiasAndPenalties) {
  TestRow r;
  r.params.temperature = 0.0;
  std::vector<float> row(500, 0.0f);
  row[40] = 5.0f;
  row[12] = 5.0f;
  row[300] = 4.5f;
  EXPECT_EQ(sample_one(row, r).token, 12);
  r.params.logit_bias = {{300, 0.5f}};  // now 12, 40, 300 tie at 5
  EXPECT_EQ(sample_one(row, r).token, 12);
  r.params.logit_bias = {{300, 0.75f}};
  EXPECT_EQ(sample_one(row, r).token, 300);
  r.params.logit_bias.clear();
  r.params.repetition_penalty = 2.0;  // 12 seen: 5 / 2
  r.prompt = {12, 12};
  EXPECT_EQ(sample_one(row, r).token, 40);
  r.params.presence_penalty = 1.0;
  r.output = {40};  // 40: 5 / 2 - 1
  EXPECT_EQ(sample_one(row, r).token, 300);
}

TEST(Sampler, MinTokensMasksEosAndStopIds) {
  TestRow r;
  r.params.temperature = 0.0;
  r.params.min_tokens = 3;
  r.params.stop_token_ids = {8};
  r.eos = {7};
  std::vector<float> row(100, 0.0f);
  row[7] = 9.0f;
  row[8] = 8.0f;
  row[9] = 7.0f;
  r.output = {1, 2};
  EXPECT_EQ(sample_one(row, r).token, 9);
  r.output = {1, 2, 3};
  EXPECT_EQ(sample_one(row, r).token, 7);
  // Random sampling: never eos or a stop id before min_tokens.
  r.params.temperature = 1.0;
  r.params.top_k = 3;
  for (int s = 0; s < 50; ++s) {
    r.output.assign(static_cast<size_t>(s % 3), 0);
    r.seed = static_cast<uint64_t>(s);
    const int32_t t = sample_one(row, r).token;
    EXPECT_TRUE(t != 7 && t != 8) << t;
  }
}

TEST(Sampler, LogprobsAreRawLogSoftmax) {
  for (int64_t vocab : {int64_t{1000}, kBigVocab}) {
    std::vector<float> row = random_logits(31, vocab, 2.0, 0.25);  // ties among the best
    const std::vector<double> ls = ref_log_softmax(row);
    const std::vector<int32_t> order = ref_order(row);
    TestRow r;
    r.params.temperature = 0.5;
    r.params.top_k = 10;
    r.params.repetition_penalty = 1.3;
    r.params.logit_bias = {{order[500], 100.0f}};  // a low-ranked token is chosen
    r.params.logprobs = 5;
    r.prompt = {order[0], order[1]};
    r.seed = 3;
    const SampledToken t = sample_one(row, r);
    EXPECT_EQ(t.token, order[500]);
    EXPECT_NEAR(t.logprob, ls[static_cast<size_t>(t.token)], 1e-5);
    ASSERT_EQ(t.top_logprobs.size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_EQ(t.top_logprobs[i].first, order[i]) << i;  // raw order, before the penalty
      EXPECT_NEAR(t.top_logprobs[i].second, ls[static_cast<size_t>(order[i])], 1e-5);
    }
    r.params.logprobs = 0;  // chosen token only
    r.params.temperature = 0.0;
    const SampledToken g = sample_one(row, r);
    EXPECT_TRUE(g.top_logprobs.empty());
    EXPECT_NEAR(g.logprob, ls[static_cast<size_t>(g.token)], 1e-5);
    r.params.logprobs = -1;
    EXPECT_TRUE(sample_one(row, r).top_logprobs.empty());
  }
}

TEST(Sampler, BadTokenIdThrowsFromTheBatch) {
  const int64_t vocab = 100;
  SamplingParams p;
  p.repetition_penalty = 1.2;
  const std::vector<int32_t> good = {1, 2}, bad = {1, 100};
  std::vector<SamplerRow> rows(6, SamplerRow{&p, good, {}, {}, 1});
  rows[4].prompt_tokens = bad;
  std::vector<float> batch(rows.size() * vocab, 0.0f);
  try {
    sample_tokens(batch, vocab, rows);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
  }
  std::vector<float> short_batch(10);
  EXPECT_THROW(sample_tokens(short_batch, vocab, rows), Error);
}

TEST(Sampler, DegenerateRows) {
  TestRow r;
  r.params.temperature = 1.0;
  std::vector<float> row(64, -kInf);
  EXPECT_EQ(sample_one(row, r).token, 0);  // nothing possible: no crash, a valid id
  row[33] = kInf;
  EXPECT_EQ(sample_one(row, r).token, 33);
  r.params.temperature = 1e-300;  // tiny but not greedy: behaves like argmax
  row = random_logits(3, 5000);
  EXPECT_EQ(sample_one(row, r).token, ref_argmax(row));
}

// ---- speed (run with --gtest_also_run_disabled_tests) -------------------------------------

// Gaussian logits with a handful of strong tokens, roughly the shape of an LM's output.
// peaked = false: plain N(0, 2.5) rows, the worst case for top_p without top_k.
std::vector<float> bench_logits(int64_t rows, int64_t vocab, bool peaked) {
  std::vector<float> out;
  out.reserve(static_cast<size_t>(rows * vocab));
  std::mt19937_64 rng(7);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row = random_logits(static_cast<uint64_t>(r), vocab, 2.5);
    for (int i = 0; i < (peaked ? 10 : 0); ++i)
      row[rng() % static_cast<uint64_t>(vocab)] += 8.0f + static_cast<float>(rng() % 8);
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

TEST(SamplerBench, DISABLED_Rows256Vocab151936) {
  const int64_t n = 256, vocab = kBigVocab;
  const std::vector<float> peaked = bench_logits(n, vocab, true);
  const std::vector<float> flat = bench_logits(n, vocab, false);
  const std::vector<int32_t> prompt = random_tokens(1, 1000, vocab),
                             output = random_tokens(2, 200, vocab);
  const std::vector<int64_t> eos = {151645};
  auto time_it = [&](const char* label, const SamplingParams& p,
                     const std::vector<float>& pristine) {
    std::vector<SamplerRow> rows;
    for (int64_t i = 0; i < n; ++i)
      rows.push_back({&p, prompt, output, eos, static_cast<uint64_t>(i)});
    std::vector<double> ms;
    for (int rep = 0; rep < 5; ++rep) {
      std::vector<float> logits = pristine;
      const auto t0 = std::chrono::steady_clock::now();
      const auto out = sample_tokens(logits, vocab, rows);
      ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      ASSERT_EQ(out.size(), static_cast<size_t>(n));
    }
    std::sort(ms.begin(), ms.end());
    std::printf("%-44s median %7.2f ms  min %7.2f ms  (%lld rows x %lld)\n", label, ms[2], ms[0],
                static_cast<long long>(n), static_cast<long long>(vocab));
  };
  SamplingParams greedy, typical, top_p_only, plain;  // plain: temperature 1 and nothing else
  greedy.temperature = 0.0;
  typical.temperature = top_p_only.temperature = 0.7;
  typical.top_p = 0.8;
  typical.top_k = 20;
  top_p_only.top_p = 0.95;
  SamplingParams penalised = typical, logprobs = typical;
  penalised.repetition_penalty = 1.1;
  penalised.presence_penalty = 0.5;
  logprobs.logprobs = 5;
  time_it("greedy", greedy, peaked);
  time_it("t 0.7, top_p 0.8, top_k 20", typical, peaked);
  time_it("same + repetition 1.1, presence 0.5", penalised, peaked);
  time_it("same as typical + logprobs 5", logprobs, peaked);
  time_it("t 0.7, top_p 0.95, no top_k", top_p_only, peaked);
  time_it("t 1.0 alone", plain, peaked);
  time_it("flat rows: greedy", greedy, flat);
  time_it("flat rows: t 0.7, top_p 0.8, top_k 20", typical, flat);
  time_it("flat rows: t 0.7, top_p 0.95, no top_k", top_p_only, flat);
  time_it("flat rows: t 1.0 alone", plain, flat);
}

// The engine's view of a RunnerOutput: the runner's tokens as they are, or its logits
// sampled on the host.
TEST(RunnerOutputTokens, TakesTheRunnersTokensOrSamplesTheLogits) {
  const int64_t vocab = 64;
  SamplingParams greedy;
  greedy.temperature = 0;
  greedy.logprobs = 0;
  std::vector<SamplerRow> rows(2);
  for (SamplerRow& r : rows) r.params = &greedy;
  std::vector<float> logits = random_logits(3, 2 * vocab);
  const auto best = [&](int64_t r) {
    const auto b = logits.begin() + r * vocab;
    return static_cast<int32_t>(std::max_element(b, b + vocab) - b);
  };

  RunnerOutput host;
  host.rows = 2;
  host.vocab = vocab;
  host.logits = logits;
  const std::vector<SampledToken> a = runner_output_tokens(host, rows);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].token, best(0));
  EXPECT_EQ(a[1].token, best(1));

  RunnerOutput device;
  device.rows = 2;
  device.vocab = vocab;
  device.sampled_tokens = {17, 4};
  device.sampled_logprobs = {-0.5f, -1.25f};
  ASSERT_TRUE(device.sampled());
  const std::vector<SampledToken> b = runner_output_tokens(device, rows);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].token, 17);
  EXPECT_EQ(b[1].token, 4);
  EXPECT_FLOAT_EQ(b[1].logprob, -1.25f);
  EXPECT_TRUE(b[0].top_logprobs.empty());

  device.sampled_tokens = {17, 64};  // outside the vocabulary: a runner bug
  EXPECT_THROW(runner_output_tokens(device, rows), Error);
  device.sampled_logprobs.pop_back();
  EXPECT_THROW(runner_output_tokens(device, rows), Error);
}

}  // namespace
}  // namespace qwen3
