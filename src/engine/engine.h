// The engine core, single-threaded: requests in, one scheduler step at a time
// (schedule -> run -> sample -> detokenize/stop), deltas out. AsyncEngine wraps it in
// a thread; `qwen3 generate` and the tests drive it directly.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/engine_types.h"
#include "engine/output_processor.h"
#include "model/config.h"
#include "sched/batch.h"
#include "sched/scheduler.h"

namespace qwen3 {

class Engine {
 public:
  // Resolves config.max_model_len: 0 = min(the model's context, the KV pool's tokens);
  // an explicit value beyond either is an Error naming the setting to change.
  Engine(const EngineConfig& config, const ModelConfig& model, ModelRunner& runner,
         const text::Tokenizer* tokenizer);
  ~Engine();

  // Throws Error (kInvalidArgument / kContextLength) for a request that cannot run.
  // Reads only immutable state: safe from any thread.
  void validate(const EngineRequest& request) const;
  void add(uint64_t id, EngineRequest request);  // call validate first
  // Ends the request now; returns its final output (nullopt if unknown).
  std::optional<RequestOutput> abort(uint64_t id, FinishReason reason = FinishReason::kAbort);
  // Ends every request with `error` (e.g. the runner failed); returns their outputs.
  std::vector<RequestOutput> fail_all(const Error& error);

  // One scheduler step; outputs of the requests that made progress.
  std::vector<RequestOutput> step();
  bool has_work() const { return scheduler_.has_work(); }
  int64_t num_requests() const { return static_cast<int64_t>(requests_.size()); }

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }
  const Scheduler& scheduler() const { return scheduler_; }

 private:
  struct Request;
  struct SeqRef {
    Request* request;
    int64_t choice;
  };
  // One SamplerRow per want_logits sequence of `out` (row_seqs: their sequences).
  std::vector<SamplerRow> sampler_rows(const SchedulerOutput& out,
                                       std::vector<Sequence*>& row_seqs);
  void sample_and_emit(std::span<const SamplerRow> rows, std::span<Sequence* const> row_seqs,
                       RunnerOutput& ro, std::unordered_map<uint64_t, RequestOutput>& outputs);
  RequestOutput& output_for(Request& r, std::unordered_map<uint64_t, RequestOutput>& outputs);
  ChoiceDelta& delta_for(RequestOutput& o, int64_t choice);
  void finish_request_if_done(Request& r, RequestOutput& o);

  EngineConfig config_;
  int64_t vocab_size_;
  ModelRunner& runner_;
  const text::Tokenizer* tokenizer_;
  Scheduler scheduler_;
  std::unordered_map<uint64_t, std::unique_ptr<Request>> requests_;
  std::unordered_map<uint64_t, SeqRef> seqs_;
  uint64_t next_seq_id_ = 1;
  uint64_t arrivals_ = 0;
  std::mt19937_64 seed_source_;
  EngineStats counters_;
};

}  // namespace qwen3
