#include "backends/cuda/gpu_sampler.h"

#include <cstring>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/packed_upload.h"
#include "core/error.h"

namespace qwen3::cuda {
namespace {

int32_t checked_id(int64_t id, int64_t vocab) {
  QWEN3_CHECK(id >= 0 && id < vocab);  // as the host sampler's logits_ops
  return static_cast<int32_t>(id);
}

}  // namespace

bool GpuSampler::supports(std::span<const SamplerRow> rows) {
  for (const SamplerRow& r : rows)
    if (r.params == nullptr || r.params->logprobs > 0) return false;
  return true;
}

void GpuSampler::sample(float* logits, std::span<const SamplerRow> rows, cudaStream_t stream,
                        RunnerOutput& out, cudaEvent_t done) {
  const auto n = static_cast<int64_t>(rows.size());
  QWEN3_CHECK(n >= 1 && supports(rows));
  row_params_.assign(rows.size(), {});
  ids_.clear();
  counts_.clear();
  bias_ids_.clear();
  bias_values_.clear();
  if (std::ssize(seen_) < vocab_) seen_.assign(static_cast<size_t>(vocab_), 0);
  if (std::ssize(count_of_) < vocab_) count_of_.assign(static_cast<size_t>(vocab_), 0);
  auto at = [](const std::vector<int32_t>& v) { return static_cast<int32_t>(v.size()); };

  for (size_t i = 0; i < rows.size(); ++i) {
    const SamplerRow& r = rows[i];
    const SamplingParams& p = *r.params;
    const auto step = static_cast<int64_t>(r.output_tokens.size());
    SamplingRowParams& g = row_params_[i];
    g.temperature = p.temperature;
    g.u = p.greedy() ? 0.0 : sampler_uniform(r.seed, step);
    g.top_p = p.top_p;
    g.min_p = p.min_p;
    g.top_k = p.top_k >= 1 && p.top_k < vocab_ ? static_cast<int32_t>(p.top_k) : 0;
    g.want_logprob = p.logprobs >= 0 ? 1 : 0;
    g.repetition_penalty = p.repetition_penalty;
    g.frequency_penalty = p.frequency_penalty;
    g.presence_penalty = p.presence_penalty;

    g.bias_begin = at(bias_ids_);
    for (const auto& [id, value] : p.logit_bias) {
      bias_ids_.push_back(checked_id(id, vocab_));
      bias_values_.push_back(value);
    }
    g.bias_end = at(bias_ids_);

    g.mask_begin = at(ids_);
    if (step < p.min_tokens) {
      for (int64_t id : r.eos_token_ids) ids_.push_back(checked_id(id, vocab_));
      for (int64_t id : p.stop_token_ids) ids_.push_back(checked_id(id, vocab_));
    }
    g.mask_end = at(ids_);

    // Distinct prompt + output tokens, each penalised once (the kernel's threads run them
    // in parallel).
    g.rep_begin = at(ids_);
    if (p.repetition_penalty != 1.0) {
      auto visit = [&](int32_t id) {
        const int32_t t = checked_id(id, vocab_);
        if (seen_[static_cast<size_t>(t)]) return;
        seen_[static_cast<size_t>(t)] = 1;
        ids_.push_back(t);
      };
      for (int32_t id : r.prompt_tokens) visit(id);
      for (int32_t id : r.output_tokens) visit(id);
      for (int32_t j = g.rep_begin; j < at(ids_); ++j) seen_[static_cast<size_t>(ids_[j])] = 0;
    }
    g.rep_end = at(ids_);

    g.freq_begin = at(ids_);
    if (p.frequency_penalty != 0.0 || p.presence_penalty != 0.0) {
      for (int32_t id : r.output_tokens) {
        const int32_t t = checked_id(id, vocab_);
        if (count_of_[static_cast<size_t>(t)]++ == 0) ids_.push_back(t);
      }
      counts_.resize(ids_.size(), 0);
      for (int32_t j = g.freq_begin; j < at(ids_); ++j) {
        int32_t& c = count_of_[static_cast<size_t>(ids_[j])];
        counts_[static_cast<size_t>(j)] = c;
        c = 0;
      }
    }
    g.freq_end = at(ids_);
  }
  counts_.resize(ids_.size(), 0);

  // One pinned buffer, one copy up: rows | ids | counts | bias ids | bias values.
  const auto up = upload_packed(up_host_, up_, stream, "sampling inputs (host)",
                                "sampling inputs", row_params_, ids_, counts_, bias_ids_,
                                bias_values_);
  const auto [o_rows, o_ids, o_counts, o_bias_ids, o_bias_values] = up.offsets;
  const auto* d = up_.as<uint8_t>();

  workspace_.ensure(sampling_workspace_bytes(n, vocab_),
                    "sampling workspace; lower --max-num-seqs");
  const size_t result_bytes = 2 * static_cast<size_t>(n) * sizeof(int32_t);
  results_.ensure(result_bytes, "sampled tokens");
  results_host_.ensure(result_bytes, "sampled tokens (host)");
  auto* tokens = results_.as<int32_t>();
  auto* logprobs = reinterpret_cast<float*>(tokens + n);
  launch_sampling({.logits = logits,
                   .rows = reinterpret_cast<const SamplingRowParams*>(d + o_rows),
                   .ids = reinterpret_cast<const int32_t*>(d + o_ids),
                   .counts = reinterpret_cast<const int32_t*>(d + o_counts),
                   .bias_ids = reinterpret_cast<const int32_t*>(d + o_bias_ids),
                   .bias_values = reinterpret_cast<const float*>(d + o_bias_values),
                   .host_rows = row_params_.data(),
                   .num_ids = std::ssize(ids_),
                   .num_bias = std::ssize(bias_ids_),
                   .num_rows = n,
                   .vocab = vocab_,
                   .workspace = workspace_.get(),
                   .workspace_bytes = workspace_.bytes(),
                   .tokens = tokens,
                   .logprobs = logprobs},
                  stream);
  QWEN3_CUDA_CHECK(cudaMemcpyAsync(results_host_.get(), tokens, result_bytes,
                                   cudaMemcpyDeviceToHost, stream));
  if (done != nullptr) QWEN3_CUDA_CHECK(cudaEventRecord(done, stream));
  QWEN3_CUDA_CHECK(cudaStreamSynchronize(stream));  // also frees up_host_ for the next call
  const auto* th = results_host_.as<int32_t>();
  const auto* lh = reinterpret_cast<const float*>(th + n);
  out.sampled_tokens.assign(th, th + n);
  out.sampled_logprobs.assign(lh, lh + n);
}

}  // namespace qwen3::cuda
