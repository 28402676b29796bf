// The CUDA backend's ModelRunner: a scheduler step as one batched forward on the GPU
// over the paged KV pool. Plan on the host (rows, KV slots, attention work items), one
// copy of that metadata to the device, then the decoder's kernels on one stream;
// the requested rows are sampled on the GPU (execute_and_sample; only token ids come
// back) or, from execute() or when a row needs the host, their float32 logits come back.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "backends/cuda/cuda_kv_pool.h"
#include "backends/cuda/cuda_weights.h"
#include "backends/cuda/device_buffer.h"
#include "backends/cuda/gpu_sampler.h"
#include "backends/cuda/kernels/linear.h"
#include "backends/cuda/kernels/rope_kv.h"
#include "backends/cuda/persistent_decoder.h"
#include "sched/batch.h"

namespace qwen3::cuda {

struct CudaRunnerOptions {
  KvDtype kv_dtype = KvDtype::kBF16;
  int device = 0;
  // Decode-shaped steps (<= kGemvMaxRows rows) replay a CUDA graph of the forward,
  // captured per step shape (rows, sequences, attention items, block-table width).
  bool cuda_graphs = true;
  // execute_and_sample samples on the GPU (off: it returns logits, the host samples).
  bool gpu_sampling = true;
  // Steps of one decode row run the persistent decoder (kernels/decode_persistent.h) where
  // the GPU and the model allow it: 1 on, 0 off, -1 as QWEN3_CUDA_PERSISTENT says (off
  // unless "1": it is not yet faster than the kernel-per-operation path, NOTES round Q).
  int persistent_decode = -1;
  int persistent_slot_bytes = 0;  // its weight ring's slot size (0: the kernel's default)
  // Tensor parallelism (TpCudaRunner): the weights are rank `tp_rank`'s slices
  // (tp_shard_weights) and all_reduce sums `count` floats at a device address over the
  // ranks, in place, on the given stream. Unset: one GPU holds the whole model.
  // rank_barrier: the ranks' threads meet (TpCudaRunner says why), right before and after
  // enqueueing each all-reduce or a captured step (all-reduces inside).
  int tp_rank = 0;
  std::function<void(float* data, size_t count, cudaStream_t stream)> all_reduce = nullptr;
  std::function<void()> rank_barrier = nullptr;
};

class CudaRunner final : public ModelRunner {
 public:
  // Uploads the weights (kUnsupported for FP8, kOutOfMemory when they or the pool do
  // not fit) and allocates num_blocks KV blocks of block_size tokens.
  CudaRunner(const Qwen3Weights& weights, int64_t num_blocks, int64_t block_size,
             const CudaRunnerOptions& options = {});
  ~CudaRunner() override;

  RunnerOutput execute(const SchedulerOutput& step) override;
  // Samples on the GPU after the forward (outside its CUDA graph) when every row allows
  // it (GpuSampler::supports); else returns logits as execute() does.
  RunnerOutput execute_and_sample(const SchedulerOutput& step,
                                  std::span<const SamplerRow> rows) override;
  // A step in two phases, for tensor-parallel ranks: stage() checks and plans the step,
  // sizes the buffers and uploads the plan (everything that can refuse a step); launch()
  // runs the forward and returns what execute() (rows empty) or execute_and_sample would,
  // or nothing at all when `outputs` is false (a rank other than 0). Every rank stages
  // before any launches, so a refused step never leaves a rank waiting in an all-reduce.
  void stage(const SchedulerOutput& step);
  RunnerOutput launch(std::span<const SamplerRow> rows, bool outputs = true);
  std::optional<DeviceTimeline> device_timeline() const override { return timeline_; }
  void end_of_work() override { have_prev_done_ = false; }
  // Every row of a step then runs on the decode attention kernel over the positions it
  // sees (plan_attention); greedy tokens equal the CPU backend's
  // (tests/cuda/test_cuda_window.cpp).
  void set_attention_window(const AttentionWindow& w) override {
    window_ = w;
    clear_graphs();
  }
  int64_t num_kv_blocks() const override { return pool_->num_blocks(); }
  int64_t block_size() const override { return pool_->block_size(); }
  const char* name() const override { return "cuda"; }

  cudaStream_t stream() const { return stream_; }
  // Turns graph replay on or off and drops the captured graphs (re-captured after a
  // change of set_pdl_enabled, for instance).
  void set_cuda_graphs(bool on);
  void set_gpu_sampling(bool on) { options_.gpu_sampling = on; }
  // Whether execute_and_sample samples these rows on the GPU (else it returns logits).
  bool samples_on_gpu(std::span<const SamplerRow> rows) const {
    return options_.gpu_sampling && !rows.empty() && GpuSampler::supports(rows);
  }
  int64_t graphs_captured() const { return graphs_captured_; }
  // Steps that ran the persistent decoder (0 where it is off or unsupported).
  int64_t persistent_steps() const { return persistent_ ? persistent_->steps() : 0; }
  // GPU time of the last execute(): plan upload to the last kernel, milliseconds.
  float last_step_gpu_ms() const { return last_gpu_ms_; }
  const CudaWeights& weights() const { return *weights_; }

 private:
  struct Workspace;
  struct StepPlan;
  StepPlan plan_step(const SchedulerOutput& step) const;
  void upload_plan(StepPlan& plan);
  void forward(const StepPlan& plan);
  // rope: set when the decode kernel applies q/k-norm + RoPE + KV write (decode-only steps).
  void attention(int64_t layer, const StepPlan& plan, const QkNormRopeKvParams* rope);
  // Runs forward(plan) through a cached graph when the step is decode-shaped.
  void forward_maybe_graph(const StepPlan& plan);
  void clear_graphs();
  bool uses_persistent(const StepPlan& plan) const;
  // After a step's stream drained: last_gpu_ms_ and the device timeline.
  void note_step();

  struct GraphKey {
    int64_t rows, out_rows, seqs, items, decode_items, partials, split_rows, max_blocks,
        decode_heads_per_cta;
    bool decode_only;  // whether the decode kernel applies RoPE and writes the new K/V
    auto operator<=>(const GraphKey&) const = default;
  };
  struct GraphEntry {
    int uses = 0;  // captured at the second use, after a plain run set everything up
    cudaGraphExec_t exec = nullptr;
  };

  ModelConfig config_;
  CudaRunnerOptions options_;
  int num_sms_ = 0;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<CudaWeights> weights_;
  std::unique_ptr<CudaKvPool> pool_;
  std::unique_ptr<LinearContext> linear_;
  std::unique_ptr<Workspace> ws_;
  std::unique_ptr<StepPlan> staged_;  // stage() -> launch(); null for an empty step
  std::unique_ptr<GpuSampler> sampler_;
  std::map<GraphKey, GraphEntry> graphs_;
  int64_t graphs_captured_ = 0;
  cudaEvent_t step_begin_ = nullptr;  // the forward's first kernel
  cudaEvent_t step_end_ = nullptr;    // its last
  cudaEvent_t step_done_ = nullptr;   // the step's last operation (sampling, copies)
  cudaEvent_t prev_done_ = nullptr;   // the previous step's
  bool have_prev_done_ = false;
  DeviceTimeline timeline_;
  float last_gpu_ms_ = 0;
  AttentionWindow window_;
  std::unique_ptr<PersistentDecoder> persistent_;  // null: off or unsupported
};

}  // namespace qwen3::cuda
