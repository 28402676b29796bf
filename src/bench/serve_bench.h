// The load generator of `qwen3 bench serve`: sends the prompts to an OpenAI-compatible
// server at Poisson arrival times, at most max_concurrency at once, streams every reply
// and records per request what `vllm bench serve` records (TTFT, chunk gaps, E2E, text,
// usage). One thread: the HttpClient's event loop.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "bench/dataset.h"
#include "bench/http_client.h"
#include "bench/openai_stream.h"

namespace qwen3::text {
class Tokenizer;
}

namespace qwen3::bench {

struct RequestResult {
  bool success = false;
  std::string error;           // why it failed (HTTP status and body, network, stream error)
  int64_t prompt_len = 0;      // tokens, from the dataset
  int64_t output_tokens = -1;  // usage.completion_tokens; -1 = not reported (see below)
  bool usage_reported = false;
  int64_t usage_prompt_tokens = -1;  // usage.prompt_tokens as the server counted; -1 = none
  double start_s = 0;                // when it was sent, seconds after the benchmark start
  double ttft_s = 0;                 // send -> first chunk carrying generated text
  double latency_s = 0;              // send -> end of the response body (E2E)
  std::vector<double> itl_s;         // gaps between consecutive chunks carrying text
  std::string generated_text;
};

// Progress callback: finished (ok or not) and failed requests so far.
using ProgressFn =
    std::function<void(int64_t done, int64_t failed, int64_t total, double elapsed_s)>;

struct ServeRunOptions {
  std::string endpoint = "/v1/completions";
  RequestSpec spec;
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s, Poisson
  int64_t max_concurrency = 0;                                    // 0 = unlimited
  uint64_t seed = 0;
  ProgressFn on_progress;  // called every progress_interval_s and once at the end
  double progress_interval_s = 0.2;
};

struct ServeRun {
  std::vector<RequestResult> results;  // in prompt order
  double duration_s = 0;               // first arrival -> last request finished
  int64_t max_in_flight = 0;           // most requests open at once
};

ServeRun run_serve_bench(HttpClient& client, const std::vector<BenchPrompt>& prompts,
                         const ServeRunOptions& options);

// Requests whose stream carried no usage get output_tokens from re-tokenizing their text
// (vLLM's fallback).
void count_missing_output_tokens(std::vector<RequestResult>& results, const text::Tokenizer& tok);

}  // namespace qwen3::bench
