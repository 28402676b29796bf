// One sequence as the scheduler sees it: tokens and how many of them are in the KV
// cache. There are no phases: a step runs min(remaining, budget) of its tokens, so
// chunked prefill, decoding, prefix hits and recompute after preemption are one rule.
#pragma once

#include <cstdint>
#include <vector>

namespace qwen3 {

enum class SeqStatus { kWaiting, kRunning, kFinished };

struct Sequence {
  uint64_t id = 0;
  std::vector<int32_t> tokens;  // prompt, then generated tokens
  int64_t prompt_len = 0;
  int64_t num_computed = 0;  // tokens[0, num_computed) have KV in the cache
  int64_t max_len = 0;       // prompt_len + max new tokens (<= max_model_len)
  int64_t priority = 0;      // lower first; ties by arrival
  uint64_t arrival = 0;      // submission order
  uint64_t wait_for = 0;     // if != 0: runnable once that sequence's prompt is cached
  SeqStatus status = SeqStatus::kWaiting;
  int64_t cached_prompt_tokens = -1;  // prefix-cache hit at first admission (-1: not yet)
  int64_t num_preemptions = 0;

  int64_t num_output() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  int64_t remaining() const { return static_cast<int64_t>(tokens.size()) - num_computed; }
};

}  // namespace qwen3
