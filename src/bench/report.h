// Results of `qwen3 bench serve` as `vllm bench serve` reports them: the metrics (its
// definitions), the human table, the JSON result file (its key names, plus a few of
// ours), and the SVG latency plot.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "bench/serve_bench.h"
#include "bench/stats.h"

namespace qwen3::bench {

struct ServeMetrics {
  int64_t completed = 0;
  int64_t failed = 0;
  int64_t total_input_tokens = 0;   // successful requests only
  int64_t total_output_tokens = 0;  // successful requests only
  double duration_s = 0;
  double request_throughput = 0;      // completed / duration
  double input_throughput = 0;        // tokens/s
  double output_throughput = 0;       // tokens/s
  double total_token_throughput = 0;  // (input + output) / duration
  int64_t max_concurrent_requests = 0;
  // Milliseconds. TPOT = (E2E - TTFT) / (output_tokens - 1) over requests with more than
  // one output token; ITL = every gap between text-carrying chunks of every request.
  Summary ttft_ms, tpot_ms, itl_ms, e2el_ms;
};

// The latency samples of successful requests, in milliseconds.
struct LatencySamples {
  std::vector<double> ttft_ms, tpot_ms, itl_ms, e2el_ms;
};
LatencySamples latency_samples(const ServeRun& run);

// vLLM's calculate_metrics over successful requests. `percentiles` e.g. {90, 99}.
ServeMetrics compute_serve_metrics(const ServeRun& run, std::span<const double> percentiles);

// What was run, for the table header and the result file.
struct ServeRunInfo {
  std::string backend;  // "openai" / "openai-chat"
  std::string base_url, endpoint, model_id, tokenizer_id, dataset_name;
  int64_t num_prompts = 0;
  double request_rate = 0;  // +inf = all at once
  std::optional<int64_t> max_concurrency;
  uint64_t seed = 0;
  std::string date;  // "YYYYMMDD-HHMMSS", local time
};

std::string format_serve_table(const ServeMetrics& m, const ServeRunInfo& info);

// vLLM's result file: run info, the metrics under vLLM's keys (mean_ttft_ms,
// median_ttft_ms, std_ttft_ms, p99_ttft_ms, ..., e2el) and per-request arrays
// (input_lens, output_lens, ttfts, itls, generated_texts, errors); plus
// input_throughput, failed, max_concurrent_requests, usage_prompt_tokens (per request, as
// the server counted, null when not reported).
nlohmann::json serve_result_json(const ServeMetrics& m, const ServeRunInfo& info,
                                 const ServeRun& run);

// A vLLM-style block: the title centred in a 50-column '=' rule, "{name:<40} {value}"
// rows, a closing rule.
std::string format_result_block(const std::string& title,
                                const std::vector<std::pair<std::string, std::string>>& rows);

// Writes `text` to `path`; Error(kIo) naming `flag` and the path on failure.
void write_text_file(const std::string& path, const std::string& text, const char* flag);

// "99" -> "p99", "99.9" -> "p99.9" (vLLM's key spelling).
std::string percentile_key(double p);

// Hand-written SVG: one panel per metric (TTFT, TPOT, ITL, E2E) with its latency at
// every percentile 0..100 and the mean/median/p90/p99 marked.
std::string latency_plot_svg(const ServeRun& run, const ServeRunInfo& info);

}  // namespace qwen3::bench
