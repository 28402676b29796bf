// What goes into the engine (a tokenized request) and what comes out (per-step deltas).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "sched/batch.h"
#include "sched/sampling_params.h"

namespace qwen3 {

struct EngineConfig {
  int64_t max_model_len = 0;              // 0 = the model's max_position_embeddings
  int64_t max_num_seqs = 256;             // running sequences per step
  int64_t max_num_batched_tokens = 2048;  // tokens per step (prefill chunks + decodes)
  int64_t max_queued_requests = 4096;     // waiting requests beyond this are rejected
  bool enable_prefix_caching = true;
  AttentionWindow attention_window;    // sliding window + sinks (sched/batch.h); off: full
  std::vector<int64_t> eos_token_ids;  // from generation_config.json / config.json
};

struct EngineRequest {
  std::vector<int32_t> prompt;  // token ids, non-empty
  SamplingParams params;
  int64_t priority = 0;  // lower runs first (vLLM's rule); ties by arrival
};

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error", null

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};

// News of one of the request's n choices since the previous output.
struct ChoiceDelta {
  int64_t index = 0;
  std::vector<int32_t> token_ids;      // new token ids
  std::string text;                    // new text; held back while it may start a stop string
  std::vector<TokenLogprob> logprobs;  // one per new token when logprobs >= 0
  FinishReason finish_reason = FinishReason::kNone;
  std::string stop_reason;  // the stop string matched, or the stop token id
};

struct RequestOutput {
  uint64_t request_id = 0;
  std::vector<ChoiceDelta> choices;  // only choices with news
  bool finished = false;             // every choice has finished (last output)
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prefix-cache hits (prompt_tokens_details.cached_tokens)
  int64_t completion_tokens = 0;     // all choices, so far
  std::optional<Error> error;        // set with finished when the request failed
};

// Engine-wide counters and gauges for /metrics and logs.
struct EngineStats {
  int64_t running = 0;
  int64_t waiting = 0;
  double kv_usage = 0;  // used blocks / all blocks, 0..1
  int64_t kv_blocks_total = 0;
  int64_t kv_tokens_capacity = 0;
  int64_t prefix_queries = 0;  // prompt tokens looked up in the prefix cache
  int64_t prefix_hits = 0;     // of those, found
  int64_t prompt_tokens_total = 0;
  int64_t generation_tokens_total = 0;
  int64_t preemptions_total = 0;
  int64_t requests_finished_total = 0;
  int64_t requests_rejected_total = 0;
  int64_t steps_total = 0;
  std::optional<DeviceTimeline> device;  // the runner's (ModelRunner::device_timeline)
};

}  // namespace qwen3
