// The CPU backend's ModelRunner: runs a scheduler step as one batched forward over the
// paged KV pool (all sequences' tokens through each matmul together, attention per
// sequence through its block table).
#pragma once

#include <cstdint>

#include "backends/cpu/cpu_batch.h"
#include "backends/cpu/cpu_model.h"
#include "sched/batch.h"

namespace qwen3::cpu {

class CpuRunner final : public ModelRunner {
 public:
  // The pool holds num_blocks blocks of block_size tokens (see PagedKvPool::bytes_per_block).
  CpuRunner(const Qwen3Weights& weights, int64_t num_blocks, int64_t block_size);

  RunnerOutput execute(const SchedulerOutput& step) override;
  void set_attention_window(const AttentionWindow& w) override { window_ = w; }
  int64_t num_kv_blocks() const override { return pool_.num_blocks(); }
  int64_t block_size() const override { return pool_.block_size(); }
  const char* name() const override { return "cpu"; }

 private:
  CpuModel model_;
  PagedKvPool pool_;
  AttentionWindow window_;
};

}  // namespace qwen3::cpu
