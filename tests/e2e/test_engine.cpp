// The engine end to end on the CPU backend with small random-weight models: batched,
// chunked, prefix-cached, preempted and cancelled runs must give exactly the tokens each
// request gives alone (greedy and seeded sampling).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "backends/cpu/cpu_runner.h"
#include "core/error.h"
#include "engine/async_engine.h"
#include "engine/engine.h"
#include "engine/logits_ops.h"
#include "engine/sampler.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace qwen3 {
namespace {

// One small random model (vocab 512) shared by the tests: fast enough for many runs.
const Qwen3Weights& small_model() {
  static test::TempDir dir;
  static std::unique_ptr<Qwen3Weights> w = [] {
    InitRandomOptions o;
    o.config = preset_config("tiny");
    o.config.vocab_size = 512;
    o.config.hidden_size = 128;
    o.config.intermediate_size = 256;
    o.config.num_hidden_layers = 2;
    o.config.max_window_layers = 2;
    o.config.head_dim = 32;
    o.config.max_position_embeddings = 1024;
    o.config.initializer_range = 0.2;  // peaked logits: varied greedy continuations
    o.seed = 5;
    o.out_dir = dir.str() + "/m";
    init_random_checkpoint(o);
    return Qwen3Weights::load(o.out_dir);
  }();
  return *w;
}

struct EngineSetup {
  int64_t num_blocks = 512;
  int64_t block_size = 16;
  int64_t max_num_seqs = 8;
  int64_t budget = 64;
  bool caching = true;
  bool runner_samples = false;  // through SamplingCpuRunner: the runner samples, not the engine
  std::vector<int64_t> eos_ids;  // empty: the model's (outside this small vocabulary)
  AttentionWindow window;        // off by default
};

// A runner that samples itself from the SamplerRows it is handed (as CudaRunner does on the
// GPU), with the host sampler, and returns only token ids: the engine's side of the
// execute_and_sample boundary must give the tokens of host sampling.
class SamplingCpuRunner final : public ModelRunner {
 public:
  explicit SamplingCpuRunner(ModelRunner& inner) : inner_(inner) {}
  RunnerOutput execute(const SchedulerOutput& step) override { return inner_.execute(step); }
  RunnerOutput execute_and_sample(const SchedulerOutput& step,
                                  std::span<const SamplerRow> rows) override {
    RunnerOutput out = inner_.execute(step);
    EXPECT_EQ(out.rows, std::ssize(rows));
    for (const SamplerRow& r : rows) {
      if (r.params->logprobs > 0) return out;  // top_logprobs: the engine samples
    }
    if (rows.empty()) return out;
    for (const SampledToken& t : sample_tokens(out.logits, out.vocab, rows)) {
      out.sampled_tokens.push_back(t.token);
      out.sampled_logprobs.push_back(t.logprob);
    }
    out.logits.clear();
    ++sampled_steps;
    return out;
  }
  int64_t num_kv_blocks() const override { return inner_.num_kv_blocks(); }
  int64_t block_size() const override { return inner_.block_size(); }
  const char* name() const override { return "sampling-cpu"; }
  int64_t sampled_steps = 0;

 private:
  ModelRunner& inner_;
};

struct Job {
  std::vector<int32_t> prompt;
  SamplingParams params;
  int64_t arrive_step = 0;   // submitted before this step
  int64_t cancel_step = -1;  // aborted before this step (-1: never)
};

struct Result {
  std::map<uint64_t, std::vector<std::vector<int32_t>>> tokens;  // id -> per choice
  std::map<uint64_t, FinishReason> finish;
  std::map<uint64_t, int64_t> cached;
  EngineStats stats;
};

Result run_jobs(const std::vector<Job>& jobs, const EngineSetup& s) {
  const Qwen3Weights& w = small_model();
  cpu::CpuRunner cpu(w, s.num_blocks, s.block_size);
  SamplingCpuRunner sampling(cpu);
  ModelRunner& runner = s.runner_samples ? static_cast<ModelRunner&>(sampling) : cpu;
  EngineConfig c;
  c.max_num_seqs = s.max_num_seqs;
  c.max_num_batched_tokens = s.budget;
  c.enable_prefix_caching = s.caching;
  c.eos_token_ids = s.eos_ids;
  c.attention_window = s.window;
  Engine engine(c, w.config(), runner, nullptr);
  Result r;
  auto take = [&](const RequestOutput& o) {
    auto& per_choice = r.tokens[o.request_id];
    for (const auto& d : o.choices) {
      if (per_choice.size() <= static_cast<size_t>(d.index)) per_choice.resize(d.index + 1);
      auto& t = per_choice[static_cast<size_t>(d.index)];
      t.insert(t.end(), d.token_ids.begin(), d.token_ids.end());
      if (d.finish_reason != FinishReason::kNone) r.finish[o.request_id] = d.finish_reason;
    }
    r.cached[o.request_id] = o.cached_prompt_tokens;
  };
  size_t submitted = 0;
  for (int64_t step = 0; submitted < jobs.size() || engine.has_work(); ++step) {
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (jobs[i].arrive_step == step) {
        engine.validate({jobs[i].prompt, jobs[i].params, 0});
        engine.add(i, {jobs[i].prompt, jobs[i].params, 0});
        ++submitted;
      }
      if (jobs[i].cancel_step == step) {
        if (auto o = engine.abort(i)) take(*o);
      }
    }
    for (const auto& o : engine.step()) take(o);
    if (step > 100000) ADD_FAILURE() << "engine did not finish";
  }
  r.stats = engine.stats();
  if (s.runner_samples) {
    EXPECT_GT(sampling.sampled_steps, 0);
  }
  EXPECT_DOUBLE_EQ(r.stats.kv_usage, 0.0);  // every block returned
  engine.scheduler().kv().pool().check_integrity();
  return r;
}

std::vector<Job> mixed_jobs(uint64_t seed, int count, bool shared_prefix) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::vector<int32_t> system;
  for (int i = 0; i < 37; ++i) system.push_back(static_cast<int32_t>(rng() % 512));
  std::vector<Job> jobs;
  for (int i = 0; i < count; ++i) {
    Job j;
    if (shared_prefix) j.prompt = system;
    const int extra = 1 + static_cast<int>(rng() % 70);
    for (int t = 0; t < extra; ++t) j.prompt.push_back(static_cast<int32_t>(rng() % 512));
    j.params.temperature = 0;
    j.params.max_tokens = 1 + static_cast<int64_t>(rng() % 24);
    j.params.ignore_eos = true;
    j.arrive_step = i < count / 2 ? 0 : static_cast<int64_t>(rng() % 40);
    jobs.push_back(j);
  }
  return jobs;
}

// Each job alone: one request in the engine, whole prompt in one step, no caching.
std::vector<std::vector<int32_t>> alone(const std::vector<Job>& jobs) {
  std::vector<std::vector<int32_t>> out;
  for (Job j : jobs) {
    j.arrive_step = 0;
    j.cancel_step = -1;
    EngineSetup s;
    s.budget = 256;
    s.caching = false;
    out.push_back(run_jobs({j}, s).tokens.at(0).at(0));
  }
  return out;
}

TEST(Engine, BatchedGreedyWithArrivalsAndCancelsEqualsAlone) {
  std::vector<Job> jobs = mixed_jobs(1, 32, false);
  for (int i : {3, 11, 20, 27})
    jobs[static_cast<size_t>(i)].cancel_step = jobs[static_cast<size_t>(i)].arrive_step + 3;
  const Result batched = run_jobs(jobs, EngineSetup{});
  const auto ref = alone(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const auto& got = batched.tokens.at(i).at(0);
    if (jobs[i].cancel_step >= 0) {
      EXPECT_EQ(batched.finish.at(i), FinishReason::kAbort) << i;
      ASSERT_LE(got.size(), ref[i].size()) << i;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), ref[i].begin())) << "request " << i;
    } else {
      EXPECT_EQ(got, ref[i]) << "request " << i;
      EXPECT_EQ(batched.finish.at(i), FinishReason::kLength);
    }
  }
  EXPECT_GT(batched.stats.steps_total, 40);
}

TEST(Engine, PrefixCachingGivesIdenticalOutputs) {
  const std::vector<Job> jobs = mixed_jobs(2, 24, true);
  EngineSetup on;
  EngineSetup off;
  off.caching = false;
  const Result a = run_jobs(jobs, on);
  const Result b = run_jobs(jobs, off);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_GT(a.stats.prefix_hits, 24 * 16);  // the shared 37-token system prompt: 2 blocks
  EXPECT_EQ(b.stats.prefix_hits, 0);
  int64_t cached = 0;
  for (const auto& [id, n] : a.cached) cached += n;
  EXPECT_GT(cached, 0);
}

TEST(Engine, PreemptionUnderATinyPoolStillGivesAloneOutputs) {
  const std::vector<Job> jobs = mixed_jobs(3, 12, false);
  EngineSetup s;
  s.num_blocks = 13;  // 12 blocks of 8 tokens: prompts + outputs of several do not fit
  s.block_size = 8;
  const Result r = run_jobs(jobs, s);
  EXPECT_GT(r.stats.preemptions_total, 0);
  const auto ref = alone(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(r.tokens.at(i).at(0), ref[i]) << i;
}

TEST(Engine, SeededSamplingIsReproducibleAcrossBatchCompositions) {
  std::vector<Job> jobs = mixed_jobs(4, 10, true);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].params.temperature = 0.9;
    jobs[i].params.top_p = 0.9;
    jobs[i].params.top_k = 50;
    jobs[i].params.seed = 1000 + i;
    jobs[i].params.max_tokens = 16;
  }
  const Result together = run_jobs(jobs, EngineSetup{});
  const auto ref = alone(jobs);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(together.tokens.at(i).at(0), ref[i]) << i;
  // A different seed changes the sample (the test can fail).
  std::vector<Job> other = {jobs[0]};
  other[0].params.seed = 77;
  EXPECT_NE(alone(other)[0], ref[0]);
}

// The rows handed to execute_and_sample (params, seeds, step index, prompt and output
// tokens) are those the engine samples with: a runner that samples gives the same tokens,
// with penalties, logit_bias and min_tokens on, batched and chunked.
TEST(Engine, RunnerSideSamplingGivesTheEngineSamplersTokens) {
  std::vector<Job> jobs = mixed_jobs(6, 12, true);
  for (size_t i = 0; i < jobs.size(); ++i) {
    SamplingParams& p = jobs[i].params;
    p.max_tokens = 12;
    p.seed = 500 + i;
    p.temperature = i % 3 == 0 ? 0.0 : 0.8;
    p.top_k = i % 4 == 1 ? 40 : 0;
    p.top_p = i % 2 == 0 ? 0.9 : 1.0;
    p.min_p = i % 5 == 2 ? 0.05 : 0.0;
    p.repetition_penalty = i % 3 == 1 ? 1.3 : 1.0;
    p.frequency_penalty = i % 4 == 2 ? 0.5 : 0.0;
    p.presence_penalty = i % 4 == 3 ? 0.7 : 0.0;
    if (i % 5 == 0) p.logit_bias = {{7, 3.0f}, {9, -100.0f}};
    p.logprobs = i == 7 ? 2 : (i % 2 == 0 ? 0 : -1);  // one row with top_logprobs
    p.ignore_eos = false;
    p.min_tokens = i % 2 == 0 ? 4 : 0;
    p.stop_token_ids = {11};
  }
  EngineSetup host;
  host.eos_ids = {5};
  EngineSetup runner = host;
  runner.runner_samples = true;
  const Result a = run_jobs(jobs, host);
  const Result b = run_jobs(jobs, runner);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(a.tokens.at(i), b.tokens.at(i)) << i;
  // Without the top_logprobs row every step is sampled by the runner.
  jobs.erase(jobs.begin() + 7);
  const Result c = run_jobs(jobs, host);
  const Result d = run_jobs(jobs, runner);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(c.tokens.at(i), d.tokens.at(i)) << i;
}

TEST(Engine, ParallelSamplingSharesThePromptBlocks) {
  Job j = mixed_jobs(5, 1, true)[0];
  j.params.n = 4;
  j.params.temperature = 1.0;
  j.params.seed = 9;
  j.params.max_tokens = 12;
  const Result r = run_jobs({j}, EngineSetup{});
  const auto& choices = r.tokens.at(0);
  ASSERT_EQ(choices.size(), 4u);
  EXPECT_NE(choices[0], choices[1]);  // different draws per choice
  // Siblings wait for the first prompt and then hit its full blocks.
  const int64_t full = (static_cast<int64_t>(j.prompt.size()) - 1) / 16 * 16;
  EXPECT_EQ(r.stats.prefix_hits, 3 * full);
}

// A runner that reports a device timeline (one "busy" millisecond per step) and records
// each end_of_work: the engine must call it when, and only when, it has run out of work.
class TimelineRunner final : public ModelRunner {
 public:
  explicit TimelineRunner(ModelRunner& inner) : inner_(inner) {}
  RunnerOutput execute(const SchedulerOutput& step) override {
    ++timeline_.steps;
    timeline_.busy_ms += 1;
    return inner_.execute(step);
  }
  std::optional<DeviceTimeline> device_timeline() const override { return timeline_; }
  void end_of_work() override { ends.push_back(timeline_.steps); }
  int64_t num_kv_blocks() const override { return inner_.num_kv_blocks(); }
  int64_t block_size() const override { return inner_.block_size(); }
  const char* name() const override { return "timeline"; }
  std::vector<int64_t> ends;  // the step count at each end_of_work

 private:
  ModelRunner& inner_;
  DeviceTimeline timeline_;
};

TEST(Engine, TellsTheRunnerWhenItRunsOutOfWork) {
  const Qwen3Weights& w = small_model();
  cpu::CpuRunner cpu(w, 64, 16);
  TimelineRunner runner(cpu);
  Engine engine(EngineConfig{}, w.config(), runner, nullptr);
  EXPECT_FALSE(cpu.device_timeline().has_value());  // no device on the CPU
  auto request = [](int32_t first, int64_t max_tokens) {
    EngineRequest r;
    r.prompt = {first, 2, 3, 4};
    r.params.temperature = 0;
    r.params.max_tokens = max_tokens;
    r.params.ignore_eos = true;
    return r;
  };
  engine.add(1, request(1, 5));
  int64_t steps = 0;
  while (engine.has_work()) {
    engine.step();
    ++steps;
    if (steps == 2) engine.add(2, request(7, 6));  // joins while the first runs
  }
  ASSERT_TRUE(engine.stats().device.has_value());
  EXPECT_EQ(engine.stats().device->steps, steps);
  EXPECT_EQ(runner.ends, std::vector<int64_t>{steps});  // once, after the last step
  engine.add(3, request(9, 2));
  while (engine.has_work()) engine.step();
  EXPECT_EQ(runner.ends.size(), 2u);
  EXPECT_EQ(runner.ends.back(), engine.stats().device->steps);
  // Aborting the only request between steps leaves the engine without work too.
  engine.add(4, request(3, 50));
  engine.step();
  engine.abort(4);
  EXPECT_FALSE(engine.has_work());
  EXPECT_EQ(runner.ends.size(), 3u);
}

// Greedy tokens of one job with an attention window by the unpaged forward: the whole
// sequence's K/V in one contiguous KvCache (nothing released), attention masked to what
// the window sees.
std::vector<int32_t> windowed_alone(const Job& j, const AttentionWindow& w) {
  const Qwen3Weights& weights = small_model();
  const cpu::CpuModel m(weights);
  const int64_t n = j.params.max_tokens;
  cpu::KvCache cache(weights.config(), static_cast<int64_t>(j.prompt.size()) + n);
  std::vector<float> logits = m.forward(j.prompt, cache, cpu::LogitsMode::kLast, nullptr, w);
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = argmax_lowest_id(logits);
    out.push_back(t);
    if (i + 1 < n) logits = m.forward(std::span(&t, 1), cache, cpu::LogitsMode::kLast, nullptr, w);
  }
  return out;
}

// Requests longer than the whole KV pool run with an attention window (blocks out of
// sight are released as they go), with chunked prefill and preemptions (recomputed over
// their cached blocks), and give the greedy tokens of the unpaged forward with the same
// window.
// Without the window the pool caps the context at 160 tokens.
TEST(Engine, AttentionWindowRunsPastThePoolAndMatchesTheUnpagedForward) {
  const AttentionWindow window{24, 4};
  std::mt19937 rng(9);
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) {
    Job j;
    for (int t = 0; t < 60 + 30 * i; ++t) j.prompt.push_back(static_cast<int32_t>(rng() % 512));
    j.params.temperature = 0;
    j.params.max_tokens = 90;
    j.params.ignore_eos = true;
    j.arrive_step = i;
    jobs.push_back(j);
  }
  EngineSetup s;
  s.num_blocks = 21;  // 20 blocks of 8 tokens
  s.block_size = 8;
  s.budget = 16;
  s.max_num_seqs = 4;  // four hold up to 32 blocks at once: preemptions
  s.window = window;
  const Result r = run_jobs(jobs, s);
  EXPECT_GT(r.stats.preemptions_total, 0);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(r.tokens.at(i).at(0), windowed_alone(jobs[i], window)) << "request " << i;
  }
  // The same pool without a window: the context is capped by the pool.
  const Qwen3Weights& w = small_model();
  cpu::CpuRunner runner(w, s.num_blocks, s.block_size);
  EngineConfig c;
  c.max_num_batched_tokens = s.budget;
  c.max_num_seqs = s.max_num_seqs;
  EXPECT_EQ(Engine(c, w.config(), runner, nullptr).config().max_model_len, 160);
  c.attention_window = window;
  EXPECT_EQ(Engine(c, w.config(), runner, nullptr).config().max_model_len, 1024);
  c.attention_window = {0, 4};  // sinks without a window
  EXPECT_THROW(Engine(c, w.config(), runner, nullptr), Error);
}

TEST(Engine, RejectsRequestsThatCannotFit) {
  const Qwen3Weights& w = small_model();
  cpu::CpuRunner runner(w, 64, 16);  // 1008 tokens of KV
  EngineConfig c;
  Engine engine(c, w.config(), runner, nullptr);
  EXPECT_EQ(engine.config().max_model_len, 1008);  // capped by the pool, not the model (1024)
  EngineRequest r;
  r.prompt.assign(1000, 1);
  r.params.max_tokens = 9;
  try {
    engine.validate(r);
    FAIL() << "expected a context length error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kContextLength);
    EXPECT_NE(std::string(e.what()).find("1008"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("1009"), std::string::npos) << e.what();
  }
  r.params.max_tokens = 8;
  EXPECT_NO_THROW(engine.validate(r));
  r.prompt[0] = 512;
  EXPECT_THROW(engine.validate(r), Error);  // outside the vocabulary
  EngineConfig too_long;
  too_long.max_model_len = 2000;
  EXPECT_THROW(Engine(too_long, w.config(), runner, nullptr), Error);
}

// A runner that blocks until released: makes the async queue bound testable.
class GatedRunner final : public ModelRunner {
 public:
  explicit GatedRunner(ModelRunner& inner) : inner_(inner) {}
  RunnerOutput execute(const SchedulerOutput& step) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    return inner_.execute(step);
  }
  int64_t num_kv_blocks() const override { return inner_.num_kv_blocks(); }
  int64_t block_size() const override { return inner_.block_size(); }
  const char* name() const override { return "gated"; }
  void wait_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  ModelRunner& inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false, open_ = false;
};

TEST(AsyncEngine, QueueBoundRejectsThenEveryRequestFinishes) {
  const Qwen3Weights& w = small_model();
  cpu::CpuRunner cpu(w, 256, 16);
  auto gated = std::make_unique<GatedRunner>(cpu);
  GatedRunner* gate = gated.get();
  EngineConfig c;
  c.max_queued_requests = 3;
  c.max_num_seqs = 1;
  c.max_num_batched_tokens = 64;
  AsyncEngine engine(c, std::move(gated), nullptr, w.config());
  struct OpenOnExit {
    GatedRunner* g;
    ~OpenOnExit() { g->open(); }  // a failed assertion must not leave the thread stuck
  } open_on_exit{gate};
  std::mutex mu;
  std::condition_variable cv;
  int finished = 0;
  std::map<uint64_t, int64_t> tokens;
  auto on_output = [&](RequestOutput o) {
    std::lock_guard lock(mu);
    for (const auto& d : o.choices)
      tokens[o.request_id] += static_cast<int64_t>(d.token_ids.size());
    if (o.finished) {
      ++finished;
      cv.notify_all();
    }
  };
  EngineRequest r;
  r.prompt = {1, 2, 3};
  r.params.temperature = 0;
  r.params.max_tokens = 4;
  r.params.ignore_eos = true;
  engine.submit(r, on_output);
  gate->wait_entered();  // the first request is running and the engine thread is stuck
  for (int i = 0; i < 3; ++i) engine.submit(r, on_output);
  try {
    engine.submit(r, on_output);
    FAIL() << "expected overload";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOverloaded);
  }
  const uint64_t victim = 3;
  engine.abort(victim);
  gate->open();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished == 4; }));
  }
  EXPECT_EQ(tokens[1], 4);
  EXPECT_EQ(tokens[2], 4);
  EXPECT_EQ(tokens[4], 4);
  EXPECT_EQ(engine.stats().requests_rejected_total, 1);
  engine.shutdown(true);
  EXPECT_DOUBLE_EQ(engine.stats().kv_usage, 0.0);
  EXPECT_THROW(engine.submit(r, on_output), Error);  // no longer accepting
}

TEST(AsyncEngine, ManyThreadsSubmitAndAllComplete) {
  const Qwen3Weights& w = small_model();
  EngineConfig c;
  AsyncEngine engine(c, std::make_unique<cpu::CpuRunner>(w, 256, 16), nullptr, w.config());
  std::atomic<int> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        EngineRequest r;
        r.prompt = {t + 1, i + 1, 7};
        r.params.temperature = 0;
        r.params.max_tokens = 3;
        engine.submit(r, [&](RequestOutput o) { done += o.finished; });
      }
    });
  }
  for (auto& th : threads) th.join();
  engine.shutdown(true);  // drains: everything submitted completes
  EXPECT_EQ(done.load(), 20);
  EXPECT_EQ(engine.stats().requests_finished_total, 20);
}

}  // namespace
}  // namespace qwen3
