// Tensor parallelism over the GPUs of one host (issue 10): N CudaRunners, rank r on
// device r with its slices of the weights (parallel/tensor_parallel.h: heads, KV heads
// and MLP features split N ways, embedding / norms / lm_head replicated), joined by two
// NCCL all-reduces per layer. The scheduler sees one runner: every rank holds the same
// KV block ids (each for its own KV heads), runs every step on its own thread, and rank 0
// returns the logits or the sampled tokens.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "backends/cuda/cuda_runner.h"
#include "backends/cuda/nccl_group.h"
#include "parallel/rank_threads.h"

namespace qwen3::cuda {

class TpCudaRunner final : public ModelRunner {
 public:
  // `full` is only read during construction. Throws as tp_shard (heads that do not split
  // `size` ways), NcclGroup (too few GPUs) and CudaRunner (memory).
  TpCudaRunner(const Qwen3Weights& full, int size, int64_t num_blocks, int64_t block_size,
               const CudaRunnerOptions& options = {});
  ~TpCudaRunner() override;

  RunnerOutput execute(const SchedulerOutput& step) override;
  RunnerOutput execute_and_sample(const SchedulerOutput& step,
                                  std::span<const SamplerRow> rows) override;
  // Rank 0's GPU (which also computes the logits and samples).
  std::optional<DeviceTimeline> device_timeline() const override {
    return ranks_.front()->device_timeline();
  }
  void set_attention_window(const AttentionWindow& w) override {
    for (auto& r : ranks_) r->set_attention_window(w);
  }
  void end_of_work() override {
    for (auto& r : ranks_) r->end_of_work();
  }
  int64_t num_kv_blocks() const override { return ranks_.front()->num_kv_blocks(); }
  int64_t block_size() const override { return ranks_.front()->block_size(); }
  const char* name() const override { return "cuda"; }

  int size() const { return static_cast<int>(ranks_.size()); }
  CudaRunner& rank(int r) { return *ranks_[static_cast<size_t>(r)]; }

 private:
  RunnerOutput run(const SchedulerOutput& step, std::span<const SamplerRow> rows);

  std::unique_ptr<NcclGroup> nccl_;
  // The ranks' threads meet here right before and right after each all-reduce they
  // enqueue, and around the launch of a captured step (uploaded while the GPUs were idle).
  // A CUDA call that waits for every GPU to drain (a kernel's lazy loading at its first
  // launch; seen to deadlock here) would otherwise wait on a GPU spinning in an all-reduce
  // whose partner the other rank cannot enqueue, being blocked behind that call. Between
  // the meetings every all-reduce in flight has its partner enqueued, so such waits end.
  // A rank that fails aborts it, so the others fail the step instead of waiting forever.
  SpinBarrier rank_barrier_;
  RankThreads threads_;
  std::vector<std::unique_ptr<CudaRunner>> ranks_;
};

}  // namespace qwen3::cuda
