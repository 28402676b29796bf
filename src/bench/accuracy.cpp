#include "bench/accuracy.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "backends/runner_factory.h"
#include "bench/stats.h"
#include "core/error.h"
#include "model/weights.h"

namespace qwen3::bench {

LogitsComparison compare_logits(std::span<const float> reference, std::span<const float> model) {
  QWEN3_CHECK(reference.size() == model.size() && !reference.empty());
  LogitsComparison c;
  double dot = 0, nr = 0, nm = 0;
  size_t best_r = 0, best_m = 0;
  double max_r = -INFINITY, max_m = -INFINITY;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double r = reference[i], m = model[i];
    dot += r * m;
    nr += r * r;
    nm += m * m;
    c.max_abs = std::max(c.max_abs, std::abs(r - m));
    if (r > max_r) max_r = r, best_r = i;  // lowest id on ties, like greedy sampling
    if (m > max_m) max_m = m, best_m = i;
  }
  c.cosine = nr > 0 && nm > 0 ? dot / std::sqrt(nr * nm) : (nr == nm ? 1.0 : 0.0);
  c.top1_agree = best_r == best_m;
  double zr = 0, zm = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    zr += std::exp(reference[i] - max_r);
    zm += std::exp(model[i] - max_m);
  }
  const double lzr = std::log(zr) + max_r, lzm = std::log(zm) + max_m;
  double kl = 0;
  for (size_t i = 0; i < reference.size(); ++i) {
    const double lr = reference[i] - lzr, lm = model[i] - lzm;
    kl += std::exp(lr) * (lr - lm);
  }
  c.kl = std::max(0.0, kl);
  return c;
}

namespace {

// One sequence on one runner: KV blocks 1.. (block 0 stays the pool's null block).
class SoloSequence {
 public:
  SoloSequence(const std::string& device, const Qwen3Weights& weights, int64_t max_tokens)
      : block_size_(16) {
    const int64_t blocks = (max_tokens + block_size_ - 1) / block_size_;
    runner_ = make_runner(parse_device(device), weights, blocks + 1, block_size_);
    for (int64_t b = 1; b <= blocks; ++b) table_.push_back(static_cast<int32_t>(b));
  }
  // Runs `tokens` after the ones already in the cache; returns the last row's logits.
  std::vector<float> step(const std::vector<int32_t>& tokens) {
    SchedulerOutput out;
    ScheduledSeq s;
    s.seq_id = 1;
    s.tokens = tokens;
    s.start_pos = pos_;
    const int64_t end = pos_ + static_cast<int64_t>(tokens.size());
    s.block_table.assign(table_.begin(), table_.begin() + (end + block_size_ - 1) / block_size_);
    s.want_logits = true;
    out.seqs.push_back(std::move(s));
    out.total_tokens = static_cast<int64_t>(tokens.size());
    RunnerOutput ro = runner_->execute(out);
    pos_ = end;
    return std::move(ro.logits);
  }
  const char* name() const { return runner_->name(); }

 private:
  int64_t block_size_;
  int64_t pos_ = 0;
  std::vector<int32_t> table_;
  std::unique_ptr<ModelRunner> runner_;
};

struct Agreement {
  std::vector<double> cosine, max_abs, kl;
  int64_t agree = 0;
  void add(const LogitsComparison& c) {
    cosine.push_back(c.cosine);
    max_abs.push_back(c.max_abs);
    kl.push_back(c.kl);
    agree += c.top1_agree ? 1 : 0;
  }
};

// Mean, minimum (p0), p99 and maximum (p100) of one metric, numpy's way (bench/stats.h).
struct Spread {
  double mean, min, p99, max;
};
Spread spread(const std::vector<double>& v) {
  constexpr double kPercentiles[] = {0, 99, 100};
  const Summary s = summarize(v, kPercentiles);
  return {s.mean, s.percentiles[0].second, s.percentiles[1].second, s.percentiles[2].second};
}

}  // namespace

int run_bench_accuracy(const AccuracyConfig& config) {
  if (config.prompt_len < 1 || config.steps < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--prompt-len must be >= 1 and --steps >= 0");
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto test_w = Qwen3Weights::load(config.model_dir);
  auto ref_w = Qwen3Weights::load(config.reference_dir);
  const ModelConfig& tc = test_w->config();
  const ModelConfig& rc = ref_w->config();
  if (tc.vocab_size != rc.vocab_size || tc.hidden_size != rc.hidden_size ||
      tc.num_hidden_layers != rc.num_hidden_layers) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--reference {}: geometry differs from {} (vocab {} vs {}, hidden {} vs {}, "
                "layers {} vs {})",
                config.reference_dir, config.model_dir, rc.vocab_size, tc.vocab_size,
                rc.hidden_size, tc.hidden_size, rc.num_hidden_layers, tc.num_hidden_layers);
  }
  const int64_t total = config.prompt_len + config.steps;
  if (total > tc.max_position_embeddings) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--prompt-len + --steps = {} exceeds max_position_embeddings {}", total,
                tc.max_position_embeddings);
  }
  const std::string ref_device =
      config.reference_device.empty() ? config.device : config.reference_device;
  SoloSequence model(config.device, *test_w, total);
  SoloSequence ref(ref_device, *ref_w, total);

  std::mt19937_64 gen(config.seed);
  std::uniform_int_distribution<int32_t> pick(0, static_cast<int32_t>(tc.vocab_size - 1));
  std::vector<int32_t> prompt(static_cast<size_t>(config.prompt_len));
  for (int32_t& t : prompt) t = pick(gen);

  Agreement prefill, decode;
  std::vector<float> lr = ref.step(prompt), lm = model.step(prompt);
  prefill.add(compare_logits(lr, lm));
  for (int64_t s = 0; s < config.steps; ++s) {
    const auto next = static_cast<int32_t>(std::max_element(lr.begin(), lr.end()) - lr.begin());
    lr = ref.step({next});
    lm = model.step({next});
    decode.add(compare_logits(lr, lm));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  Agreement all = decode;
  all.add(
      LogitsComparison{prefill.cosine[0], prefill.max_abs[0], prefill.kl[0], prefill.agree == 1});
  const double steps = static_cast<double>(all.cosine.size());
  const Spread cosine = spread(all.cosine), max_abs = spread(all.max_abs), kl = spread(all.kl);
  nlohmann::json j = {
      {"model", config.model_dir},
      {"reference", config.reference_dir},
      {"device", model.name()},
      {"reference_device", ref.name()},
      {"prompt_len", config.prompt_len},
      {"decode_steps", config.steps},
      {"seed", config.seed},
      {"rows_compared", all.cosine.size()},
      {"top1_agreement", static_cast<double>(all.agree) / steps},
      {"cosine_mean", cosine.mean},
      {"cosine_min", cosine.min},
      {"max_abs_max", max_abs.max},
      {"max_abs_mean", max_abs.mean},
      {"kl_mean", kl.mean},
      {"kl_p99", kl.p99},
      {"kl_max", kl.max},
      {"prefill_last_row",
       {{"cosine", prefill.cosine[0]},
        {"max_abs", prefill.max_abs[0]},
        {"kl", prefill.kl[0]},
        {"top1_agree", prefill.agree == 1}}},
      {"seconds", seconds},
  };
  fmt::print("accuracy: {} ({}) against {} ({}), {} prompt tokens + {} teacher-forced steps\n",
             config.model_dir, model.name(), config.reference_dir, ref.name(), config.prompt_len,
             config.steps);
  fmt::print("  top-1 agreement      {:.4f} ({} of {} rows)\n", j["top1_agreement"].get<double>(),
             all.agree, all.cosine.size());
  fmt::print("  cosine mean / min    {:.6f} / {:.6f}\n", cosine.mean, cosine.min);
  fmt::print("  max |diff| mean / max {:.4g} / {:.4g}\n", max_abs.mean, max_abs.max);
  fmt::print("  KL mean / p99 / max  {:.3g} / {:.3g} / {:.3g} nats\n", kl.mean, kl.p99, kl.max);
  fmt::print("  {:.1f} s\n", seconds);
  if (!config.output_json.empty()) {
    std::ofstream f(config.output_json);
    if (!f) QWEN3_THROW(ErrorCode::kIo, "--output-json {}: cannot write", config.output_json);
    f << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace qwen3::bench
