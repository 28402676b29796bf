#include "bench/engine_bench.h"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>

#include "bench/dataset.h"
#include "bench/report.h"
#include "bench/stats.h"
#include "core/error.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Shared by the callbacks (engine thread) and the waiting caller.
struct BatchState {
  std::mutex mu;
  std::condition_variable cv;
  size_t remaining = 0;
  std::vector<EngineRequestTiming> t;
};

void on_output(BatchState& s, size_t i, Clock::time_point t0, const RequestOutput& o) {
  const double now = seconds_since(t0);
  std::lock_guard lock(s.mu);
  EngineRequestTiming& x = s.t[i];
  if (x.first_token_s < 0 && o.completion_tokens > 0) x.first_token_s = now;
  if (!o.finished) return;
  x.finish_s = now;
  x.output_tokens = o.completion_tokens;
  if (x.first_token_s < 0) x.first_token_s = now;
  if (o.error) {
    x.error = o.error->what();
  } else if (!o.choices.empty() && o.choices.back().finish_reason == FinishReason::kAbort) {
    x.error = "aborted";
  }
  --s.remaining;
  s.cv.notify_all();
}

}  // namespace

std::vector<EngineRequestTiming> run_engine_batch(AsyncEngine& engine,
                                                  const std::vector<std::vector<int32_t>>& prompts,
                                                  const std::vector<int64_t>& max_tokens,
                                                  uint64_t seed) {
  auto s = std::make_shared<BatchState>();
  s->t.resize(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    s->t[i].first_token_s = -1;
    s->t[i].prompt_tokens = static_cast<int64_t>(prompts[i].size());
  }
  std::vector<uint64_t> ids;
  const Clock::time_point t0 = Clock::now();
  try {
    for (size_t i = 0; i < prompts.size(); ++i) {
      EngineRequest r;
      r.prompt = prompts[i];
      r.params.temperature = 1.0;
      r.params.top_p = 1.0;
      r.params.ignore_eos = true;
      r.params.max_tokens = max_tokens[i];
      r.params.seed = seed + i;
      {
        std::lock_guard lock(s->mu);
        ++s->remaining;
      }
      try {
        ids.push_back(
            engine.submit(std::move(r), [s, i, t0](RequestOutput o) { on_output(*s, i, t0, o); }));
      } catch (...) {
        std::lock_guard lock(s->mu);
        --s->remaining;
        throw;
      }
    }
  } catch (...) {
    for (uint64_t id : ids) engine.abort(id);  // then wait for them: callbacks hold `s`
    std::unique_lock lock(s->mu);
    s->cv.wait(lock, [&] { return s->remaining == 0; });
    throw;
  }
  std::unique_lock lock(s->mu);
  s->cv.wait(lock, [&] { return s->remaining == 0; });
  return s->t;
}

namespace {

// Random ids below min(vocab, 10000), vLLM's dummy prompts for `bench latency`.
std::vector<std::vector<int32_t>> dummy_prompts(int64_t n, int64_t len, int64_t vocab,
                                                uint64_t seed) {
  std::mt19937_64 gen(seed);
  const uint64_t limit = static_cast<uint64_t>(std::min<int64_t>(vocab, 10000));
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(n));
  for (auto& p : out) {
    p.resize(static_cast<size_t>(len));
    for (int32_t& id : p) id = static_cast<int32_t>(gen() % limit);
  }
  return out;
}

void check_positive(int64_t v, const char* flag) {
  if (v < 1) QWEN3_THROW(ErrorCode::kInvalidArgument, "{} must be >= 1, got {}", flag, v);
}

void log_engine(const EngineBundle& b, const EngineOptions& o) {
  const ModelConfig& c = b.model_config();
  const AttentionWindow& w = b.engine->config().attention_window;
  fmt::print(stderr,
             "engine: {} ({} layers, hidden {}, {}) loaded in {:.2f} s; KV cache {} blocks x {} "
             "= {} tokens; max_model_len {}; max_num_seqs {}; max_num_batched_tokens {}; "
             "tensor_parallel_size {}{}\n",
             o.model_dir, c.num_hidden_layers, c.hidden_size, c.quant.fp8 ? "fp8" : "bf16",
             b.load_seconds, b.kv_blocks, o.block_size, b.kv_tokens,
             b.engine->config().max_model_len, o.max_num_seqs, o.max_num_batched_tokens,
             o.tensor_parallel_size,
             w.on() ? fmt::format("; attention window {} + {} sinks", w.window, w.sinks) : "");
}

std::string f2(double v) { return fmt::format("{:.2f}", v); }

// The prompts `bench serve` sends for the same flags and seed, as token ids; random ids
// when the model folder has no tokenizer.
std::vector<std::vector<int32_t>> throughput_prompts(const EngineBundle& b,
                                                     const ThroughputConfig& c,
                                                     std::vector<int64_t>& max_tokens) {
  if (!b.tokenizer) {
    max_tokens.assign(static_cast<size_t>(c.num_prompts), c.output_len);
    return dummy_prompts(c.num_prompts, c.input_len, b.model_config().vocab_size, c.seed);
  }
  std::vector<std::vector<int32_t>> prompts;
  for (const BenchPrompt& p : random_dataset(
           *b.tokenizer, {c.num_prompts, c.input_len, c.output_len, c.range_ratio, c.seed})) {
    prompts.push_back(b.tokenizer->encode(p.prompt));
    max_tokens.push_back(p.output_len);
  }
  return prompts;
}

}  // namespace

int run_bench_throughput(const ThroughputConfig& c) {
  check_positive(c.num_prompts, "--num-prompts");
  check_positive(c.input_len, "--input-len");
  check_positive(c.output_len, "--output-len");
  EngineOptions eo = c.engine;
  eo.max_queued_requests = std::max(eo.max_queued_requests, c.num_prompts);
  const EngineBundle b = build_engine(eo);
  log_engine(b, eo);
  std::vector<int64_t> max_tokens;
  const auto prompts = throughput_prompts(b, c, max_tokens);
  const auto t = run_engine_batch(*b.engine, prompts, max_tokens, c.seed);
  double elapsed = 0;
  int64_t in = 0, out = 0, failed = 0;
  for (const EngineRequestTiming& x : t) {
    elapsed = std::max(elapsed, x.finish_s);
    in += x.prompt_tokens;
    out += x.output_tokens;
    failed += !x.error.empty();
  }
  const double n = static_cast<double>(t.size());
  fmt::print("Throughput: {:.2f} requests/s, {:.2f} total tokens/s, {:.2f} output tokens/s\n",
             n / elapsed, static_cast<double>(in + out) / elapsed,
             static_cast<double>(out) / elapsed);
  fmt::print("Total num prompt tokens:  {}\nTotal num output tokens:  {}\n", in, out);
  fmt::print(
      "{}",
      format_result_block(
          "Offline Throughput Result",
          {{"Requests (failed):", fmt::format("{} ({})", t.size(), failed)},
           {"Elapsed (s):", f2(elapsed)},
           {"Total input tokens:", std::to_string(in)},
           {"Total generated tokens:", std::to_string(out)},
           {"Request throughput (req/s):", f2(n / elapsed)},
           {"Input token throughput (tok/s):", f2(static_cast<double>(in) / elapsed)},
           {"Output token throughput (tok/s):", f2(static_cast<double>(out) / elapsed)},
           {"Total Token throughput (tok/s):", f2(static_cast<double>(in + out) / elapsed)}}));
  if (!c.output_json.empty()) {
    const json j = {{"elapsed_time", elapsed},
                    {"num_requests", t.size()},
                    {"failed", failed},
                    {"total_num_tokens", in + out},
                    {"total_input_tokens", in},
                    {"total_output_tokens", out},
                    {"requests_per_second", n / elapsed},
                    {"tokens_per_second", static_cast<double>(in + out) / elapsed},
                    {"output_tokens_per_second", static_cast<double>(out) / elapsed},
                    {"model", eo.model_dir},
                    {"tensor_parallel_size", eo.tensor_parallel_size},
                    {"kv_cache_tokens", b.kv_tokens}};
    write_text_file(c.output_json, j.dump(2) + "\n", "--output-json");
  }
  if (failed > 0) {
    for (const EngineRequestTiming& x : t) {
      if (x.error.empty()) continue;
      QWEN3_THROW(ErrorCode::kInternal, "{} of {} requests failed; the first: {}", failed, t.size(),
                  x.error);
    }
  }
  return 0;
}

namespace {

struct IterTiming {
  double latency = 0, prefill = 0, decode = 0;
};

IterTiming run_latency_iteration(const EngineBundle& b, const LatencyConfig& c, uint64_t seed) {
  const auto prompts = dummy_prompts(c.batch_size, c.input_len, b.model_config().vocab_size, seed);
  const auto t = run_engine_batch(*b.engine, prompts,
                                  std::vector<int64_t>(prompts.size(), c.output_len), seed);
  IterTiming it;
  for (const EngineRequestTiming& x : t) {
    if (!x.error.empty()) QWEN3_THROW(ErrorCode::kInternal, "request failed: {}", x.error);
    it.latency = std::max(it.latency, x.finish_s);
    it.prefill = std::max(it.prefill, x.first_token_s);
  }
  it.decode = it.latency - it.prefill;
  return it;
}

}  // namespace

int run_bench_latency(const LatencyConfig& c) {
  check_positive(c.input_len, "--input-len");
  check_positive(c.output_len, "--output-len");
  check_positive(c.batch_size, "--batch-size");
  check_positive(c.num_iters, "--num-iters");
  EngineOptions eo = c.engine;
  eo.max_num_seqs = std::max(eo.max_num_seqs, c.batch_size);
  const EngineBundle b = build_engine(eo);
  log_engine(b, eo);
  for (int64_t i = 0; i < c.num_iters_warmup; ++i) {
    run_latency_iteration(b, c, c.seed + 1000003 * static_cast<uint64_t>(i + 1));
  }
  std::vector<double> lat, pre, dec;
  const std::optional<DeviceTimeline> dev0 = b.engine->stats().device;
  for (int64_t i = 0; i < c.num_iters; ++i) {
    const IterTiming it = run_latency_iteration(b, c, c.seed + static_cast<uint64_t>(i));
    lat.push_back(it.latency);
    pre.push_back(it.prefill);
    dec.push_back(it.decode);
  }
  const std::vector<double> ps = {10, 25, 50, 75, 90, 99};
  const Summary sl = summarize(lat, ps), sp = summarize(pre, {}), sd = summarize(dec, {});
  const double steps = static_cast<double>(c.output_len - 1);
  const double bs = static_cast<double>(c.batch_size);
  fmt::print("Avg latency: {} seconds\n", sl.mean);
  for (const auto& [p, v] : sl.percentiles)
    fmt::print("{:.0f}% percentile latency: {} seconds\n", p, v);
  std::vector<std::pair<std::string, std::string>> rows = {
      {"Batch size / input len / output len:",
       fmt::format("{} / {} / {}", c.batch_size, c.input_len, c.output_len)},
      {"Iterations (warmup):", fmt::format("{} ({})", c.num_iters, c.num_iters_warmup)},
      {"Avg latency (s):", fmt::format("{:.4f}", sl.mean)},
      {"Median latency (s):", fmt::format("{:.4f}", sl.median)},
      {"Avg prefill, submit -> first token (ms):", f2(sp.mean * 1e3)},
      {"Prefill throughput (tok/s):", f2(bs * static_cast<double>(c.input_len) / sp.mean)},
      {"Avg decode time per step (ms):", steps > 0 ? f2(sd.mean / steps * 1e3) : "-"},
      {"Decode throughput (tok/s):", steps > 0 ? f2(bs * steps / sd.mean) : "-"}};
  // The device's share of the timed iterations' steps (CUDA): busy per step, and idle
  // between one step's last GPU operation and the next one's first (host time per step).
  const std::optional<DeviceTimeline> dev1 = b.engine->stats().device;
  std::optional<DeviceTimeline> dev;
  if (dev0 && dev1 && dev1->steps > dev0->steps) {
    dev = DeviceTimeline{dev1->steps - dev0->steps, dev1->busy_ms - dev0->busy_ms,
                         dev1->idle_ms - dev0->idle_ms};
    rows.emplace_back("GPU busy per step (ms):",
                      fmt::format("{:.3f}", dev->busy_ms / static_cast<double>(dev->steps)));
    rows.emplace_back("GPU idle between steps (%):",
                      f2(100 * dev->idle_ms / (dev->idle_ms + dev->busy_ms)));
  }
  fmt::print("{}", format_result_block("Offline Latency Result", rows));
  if (!c.output_json.empty()) {
    json pct = json::object();
    for (const auto& [p, v] : sl.percentiles) pct[fmt::format("{:.0f}", p)] = v;
    json j = {{"avg_latency", sl.mean},
              {"latencies", lat},
              {"percentiles", pct},
              {"prefill_latencies", pre},
              {"decode_latencies", dec},
              {"avg_prefill_latency", sp.mean},
              {"avg_decode_time_per_step", steps > 0 ? sd.mean / steps : 0.0},
              {"batch_size", c.batch_size},
              {"input_len", c.input_len},
              {"output_len", c.output_len},
              {"model", eo.model_dir},
              {"tensor_parallel_size", eo.tensor_parallel_size}};
    if (dev) {
      j["gpu_steps"] = dev->steps;
      j["gpu_busy_ms_per_step"] = dev->busy_ms / static_cast<double>(dev->steps);
      j["gpu_idle_pct"] = 100 * dev->idle_ms / (dev->idle_ms + dev->busy_ms);
    }
    write_text_file(c.output_json, j.dump(2) + "\n", "--output-json");
  }
  return 0;
}

}  // namespace qwen3::bench
