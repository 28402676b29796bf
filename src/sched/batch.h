// The plain-data boundary between the scheduler and a backend's model runner
// (vLLM v1's SchedulerOutput / ModelRunnerOutput): the scheduler decides, the runner
// executes, neither sees the other's internals.
#pragma once

#include <cstdint>
#include <vector>

namespace qwen3 {

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

// Logits of the sequences with want_logits, in SchedulerOutput order.
struct RunnerOutput {
  std::vector<float> logits;  // [rows, vocab] row-major, float32
  int64_t rows = 0;
  int64_t vocab = 0;
};

// A backend's executor of SchedulerOutputs over its own paged KV storage.
class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual RunnerOutput execute(const SchedulerOutput& step) = 0;
  virtual int64_t num_kv_blocks() const = 0;  // the pool the scheduler may hand out
  virtual int64_t block_size() const = 0;     // tokens per KV block
  virtual const char* name() const = 0;       // "cpu", "cuda"
};

}  // namespace qwen3
