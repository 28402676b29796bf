#include "engine/output_processor.h"

#include <algorithm>
#include <string>

namespace qwen3 {

ChoiceOutput::ChoiceOutput(int64_t index, const text::Tokenizer* tokenizer,
                           const SamplingParams& params, std::span<const int64_t> eos_token_ids)
    : index_(index),
      params_(params),
      eos_(eos_token_ids.begin(), eos_token_ids.end()),
      stop_(params.stop, params.include_stop_str_in_output) {
  if (tokenizer != nullptr) {
    detok_ = std::make_unique<text::IncrementalDetokenizer>(*tokenizer, params.skip_special_tokens);
  }
}

bool ChoiceOutput::is_eos(int32_t token) const {
  return std::find(eos_.begin(), eos_.end(), token) != eos_.end();
}

void ChoiceOutput::flush(ChoiceDelta& delta) {
  if (detok_) delta.text += stop_.push(detok_->finish(), false).text;
  delta.text += stop_.flush();
}

bool ChoiceOutput::on_token(const SampledToken& t, int64_t num_output, bool at_limit,
                            ChoiceDelta& delta) {
  delta.token_ids.push_back(t.token);
  if (params_.logprobs >= 0) delta.logprobs.push_back({t.token, t.logprob, t.top_logprobs});
  const auto& stop_ids = params_.stop_token_ids;
  if (!params_.ignore_eos && is_eos(t.token)) {
    delta.finish_reason = FinishReason::kStop;
  } else if (std::find(stop_ids.begin(), stop_ids.end(), t.token) != stop_ids.end()) {
    delta.finish_reason = FinishReason::kStop;
    delta.stop_reason = std::to_string(t.token);
  } else if (detok_) {
    const bool check = num_output > params_.min_tokens;
    StopChecker::Result r = stop_.push(detok_->push(t.token), check);
    delta.text += r.text;
    if (r.stopped) {
      delta.finish_reason = FinishReason::kStop;
      delta.stop_reason = std::move(r.matched);
      finished_ = true;
      return true;
    }
  }
  const bool length = at_limit || (params_.max_tokens >= 0 && num_output >= params_.max_tokens);
  if (delta.finish_reason == FinishReason::kNone && length)
    delta.finish_reason = FinishReason::kLength;
  if (delta.finish_reason != FinishReason::kNone) {
    flush(delta);
    finished_ = true;
  }
  return finished_;
}

void ChoiceOutput::finish(FinishReason reason, ChoiceDelta& delta) {
  if (finished_) return;
  flush(delta);
  delta.finish_reason = reason;
  finished_ = true;
}

}  // namespace qwen3
