// `qwen3 bench throughput` and `qwen3 bench latency`: the engine in-process, no HTTP
// (vLLM's `vllm bench throughput` / `vllm bench latency`).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/engine_builder.h"

namespace qwen3::bench {

// One request of a batch, times in seconds from the batch's first submit.
struct EngineRequestTiming {
  double first_token_s = 0;
  double finish_s = 0;
  int64_t prompt_tokens = 0;
  int64_t output_tokens = 0;
  std::string error;  // empty when it finished normally
};

// Submits every prompt at once (ignore_eos, temperature 1, top_p 1, max_tokens[i]) and
// waits until all have finished.
std::vector<EngineRequestTiming> run_engine_batch(AsyncEngine& engine,
                                                  const std::vector<std::vector<int32_t>>& prompts,
                                                  const std::vector<int64_t>& max_tokens,
                                                  uint64_t seed);

struct ThroughputConfig {
  EngineOptions engine;
  int64_t num_prompts = 1000;
  int64_t input_len = 1024;
  int64_t output_len = 128;
  double range_ratio = 0;
  uint64_t seed = 0;
  std::string output_json;
};

// Prints vLLM's throughput lines and a table; writes the JSON (vLLM's keys: elapsed_time,
// num_requests, total_num_tokens, requests_per_second, tokens_per_second, plus ours).
int run_bench_throughput(const ThroughputConfig& config);

struct LatencyConfig {
  EngineOptions engine;
  int64_t input_len = 32;
  int64_t output_len = 128;
  int64_t batch_size = 1;
  int64_t num_iters_warmup = 3;
  int64_t num_iters = 10;
  uint64_t seed = 0;
  std::string output_json;
};

// Per iteration: a fresh batch of random prompts; latency = submit -> all finished,
// prefill = submit -> every request's first token, decode = the rest.
int run_bench_latency(const LatencyConfig& config);

}  // namespace qwen3::bench
