// Prometheus text exposition of the server's metrics, under vLLM's names so existing
// dashboards work: vllm:num_requests_running / _waiting, vllm:kv_cache_usage_perc,
// vllm:prefix_cache_queries / _hits, vllm:prompt_tokens / vllm:generation_tokens,
// vllm:request_success{finished_reason}, and the TTFT, inter-token and end-to-end latency
// histograms. Thread-safe: observe() from any connection thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_types.h"

namespace qwen3::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // "# HELP/# TYPE" + _bucket{le=...} (cumulative), _sum, _count lines.
  void render(std::string& out, std::string_view name, std::string_view help,
              std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last = +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  Histogram time_to_first_token;  // seconds from arrival to the first token
  Histogram inter_token_latency;  // seconds between a request's successive outputs
  Histogram e2e_request_latency;  // seconds from arrival to the last output
  Histogram request_prompt_tokens;
  Histogram request_generation_tokens;

  void count_finished(FinishReason reason);

  // Engine requests submitted by this server whose final output has not been handled yet
  // (qwen3:num_requests_in_engine). Unlike the engine's gauges, which are refreshed after
  // each step, this moves at submit and at the final output, so 0 means every request
  // (aborted ones included) is done and its blocks are back.
  std::atomic<int64_t> requests_in_engine{0};

  // The whole /metrics page; `stats` from the engine (zeros while loading).
  std::string render(const EngineStats& stats, std::string_view model_name) const;

 private:
  std::array<std::atomic<uint64_t>, 5> finished_{};  // by FinishReason
};

}  // namespace qwen3::server
