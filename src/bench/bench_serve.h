// `qwen3 bench serve` end to end: resolve the model name and tokenizer, build the
// dataset, run the load, print the table, write the JSON result and the SVG plot.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/dataset.h"

namespace qwen3::bench {

struct ServeBenchConfig {
  std::string base_url = "http://127.0.0.1:8000";
  std::string endpoint = "/v1/completions";
  std::string model;    // empty: the first id of GET /v1/models
  std::string api_key;  // empty: $OPENAI_API_KEY if set
  std::string tokenizer_dir;
  std::string dataset_name = "random";  // "random" or "jsonl"
  std::string dataset_path;
  RandomDatasetOptions random;  // num_prompts, lengths, seed (also for jsonl counts)
  std::string request_rate = "inf";
  int64_t max_concurrency = 0;  // 0 = unlimited
  bool ignore_eos = false;
  bool keep_alive = true;
  double timeout_s = 600;
  std::vector<double> percentiles{90, 99};
  std::string result_file, plot_file;
  int progress = -1;  // 1 on, 0 off, -1 when stderr is a TTY
};

// Tokenizer folder: `flag` if given, else the first of `candidates` holding
// tokenizer.json, else this source tree's third_party/tokenizer/qwen3. Throws kIo naming
// what was tried.
std::string resolve_tokenizer_dir(const std::string& flag,
                                  const std::vector<std::string>& candidates);

// "inf" -> +inf, else a number > 0 (kInvalidArgument otherwise).
double parse_request_rate(const std::string& text);

// "90,99" -> {90, 99}; each in (0, 100].
std::vector<double> parse_percentiles(const std::string& text);

// Exit code 0 when at least one request succeeded. Throws Error: kUnavailable when the
// server cannot be reached (message names the URL) or every request failed (first error).
int run_bench_serve(const ServeBenchConfig& config);

}  // namespace qwen3::bench
