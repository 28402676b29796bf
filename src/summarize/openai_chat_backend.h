// ChatBackend over an OpenAI-compatible server (`qwen3 serve`, vLLM, llama.cpp's server):
// POST /v1/chat/completions, non-streaming, at most `max_concurrency` at a time on one
// thread (bench/http_client.h); tokens are counted with a local tokenizer.
#pragma once

#include <memory>
#include <string>

#include "bench/http_client.h"
#include "sched/sampling_params.h"
#include "summarize/summarizer.h"

namespace qwen3::text {
class Tokenizer;
}

namespace qwen3::summarize {

struct OpenAiChatOptions {
  std::string base_url;  // http://host:port (the server's root, /v1/... is added)
  std::string model;     // empty: the first of GET /v1/models
  std::string api_key;
  int64_t max_concurrency = 16;
  // Sent as OpenAI fields: temperature, top_p, top_k, min_p, max_tokens, penalties, seed.
  SamplingParams sampling;
};

class OpenAiChatBackend final : public ChatBackend {
 public:
  // Checks the server now (GET /v1/models): connection refused throws kUnavailable.
  OpenAiChatBackend(const OpenAiChatOptions& options, const text::Tokenizer& tokenizer);
  ~OpenAiChatBackend() override;

  std::vector<std::string> complete(const std::vector<ChatTurn>& turns,
                                    const std::function<void()>& on_done) override;
  int64_t count_tokens(std::string_view text) const override;
  const std::string& model() const { return model_; }

 private:
  std::string request_body(const ChatTurn& turn) const;
  OpenAiChatOptions options_;
  const text::Tokenizer& tokenizer_;
  std::unique_ptr<bench::HttpClient> client_;
  std::string model_;
};

}  // namespace qwen3::summarize
