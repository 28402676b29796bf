// The continuous-batching scheduler (vLLM v1 style), CPU-only and backend-independent.
//
// Each step: running sequences first (in admission order; a prefill chunk never takes
// the tokens the remaining decodes need), then waiting ones by (priority, arrival)
// while the token budget, the sequence cap and the KV pool allow. When the pool runs
// dry, the newest (lowest-priority) running sequence is preempted: its blocks are freed
// and it waits to be recomputed (its prefix is usually still cached).
// Cost per step: O(scheduled sequences + their new blocks + block tables copied).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "kv/kv_cache_manager.h"
#include "sched/batch.h"
#include "sched/sequence.h"

namespace qwen3 {

struct SchedulerConfig {
  int64_t max_num_seqs = 256;
  int64_t max_num_batched_tokens = 2048;
  int64_t num_blocks = 0;  // including the reserved null block
  int64_t block_size = 16;
  bool enable_prefix_caching = true;
  AttentionWindow attention_window;  // on: blocks out of every later query's sight are freed
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& config);

  // Takes a new sequence (status waiting). Its id must be new and non-zero.
  void add(Sequence seq);
  // Frees its blocks and forgets it; returns false if unknown.
  bool remove(uint64_t id);
  Sequence* find(uint64_t id);

  SchedulerOutput schedule();
  // After the runner executed `out`: scheduled tokens now have KV; full blocks indexed.
  void on_executed(const SchedulerOutput& out);
  // A sampled token for a sequence that had want_logits.
  void append_token(uint64_t id, int32_t token);

  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int64_t num_preemptions() const { return preemptions_; }
  const KvCacheManager& kv() const { return kv_; }
  const SchedulerConfig& config() const { return config_; }

 private:
  void schedule_running(SchedulerOutput& out, int64_t& budget);
  void schedule_waiting(SchedulerOutput& out, int64_t& budget);
  bool runnable(const Sequence& s) const;
  void preempt(Sequence* s);
  void enqueue_waiting(Sequence* s);
  void emit(SchedulerOutput& out, const Sequence& s, int64_t n);

  SchedulerConfig config_;
  KvCacheManager kv_;
  std::unordered_map<uint64_t, std::unique_ptr<Sequence>> seqs_;
  std::vector<Sequence*> running_;  // admission order
  std::deque<Sequence*> waiting_;   // sorted by (priority, arrival)
  std::vector<uint64_t> gone_;      // removed/preempted since the last schedule()
  bool preempted_this_step_ = false;
  int64_t preemptions_ = 0;
};

}  // namespace qwen3
