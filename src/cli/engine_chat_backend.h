// summarize::ChatBackend on the in-process engine (`qwen3 summarize -m MODEL`): each turn
// rendered with the model's chat template, all of a round submitted to the AsyncEngine at
// once (its scheduler batches them), answers with any reasoning block left out.
#pragma once

#include <string>

#include "engine/engine_builder.h"
#include "summarize/summarizer.h"
#include "tokenizer/jinja/chat_template.h"

namespace qwen3::cli {

class EngineChatBackend final : public summarize::ChatBackend {
 public:
  // `bundle` must have a tokenizer; `kwargs_json` as --chat-template-kwargs.
  EngineChatBackend(EngineBundle& bundle, const std::string& model_dir, SamplingParams params,
                    std::string template_file, std::string kwargs_json);

  std::vector<std::string> complete(const std::vector<summarize::ChatTurn>& turns,
                                    const std::function<void()>& on_done) override;
  int64_t count_tokens(std::string_view text) const override;

 private:
  EngineBundle& bundle_;
  ChatTemplate template_;
  SamplingParams params_;
  std::string kwargs_json_;
};

}  // namespace qwen3::cli
