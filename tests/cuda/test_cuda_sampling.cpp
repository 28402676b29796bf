// Sampling on the GPU (GpuSampler + kernels/sampling.cu) against the host sampler
// (engine/sampler.h) on random logits: greedy rows give the same token always; seeded rows
// the same token in >= 99% of rows (float summation order may move a boundary) and always
// one the host could have drawn. Then the whole CudaRunner through the engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <span>

#include "backends/cpu/cpu_runner.h"
#include "backends/cuda/cuda_runner.h"
#include "backends/cuda/gpu_sampler.h"
#include "core/error.h"
#include "cuda/cuda_test_util.h"
#include "cuda/engine_test_util.h"
#include "engine/engine.h"
#include "engine/sampler.h"
#include "model/fixture.h"
#include "model/weights.h"

namespace qwen3::cuda::test {
namespace {

constexpr int64_t kVocab = 151936;
constexpr float kInf = std::numeric_limits<float>::infinity();

// One row's inputs, owning what SamplerRow points at.
struct RowSpec {
  SamplingParams params;
  std::vector<int32_t> prompt, output;
  std::vector<int64_t> eos;
  uint64_t seed = 0;
};

std::vector<SamplerRow> sampler_rows(const std::vector<RowSpec>& specs) {
  std::vector<SamplerRow> rows;
  for (const RowSpec& s : specs) {
    rows.push_back({.params = &s.params,
                    .prompt_tokens = s.prompt,
                    .output_tokens = s.output,
                    .eos_token_ids = s.eos,
                    .seed = s.seed});
  }
  return rows;
}

// N(0, sigma) logits per row; odd rows rounded to a grid of 0.25 so that ties are common.
std::vector<float> random_logits(int64_t rows, int64_t vocab, uint64_t seed, float sigma = 2.5f) {
  std::vector<float> l = random_floats(static_cast<size_t>(rows * vocab), seed, sigma);
  for (int64_t r = 1; r < rows; r += 2) {
    for (int64_t j = 0; j < vocab; ++j) {
      float& v = l[static_cast<size_t>(r * vocab + j)];
      v = std::round(v * 4.0f) / 4.0f;
    }
  }
  return l;
}

std::vector<int32_t> random_ids(std::mt19937_64& rng, size_t n, int64_t vocab) {
  std::vector<int32_t> v(n);
  for (auto& t : v) t = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return v;
}

struct Sampled {
  std::vector<SampledToken> host;  // sample_tokens on a copy
  std::vector<float> host_rows;    // that copy after the host's edits (penalties, bias, masks)
  RunnerOutput gpu;
  double gpu_ms = 0;
};

Sampled sample_both(const std::vector<float>& logits, int64_t vocab,
                    const std::vector<RowSpec>& specs) {
  const std::vector<SamplerRow> rows = sampler_rows(specs);
  Sampled s;
  s.host_rows = logits;
  s.host = sample_tokens(s.host_rows, vocab, rows);
  DeviceBuffer d = to_device(logits);
  GpuSampler sampler(vocab);
  sampler.sample(d.as<float>(), rows, nullptr, s.gpu);  // warm-up (workspace allocation)
  QWEN3_CUDA_CHECK(cudaMemcpy(d.get(), logits.data(), logits.size() * sizeof(float),
                              cudaMemcpyHostToDevice));
  RunnerOutput out;
  const auto t0 = std::chrono::steady_clock::now();
  sampler.sample(d.as<float>(), rows, nullptr, out);
  s.gpu_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(out.sampled_tokens, s.gpu.sampled_tokens) << "the GPU sampler is not deterministic";
  s.gpu = std::move(out);
  EXPECT_EQ(std::ssize(s.gpu.sampled_tokens), std::ssize(specs));
  EXPECT_EQ(std::ssize(s.gpu.sampled_logprobs), std::ssize(specs));
  return s;
}

// Could the host have drawn `token` from this (edited) row? A double-precision reading of
// the rules with a little slack at each boundary: top_k rank, top_p mass before the token,
// min_p weight.
bool host_allows(std::span<const float> row, const SamplingParams& p, int32_t token) {
  const auto vocab = std::ssize(row);
  std::vector<std::pair<float, int32_t>> c(row.size());
  for (int64_t j = 0; j < vocab; ++j) {
    const float v = row[static_cast<size_t>(j)];
    c[static_cast<size_t>(j)] = {std::isnan(v) ? -kInf : v, static_cast<int32_t>(j)};
  }
  std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  if (!(c[0].first > -kInf)) return token == c[0].second;
  const int64_t n = p.top_k >= 1 && p.top_k < vocab ? p.top_k : vocab;
  std::vector<double> w(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    w[static_cast<size_t>(i)] = std::exp((double{c[static_cast<size_t>(i)].first} - c[0].first) /
                                         p.temperature);
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  double before = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (c[static_cast<size_t>(i)].second == token) {
      const double wi = w[static_cast<size_t>(i)];
      if (p.top_p < 1.0 && before > p.top_p * total * (1 + 1e-5)) return false;
      if (p.min_p > 0.0 && wi < p.min_p * (1 - 1e-4)) return false;
      return wi > 0 || i == 0;
    }
    before += w[static_cast<size_t>(i)];
  }
  return false;  // beyond top_k
}

// Row i of a sampled batch: a greedy row must give the host's token, a random row one the
// host could have drawn (and, when it is the host's token, the host's logprob). Returns
// whether the token equals the host's.
bool check_row(const Sampled& s, const std::vector<RowSpec>& specs, size_t i, int64_t vocab,
               int64_t batch) {
  const int32_t g = s.gpu.sampled_tokens[i];
  const SamplingParams& p = specs[i].params;
  if (p.temperature == 0.0) {
    EXPECT_EQ(g, s.host[i].token) << "greedy row " << i;
  } else {
    const std::span<const float> row(s.host_rows.data() + i * static_cast<size_t>(vocab),
                                     static_cast<size_t>(vocab));
    EXPECT_TRUE(host_allows(row, p, g))
        << "vocab " << vocab << " batch " << batch << " row " << i << ": GPU token " << g
        << " (host " << s.host[i].token << ") is outside the kept set";
  }
  if (g == s.host[i].token && p.logprobs == 0) {
    EXPECT_NEAR(s.gpu.sampled_logprobs[i], s.host[i].logprob,
                1e-4 + 1e-5 * std::abs(s.host[i].logprob));
  }
  return g == s.host[i].token;
}

// Parameter combinations, cycled over the rows.
std::vector<SamplingParams> random_combos(std::span<const int64_t> top_ks) {
  std::vector<SamplingParams> out;
  for (double t : {0.4, 1.0, 1.7}) {
    for (int64_t k : top_ks) {
      for (double top_p : {1.0, 0.95, 0.5}) {
        for (double min_p : {0.0, 0.05}) {
          SamplingParams p;
          p.temperature = t;
          p.top_k = k;
          p.top_p = top_p;
          p.min_p = min_p;
          p.logprobs = out.size() % 3 == 0 ? 0 : -1;
          out.push_back(p);
        }
      }
    }
  }
  return out;
}

// Penalties, bias and min_tokens on some rows (deterministically by index).
void add_edits(RowSpec& s, size_t i, std::mt19937_64& rng, int64_t vocab) {
  s.prompt = random_ids(rng, 30, vocab);
  s.output = random_ids(rng, rng() % 20, vocab);
  s.eos = {static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab))};
  SamplingParams& p = s.params;
  if (i % 5 == 1) p.repetition_penalty = 1.3;
  if (i % 7 == 2) p.frequency_penalty = 0.8;
  if (i % 7 == 3) p.presence_penalty = -0.6;
  if (i % 4 == 0) {
    p.logit_bias = {{static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab)), 6.0f},
                    {static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab)), -3.0f}};
  }
  if (i % 6 == 5) {
    p.min_tokens = 25;
    p.stop_token_ids = {static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab))};
  }
}

TEST(GpuSampling, GreedyMatchesTheHostExactly) {
  QWEN3_SKIP_WITHOUT_GPU();
  for (int64_t vocab : {kVocab, 1000L}) {
    for (int64_t batch : {1L, 2L, 63L, 64L, 65L, 300L}) {
      std::mt19937_64 rng(static_cast<uint64_t>(batch * 31 + vocab));
      std::vector<float> logits = random_logits(batch, vocab, static_cast<uint64_t>(batch));
      // Special rows: NaNs scattered in one, everything -inf in another.
      if (batch > 2) {
        for (int j = 0; j < 50; ++j)
          logits[static_cast<size_t>(vocab + (rng() % static_cast<uint64_t>(vocab)))] = NAN;
        std::fill_n(logits.begin() + 2 * vocab, vocab, -kInf);
      }
      std::vector<RowSpec> specs(static_cast<size_t>(batch));
      for (size_t i = 0; i < specs.size(); ++i) {
        specs[i].params.temperature = 0;
        specs[i].params.logprobs = i % 2 == 0 ? 0 : -1;
        add_edits(specs[i], i, rng, vocab);
      }
      const Sampled s = sample_both(logits, vocab, specs);
      for (size_t i = 0; i < specs.size(); ++i) {
        ASSERT_EQ(s.gpu.sampled_tokens[i], s.host[i].token)
            << "vocab " << vocab << " batch " << batch << " row " << i;
        if (specs[i].params.logprobs == 0 && std::isfinite(s.host[i].logprob)) {
          EXPECT_NEAR(s.gpu.sampled_logprobs[i], s.host[i].logprob,
                      1e-4 + 1e-5 * std::abs(s.host[i].logprob))
              << "row " << i;
        }
      }
      std::printf("[greedy vocab %lld batch %lld] GPU sampling %.3f ms\n",
                  static_cast<long long>(vocab), static_cast<long long>(batch), s.gpu_ms);
    }
  }
}

// Seeded random rows with every parameter combination over `top_ks`: tokens the host could
// have drawn, and the host's own in >= 99 % of the rows (rounding at a boundary aside).
void seeded_rows_match(std::span<const int64_t> top_ks, const char* label) {
  const std::vector<SamplingParams> combos = random_combos(top_ks);
  int64_t rows_total = 0, rows_same = 0;
  for (int64_t vocab : {kVocab, 16L}) {
    for (int64_t batch : {1L, 17L, 64L, 130L, 300L}) {
      for (bool edits : {false, true}) {
        std::mt19937_64 rng(static_cast<uint64_t>(batch * 7 + vocab + edits));
        const std::vector<float> logits =
            random_logits(batch, vocab, static_cast<uint64_t>(batch) + 100 * edits);
        std::vector<RowSpec> specs(static_cast<size_t>(batch));
        for (size_t i = 0; i < specs.size(); ++i) {
          specs[i].params = combos[(i + static_cast<size_t>(batch)) % combos.size()];
          specs[i].seed = rng();
          if (edits) {
            add_edits(specs[i], i, rng, vocab);
          } else {
            specs[i].output = random_ids(rng, rng() % 5, vocab);  // the step index
          }
        }
        const Sampled s = sample_both(logits, vocab, specs);
        for (size_t i = 0; i < specs.size(); ++i) {
          ++rows_total;
          rows_same += check_row(s, specs, i, vocab, batch);
        }
        std::printf("[%s vocab %lld batch %lld edits %d] GPU sampling %.3f ms\n", label,
                    static_cast<long long>(vocab), static_cast<long long>(batch), edits,
                    s.gpu_ms);
      }
    }
  }
  std::printf("%s rows: %lld of %lld tokens equal to the host's\n", label,
              static_cast<long long>(rows_same), static_cast<long long>(rows_total));
  EXPECT_GE(static_cast<double>(rows_same), 0.99 * static_cast<double>(rows_total));
}

// No top_k (0 or the vocabulary), small ones.
TEST(GpuSampling, SeededSamplingMatchesTheHost) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t top_ks[] = {0, 1, 20, 1000, kVocab};
  seeded_rows_match(top_ks, "seeded");
}

// Large top_k values (above what one block could hold, below the vocabulary).
TEST(GpuSampling, SeededSamplingWithALargeTopKMatchesTheHost) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t top_ks[] = {0, 20, 5000};
  seeded_rows_match(top_ks, "seeded large top_k");
}

// Rows with ties (odd rows on a 0.25 grid, a constant row), NaNs, an all -inf row, greedy
// rows mixed in, top_k cycling over `top_ks` (0: none): the host's tokens (>= 99 %). On the
// constant row every candidate weighs the same: the draw is the id the host's inverse CDF
// reaches in id order, below top_k and top_p's share of the vocabulary.
void tie_rows_match(std::span<const int64_t> top_ks, const char* label) {
  int64_t rows_total = 0, rows_same = 0;
  for (int64_t vocab : {kVocab, 3000L, 40L}) {
    for (int64_t batch : {1L, 17L, 64L, 130L}) {
      std::mt19937_64 rng(static_cast<uint64_t>(batch * 13 + vocab));
      std::vector<float> logits = random_logits(batch, vocab, static_cast<uint64_t>(batch) + 7);
      if (batch > 3) {
        for (int j = 0; j < 50; ++j)
          logits[static_cast<size_t>(vocab + (rng() % static_cast<uint64_t>(vocab)))] = NAN;
        std::fill_n(logits.begin() + 2 * vocab, vocab, -kInf);
        std::fill_n(logits.begin() + 3 * vocab, vocab, 1.0f);
      }
      std::vector<RowSpec> specs(static_cast<size_t>(batch));
      for (size_t i = 0; i < specs.size(); ++i) {
        SamplingParams& p = specs[i].params;
        const int64_t k = top_ks[i % top_ks.size()];
        p.top_k = k == 0 ? 0 : (k >= kVocab ? vocab : std::min<int64_t>(k, vocab - 1));
        p.temperature = i % 9 == 8 ? 0.0 : (i % 3 == 0 ? 0.7 : 1.3);
        p.top_p = i % 2 == 0 ? 0.8 : 1.0;
        p.min_p = i % 5 == 4 ? 0.05 : 0.0;
        p.logprobs = i % 3 == 0 ? 0 : -1;
        specs[i].seed = rng();
        if (i % 4 == 3 && i != 3) add_edits(specs[i], i, rng, vocab);  // row 3 stays constant
      }
      const Sampled s = sample_both(logits, vocab, specs);
      for (size_t i = 0; i < specs.size(); ++i) {
        ++rows_total;
        rows_same += check_row(s, specs, i, vocab, batch);
        if (batch > 3 && i == 3) {
          const SamplingParams& p = specs[i].params;
          const int64_t bound = std::min<int64_t>(
              p.top_k > 0 ? p.top_k : vocab,
              static_cast<int64_t>(std::ceil(p.top_p * static_cast<double>(vocab))));
          EXPECT_LT(s.gpu.sampled_tokens[i], bound) << "constant row, vocab " << vocab;
          EXPECT_EQ(s.gpu.sampled_tokens[i], s.host[i].token) << "constant row, vocab " << vocab;
        }
      }
      std::printf("[%s vocab %lld batch %lld] GPU sampling %.3f ms\n", label,
                  static_cast<long long>(vocab), static_cast<long long>(batch), s.gpu_ms);
    }
  }
  std::printf("%s rows: %lld of %lld tokens equal to the host's\n", label,
              static_cast<long long>(rows_same), static_cast<long long>(rows_total));
  EXPECT_GE(static_cast<double>(rows_same), 0.99 * static_cast<double>(rows_total));
}

// top_k rows: the top_k prefix found by counting (kernels/sampling_mass.cu), ties at the
// top_k-th value taken in id order; 5000 is larger than any one block's share of a row.
TEST(GpuSampling, TopKRowsWithTiesMatchTheHost) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t top_ks[] = {1, 20, 50, 1024, 5000};
  tie_rows_match(top_ks, "top_k ties");
}

// Rows without top_k: ties at the drawn key resolved by arithmetic (the lowest id) or,
// past the first, by a scan.
TEST(GpuSampling, FullRowsWithTiesMatchTheHost) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t top_ks[] = {0, 0, 0, kVocab};
  tie_rows_match(top_ks, "full-row ties");
}

// The full-vocabulary path (top_k off, top_p 1) draws by the softmax: many seeds over a small
// vocabulary, token frequencies against the probabilities (chi-square).
TEST(GpuSampling, FullVocabularyDrawFollowsTheSoftmax) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t vocab = 8, batch = 6000;
  const std::vector<float> one = {2.0f, 1.0f, 0.5f, 0.0f, -1.0f, 1.0f, -3.0f, 0.25f};
  std::vector<float> logits;
  for (int64_t r = 0; r < batch; ++r) logits.insert(logits.end(), one.begin(), one.end());
  std::vector<RowSpec> specs(static_cast<size_t>(batch));
  for (size_t i = 0; i < specs.size(); ++i) {
    specs[i].params.temperature = 1.0;
    specs[i].seed = 1000 + i;
  }
  const Sampled s = sample_both(logits, vocab, specs);
  std::vector<double> p(one.size());
  double z = 0;
  for (size_t j = 0; j < one.size(); ++j) z += p[j] = std::exp(double{one[j]});
  std::vector<int64_t> counts(one.size(), 0);
  int64_t same = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    ++counts[static_cast<size_t>(s.gpu.sampled_tokens[i])];
    same += s.gpu.sampled_tokens[i] == s.host[i].token;
  }
  double chi2 = 0;
  for (size_t j = 0; j < one.size(); ++j) {
    const double expect = p[j] / z * batch;
    chi2 += std::pow(counts[j] - expect, 2) / expect;
  }
  EXPECT_LT(chi2, 40.0);  // 7 dof
  EXPECT_GE(same, batch * 99 / 100);
}

// Each edit moves the greedy token as the host's does.
TEST(GpuSampling, PenaltiesBiasAndMinTokensTakeEffect) {
  QWEN3_SKIP_WITHOUT_GPU();
  const int64_t vocab = kVocab;
  std::vector<float> base = random_floats(static_cast<size_t>(vocab), 11, 1.0f);
  const auto best = static_cast<int32_t>(std::max_element(base.begin(), base.end()) - base.begin());
  base[static_cast<size_t>(best)] = 8.0f;  // a clear, positive winner
  const int32_t other = (best + 1000) % static_cast<int32_t>(vocab);
  std::vector<RowSpec> specs(7);
  for (RowSpec& s : specs) s.params.temperature = 0;
  specs[0].params.logit_bias = {{other, 20.0f}};             // bias: `other` wins
  specs[1].eos = {best};                                      // min_tokens: eos masked
  specs[1].params.min_tokens = 2;
  specs[1].output = {3};
  specs[2].eos = {best};                                      // min_tokens reached: eos allowed
  specs[2].params.min_tokens = 2;
  specs[2].output = {3, 4};
  specs[3].params.repetition_penalty = 100.0;                // 8 / 100: `best` loses
  specs[3].prompt = {best, best};
  specs[4].params.frequency_penalty = 2.0;                   // 8 - 3 * 2
  specs[4].output = {best, 5, best, best};
  specs[5].params.presence_penalty = 2.0;                    // 8 - 2
  specs[5].params.frequency_penalty = 2.0;                   // - 2 * 3 = 0: `best` loses
  specs[5].output = {best, best, best};
  specs[6].params.stop_token_ids = {best};                   // stop ids masked too
  specs[6].params.min_tokens = 1;
  std::vector<float> logits;
  for (size_t i = 0; i < specs.size(); ++i) logits.insert(logits.end(), base.begin(), base.end());
  const Sampled s = sample_both(logits, vocab, specs);
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_EQ(s.gpu.sampled_tokens[i], s.host[i].token) << "row " << i;
  EXPECT_EQ(s.gpu.sampled_tokens[0], other);
  EXPECT_NE(s.gpu.sampled_tokens[1], best);
  EXPECT_EQ(s.gpu.sampled_tokens[2], best);
  EXPECT_NE(s.gpu.sampled_tokens[3], best);
  EXPECT_NE(s.gpu.sampled_tokens[5], best);
  EXPECT_NE(s.gpu.sampled_tokens[6], best);
  // The same edits under sampling with top_k 1 (the random path picks the best).
  for (RowSpec& r : specs) {
    r.params.temperature = 0.7;
    r.params.top_k = 1;
    r.seed = 3;
  }
  const Sampled t = sample_both(logits, vocab, specs);
  for (size_t i = 0; i < specs.size(); ++i)
    EXPECT_EQ(t.gpu.sampled_tokens[i], s.host[i].token) << "row " << i;
}

TEST(GpuSampling, OutOfVocabularyIdsThrow) {
  QWEN3_SKIP_WITHOUT_GPU();
  std::vector<RowSpec> specs(1);
  specs[0].params.logit_bias = {{1000, 1.0f}};
  const std::vector<float> logits = random_floats(1000, 3);
  DeviceBuffer d = to_device(logits);
  GpuSampler sampler(1000);
  RunnerOutput out;
  EXPECT_THROW(sampler.sample(d.as<float>(), sampler_rows(specs), nullptr, out), Error);
  specs[0].params.logprobs = 3;  // top_logprobs: the host's job
  EXPECT_FALSE(GpuSampler::supports(sampler_rows(specs)));
}

// ---- the runner through the engine ----

std::map<uint64_t, std::vector<int64_t>> run_engine(const Qwen3Weights& w, ModelRunner& runner,
                                                    const std::vector<EngineRequest>& reqs) {
  EngineConfig ec;
  ec.max_num_batched_tokens = 7;  // chunked prefill, decode-shaped steps (GEMV path)
  ec.max_num_seqs = 7;  // the scheduler needs max_num_batched_tokens >= max_num_seqs
  Engine engine(ec, w.config(), runner, nullptr);
  for (size_t i = 0; i < reqs.size(); ++i) engine.add(i, reqs[i]);
  return run_to_completion(engine);
}

std::vector<EngineRequest> engine_requests(int64_t vocab, bool greedy) {
  std::mt19937_64 rng(17);
  std::vector<EngineRequest> reqs(6);
  for (size_t i = 0; i < reqs.size(); ++i) {
    reqs[i].prompt = random_ids(rng, 5 + 3 * i, vocab);
    SamplingParams& p = reqs[i].params;
    p.temperature = greedy ? 0.0 : 0.8;
    p.top_p = i % 2 ? 0.9 : 1.0;
    p.top_k = i % 3 == 1 ? 50 : 0;
    p.repetition_penalty = i % 3 == 2 ? 1.2 : 1.0;
    p.seed = 40 + i;
    p.ignore_eos = true;
    p.max_tokens = 12;
  }
  return reqs;
}

// Greedy tokens of CudaRunner (GPU sampling) equal the CPU backend's (host sampling), on a
// fixture model whose float32 GPU path is known to reproduce HF's greedy tokens.
TEST(CudaSamplingRunner, EngineGreedyEqualsTheCpuBackend) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto w = Qwen3Weights::load(qwen3::test::fixture_model("gqa4_hd128"));
  const auto reqs = engine_requests(w->config().vocab_size, true);
  cpu::CpuRunner cpu_runner(*w, 64, 16);
  CudaRunner gpu_runner(*w, 64, 16, {.kv_dtype = KvDtype::kF32});
  EXPECT_EQ(run_engine(*w, gpu_runner, reqs), run_engine(*w, cpu_runner, reqs));
}

// The same CudaRunner with GPU sampling on and off (host sampling of its own logits): the
// same greedy tokens, the same seeded tokens.
TEST(CudaSamplingRunner, GpuSamplingEqualsHostSamplingOfTheSameLogits) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto w = Qwen3Weights::load(qwen3::test::fixture_model("gqa4_hd128"));
  for (bool greedy : {true, false}) {
    const auto reqs = engine_requests(w->config().vocab_size, greedy);
    CudaRunner on(*w, 64, 16, {.kv_dtype = KvDtype::kF32});
    CudaRunner off(*w, 64, 16, {.kv_dtype = KvDtype::kF32, .gpu_sampling = false});
    EXPECT_EQ(run_engine(*w, on, reqs), run_engine(*w, off, reqs)) << "greedy " << greedy;
  }
}

}  // namespace
}  // namespace qwen3::cuda::test
