#include "backends/cuda/tp_runner.h"

#include "parallel/tensor_parallel.h"

namespace qwen3::cuda {

TpCudaRunner::TpCudaRunner(const Qwen3Weights& full, int size, int64_t num_blocks,
                           int64_t block_size, const CudaRunnerOptions& options)
    : rank_barrier_(size), threads_(size), ranks_(static_cast<size_t>(size)) {
  for (int r = 0; r < size; ++r) tp_shard(full.config(), r, size);  // refuse before any upload
  nccl_ = std::make_unique<NcclGroup>(size);
  // Each rank slices and uploads its weights on its own thread, all at once.
  threads_.run([&](int r) {
    const std::unique_ptr<Qwen3Weights> shard =
        tp_shard_weights(full, tp_shard(full.config(), r, size));
    CudaRunnerOptions o = options;
    o.device = r;
    o.tp_rank = r;
    o.all_reduce = [this, r](float* data, size_t count, cudaStream_t stream) {
      nccl_->all_reduce_sum(r, data, count, stream);
    };
    o.rank_barrier = [this] { rank_barrier_.arrive_and_wait(); };
    ranks_[static_cast<size_t>(r)] =
        std::make_unique<CudaRunner>(*shard, num_blocks, block_size, o);
  });
}

TpCudaRunner::~TpCudaRunner() {
  ranks_.clear();  // streams synchronized and graphs gone before the communicators
  nccl_.reset();
}

RunnerOutput TpCudaRunner::execute(const SchedulerOutput& step) { return run(step, {}); }

RunnerOutput TpCudaRunner::execute_and_sample(const SchedulerOutput& step,
                                              std::span<const SamplerRow> rows) {
  return run(step, rows);
}

RunnerOutput TpCudaRunner::run(const SchedulerOutput& step, std::span<const SamplerRow> rows) {
  // Every rank stages (and may refuse) the step before any enters an all-reduce.
  threads_.run([&](int r) { ranks_[static_cast<size_t>(r)]->stage(step); });
  if (!ranks_.front()->samples_on_gpu(rows)) rows = {};  // logits back, as CudaRunner does
  RunnerOutput out;
  rank_barrier_.reset();  // no rank is at it between steps
  threads_.run([&](int r) {
    CudaRunner& runner = *ranks_[static_cast<size_t>(r)];
    try {
      if (r != 0) {
        runner.launch({}, /*outputs=*/false);
      } else {
        out = runner.launch(rows);
      }
    } catch (...) {
      rank_barrier_.abort();  // the others must not wait for this rank at the barrier
      throw;
    }
  });
  return out;
}

}  // namespace qwen3::cuda
