// The plain-data boundary between the scheduler and a backend's model runner
// (vLLM v1's SchedulerOutput / ModelRunnerOutput): the scheduler decides, the runner
// executes, neither sees the other's internals.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sched/sampling_params.h"

namespace qwen3 {

// Sliding-window attention with attention sinks (StreamingLLM's memory bound, without
// its position shift: keys keep the positions they were written at): the query at
// position p sees the keys at j < sinks and at p - window < j <= p. The scheduler frees
// KV blocks no later query can see (their block-table entries become the null block 0)
// and the runner never reads them. An approximation of the full causal attention the
// model was trained with, for contexts longer than the KV memory.
struct AttentionWindow {
  int64_t window = 0;  // 0: full causal attention
  int64_t sinks = 0;
  bool on() const { return window > 0; }
  // Whether the query at position p (>= j) sees the key at position j.
  bool sees(int64_t p, int64_t j) const { return !on() || j < sinks || j > p - window; }
};

// The key positions a query sees, ascending: [lo[i], hi[i]) for i < n (n = 1 or 2).
struct KeyRanges {
  int64_t lo[2], hi[2];
  int n;
  int64_t count() const { return (hi[0] - lo[0]) + (n == 2 ? hi[1] - lo[1] : 0); }
};
// Those of the query at position p: [0, p] without a window, else the sinks and the window.
inline KeyRanges visible_keys(int64_t p, const AttentionWindow& w) {
  const int64_t first = w.on() && p - w.window + 1 > 0 ? p - w.window + 1 : 0;
  const int64_t sinks = w.sinks < first ? w.sinks : first;
  if (sinks == 0) return {{first, 0}, {p + 1, 0}, 1};
  return {{0, first}, {sinks, p + 1}, 2};
}
// Throws kInvalidArgument naming the flag: a negative window or sink count, sinks
// without a window.
void check_attention_window(const AttentionWindow& w);

// One sequence's share of a step: run `tokens` at positions start_pos .. start_pos + n - 1.
struct ScheduledSeq {
  uint64_t seq_id = 0;
  std::vector<int32_t> tokens;       // [n] new tokens (a prefill chunk or one decode token)
  int64_t start_pos = 0;             // tokens of this sequence already in its KV blocks
  std::vector<int32_t> block_table;  // physical KV block ids covering [0, start_pos + n)
  bool want_logits = false;          // true when this step reaches the sequence's end
};

struct SchedulerOutput {
  std::vector<ScheduledSeq> seqs;  // in batch order; prefill chunks and decodes mixed
  int64_t total_tokens = 0;        // sum of tokens.size()
  std::vector<uint64_t> finished_seq_ids;  // finished/preempted since the last step
};

// One logits row's sampling inputs (vLLM v1's SamplingMetadata, one row of it): what the
// host sampler (src/engine/sampler.h) reads, handed to the runner too so that a backend
// may sample on its device and return token ids instead of logits.
struct SamplerRow {
  const SamplingParams* params = nullptr;
  std::span<const int32_t> prompt_tokens;  // for repetition_penalty
  std::span<const int32_t> output_tokens;  // penalties; output_tokens.size() = step index
  std::span<const int64_t> eos_token_ids;  // masked (with stop_token_ids) below min_tokens
  uint64_t seed = 0;                       // params->seed, or one the engine drew
};

// The rows with want_logits, in SchedulerOutput order: either their logits (the engine
// samples on the host) or, when the runner sampled them itself, one token per row.
struct RunnerOutput {
  std::vector<float> logits;  // [rows, vocab] row-major, float32; empty when sampled
  int64_t rows = 0;
  int64_t vocab = 0;
  std::vector<int32_t> sampled_tokens;  // [rows] when the runner sampled, else empty
  std::vector<float> sampled_logprobs;  // [rows] raw logprob of each token (params.logprobs >= 0)
  bool sampled() const { return !sampled_tokens.empty(); }
};

// Where a device's time went over the steps a runner ran: busy from each step's first
// operation on the device to its last (the plan upload before it not included), idle from
// one step's last operation to the next step's first. Gaps across end_of_work() are not
// counted (the engine had nothing to run).
struct DeviceTimeline {
  int64_t steps = 0;
  double busy_ms = 0;
  double idle_ms = 0;
};

// A backend's executor of SchedulerOutputs over its own paged KV storage.
class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual RunnerOutput execute(const SchedulerOutput& step) = 0;
  // execute(), but the runner may also sample the logits rows (rows: one per want_logits
  // sequence, in step order) and return sampled_tokens instead of logits, with the host
  // sampler's semantics. The default returns logits: the engine samples on the host.
  virtual RunnerOutput execute_and_sample(const SchedulerOutput& step,
                                          std::span<const SamplerRow> rows) {
    (void)rows;
    return execute(step);
  }
  // Cumulative since construction; nullopt for a backend without a device (the CPU).
  virtual std::optional<DeviceTimeline> device_timeline() const { return std::nullopt; }
  // The engine ran out of work: the next step's wait is not device idle time.
  virtual void end_of_work() {}
  // Attention over `w` from now on (the engine calls it once, before the first step).
  // Throws kUnsupported for a window on a backend without one (the default).
  virtual void set_attention_window(const AttentionWindow& w);
  virtual int64_t num_kv_blocks() const = 0;  // the pool the scheduler may hand out
  virtual int64_t block_size() const = 0;     // tokens per KV block
  virtual const char* name() const = 0;       // "cpu", "cuda"
};

}  // namespace qwen3
