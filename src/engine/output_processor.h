// Turns one choice's sampled tokens into its output: incremental text, stop strings,
// stop/eos tokens, length limits, logprobs. One instance per choice, engine thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "engine/engine_types.h"
#include "engine/sampler.h"
#include "engine/stop_checker.h"
#include "tokenizer/detokenizer.h"

namespace qwen3 {

class ChoiceOutput {
 public:
  // tokenizer may be null (ids only; then params.stop must be empty).
  ChoiceOutput(int64_t index, const text::Tokenizer* tokenizer, const SamplingParams& params,
               std::span<const int64_t> eos_token_ids);

  // Records token number `num_output` (1-based) of the choice into `delta`; returns true
  // when the choice finished with it. `at_limit`: the sequence reached its length cap.
  bool on_token(const SampledToken& t, int64_t num_output, bool at_limit, ChoiceDelta& delta);
  // Ends the choice early (abort/error): flushes held text into `delta`.
  void finish(FinishReason reason, ChoiceDelta& delta);
  bool finished() const { return finished_; }
  int64_t index() const { return index_; }

 private:
  void flush(ChoiceDelta& delta);
  bool is_eos(int32_t token) const;

  int64_t index_;
  const SamplingParams& params_;
  std::vector<int64_t> eos_;
  std::unique_ptr<text::IncrementalDetokenizer> detok_;
  StopChecker stop_;
  bool finished_ = false;
};

}  // namespace qwen3
