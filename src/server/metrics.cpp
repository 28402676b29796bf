#include "server/metrics.h"

#include <fmt/core.h>

#include <algorithm>

namespace qwen3::server {
namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void gauge(std::string& out, std::string_view name, std::string_view help, std::string_view labels,
           double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{}{{{}}} {}\n", name, help, name, name, labels,
                     value);
}

// prometheus_client's counter exposition: TYPE without the suffix, samples with "_total".
void counter(std::string& out, std::string_view name, std::string_view help,
             std::string_view labels, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{}_total{{{}}} {}\n", name, help, name, name,
                     labels, value);
}

std::vector<double> token_buckets() {
  std::vector<double> b;
  for (double x = 1; x <= 1e6; x *= 10) {
    for (double m : {1.0, 2.0, 5.0}) b.push_back(x * m);
  }
  return b;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view help,
                       std::string_view labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? fmt::format("{}", bounds_[i]) : "+Inf";
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  out +=
      fmt::format("{}_sum{{{}}} {}\n{}_count{{{}}} {}\n", name, labels, sum_, name, labels, count_);
}

// Bucket bounds are vLLM's, so dashboards built for vLLM read the same quantiles.
ServerMetrics::ServerMetrics()
    : time_to_first_token({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
                           1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
      inter_token_latency({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
                           5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      e2e_request_latency({0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                           30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
      request_prompt_tokens(token_buckets()),
      request_generation_tokens(token_buckets()) {}

void ServerMetrics::count_finished(FinishReason reason) {
  const auto i = static_cast<size_t>(reason);
  if (i < finished_.size()) finished_[i].fetch_add(1, std::memory_order_relaxed);
}

std::string ServerMetrics::render(const EngineStats& s, std::string_view model_name) const {
  const std::string l = fmt::format("model_name=\"{}\"", escape_label(model_name));
  std::string out;
  gauge(out, "vllm:num_requests_running", "Number of requests in model execution batches.", l,
        static_cast<double>(s.running));
  gauge(out, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", l,
        static_cast<double>(s.waiting));
  gauge(out, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", l,
        s.kv_usage);
  counter(out, "vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of tokens.",
          l, static_cast<double>(s.prefix_queries));
  counter(out, "vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of tokens.", l,
          static_cast<double>(s.prefix_hits));
  counter(out, "vllm:prompt_tokens", "Number of prefill tokens processed.", l,
          static_cast<double>(s.prompt_tokens_total));
  counter(out, "vllm:generation_tokens", "Number of generation tokens processed.", l,
          static_cast<double>(s.generation_tokens_total));
  counter(out, "vllm:num_preemptions", "Cumulative number of preemptions from the engine.", l,
          static_cast<double>(s.preemptions_total));
  out +=
      "# HELP vllm:request_success Count of successfully processed requests.\n"
      "# TYPE vllm:request_success counter\n";
  for (FinishReason r :
       {FinishReason::kStop, FinishReason::kLength, FinishReason::kAbort, FinishReason::kError}) {
    out += fmt::format("vllm:request_success_total{{{},finished_reason=\"{}\"}} {}\n", l,
                       finish_reason_name(r), finished_[static_cast<size_t>(r)].load());
  }
  gauge(out, "qwen3:kv_cache_capacity_tokens", "Tokens the KV cache holds.", l,
        static_cast<double>(s.kv_tokens_capacity));
  gauge(out, "qwen3:num_requests_in_engine",
        "Requests submitted to the engine whose final output was not handled yet.", l,
        static_cast<double>(requests_in_engine.load()));
  time_to_first_token.render(out, "vllm:time_to_first_token_seconds",
                             "Histogram of time to first token in seconds.", l);
  inter_token_latency.render(out, "vllm:inter_token_latency_seconds",
                             "Histogram of inter-token latency in seconds.", l);
  e2e_request_latency.render(out, "vllm:e2e_request_latency_seconds",
                             "Histogram of e2e request latency in seconds.", l);
  request_prompt_tokens.render(out, "vllm:request_prompt_tokens",
                               "Number of prefill tokens processed.", l);
  request_generation_tokens.render(out, "vllm:request_generation_tokens",
                                   "Number of generation tokens processed.", l);
  return out;
}

}  // namespace qwen3::server
