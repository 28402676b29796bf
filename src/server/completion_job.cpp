#include "server/completion_job.h"

namespace qwen3::server {

CompletionJob::CompletionJob(JobContext ctx, ResponseMeta meta, const CompletionRequest& request,
                             std::vector<std::string> echo_texts, int64_t n,
                             std::shared_ptr<ResponseSink> sink)
    : GenerationJob(ctx, std::move(meta), request.common, std::move(sink)),
      echo_texts_(std::move(echo_texts)),
      n_(n),
      want_logprobs_(request.common.sampling.logprobs.value_or(-1) >= 0) {
  choices_.resize(echo_texts_.size() * static_cast<size_t>(n));
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    c.text = echo_texts_[i / static_cast<size_t>(n)];
    c.logprobs = want_logprobs_ ? empty_completion_logprobs() : Json();
    c.text_offset = static_cast<int64_t>(c.text.size());
  }
}

Json CompletionJob::choice_json(int64_t index, std::string text, Json logprobs, Json finish,
                                Json stop) const {
  Json c;
  c["index"] = index;
  c["text"] = std::move(text);
  c["logprobs"] = std::move(logprobs);
  c["finish_reason"] = std::move(finish);
  c["stop_reason"] = std::move(stop);
  return c;
}

Json CompletionJob::first_chunk_choices() {
  Json out = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    const std::string& echo = echo_texts_[i / static_cast<size_t>(n_)];
    if (!echo.empty()) {
      out.push_back(choice_json(static_cast<int64_t>(i), echo, nullptr, nullptr, nullptr));
    }
  }
  return out;
}

void CompletionJob::add_delta(int64_t index, ChoiceDelta& d, Json* chunk_choices) {
  if (index < 0 || index >= static_cast<int64_t>(choices_.size())) return;
  Choice& c = choices_[static_cast<size_t>(index)];
  Json lp = nullptr;
  if (want_logprobs_) {
    if (chunk_choices != nullptr) {
      lp = empty_completion_logprobs();
      append_completion_logprobs(*ctx_.tokenizer, d.logprobs, lp, c.text_offset);
    } else {
      append_completion_logprobs(*ctx_.tokenizer, d.logprobs, c.logprobs, c.text_offset);
    }
  }
  const Json finish = finish_reason_json(d.finish_reason);
  const Json stop = stop_reason_json(d, stop_strings_);
  if (chunk_choices != nullptr) {
    if (!d.text.empty() || !finish.is_null() || !d.logprobs.empty()) {
      chunk_choices->push_back(choice_json(index, std::move(d.text), std::move(lp), finish, stop));
    }
    return;
  }
  c.text += d.text;
  if (!finish.is_null()) {
    c.finish_reason = finish;
    c.stop_reason = stop;
  }
}

Json CompletionJob::final_choices() {
  Json out = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    out.push_back(choice_json(static_cast<int64_t>(i), std::move(c.text), std::move(c.logprobs),
                              c.finish_reason, c.stop_reason));
  }
  return out;
}

}  // namespace qwen3::server
