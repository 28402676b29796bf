// /v1/completions responses: text choices with the legacy logprobs format and echo.
#pragma once

#include <string>
#include <vector>

#include "server/generation_job.h"

namespace qwen3::server {

class CompletionJob final : public GenerationJob {
 public:
  // echo_texts: per prompt, the text prepended to its choices (empty without echo).
  CompletionJob(JobContext ctx, ResponseMeta meta, const CompletionRequest& request,
                std::vector<std::string> echo_texts, int64_t n, std::shared_ptr<ResponseSink> sink);

 protected:
  std::string_view object_name(bool) const override { return "text_completion"; }
  Json first_chunk_choices() override;
  void add_delta(int64_t index, ChoiceDelta& delta, Json* chunk_choices) override;
  Json final_choices() override;

 private:
  struct Choice {
    std::string text;
    Json logprobs;  // null unless requested
    int64_t text_offset = 0;
    Json finish_reason;
    Json stop_reason;
  };
  Json choice_json(int64_t index, std::string text, Json logprobs, Json finish, Json stop) const;

  std::vector<Choice> choices_;
  std::vector<std::string> echo_texts_;
  int64_t n_;
  bool want_logprobs_;
};

}  // namespace qwen3::server
