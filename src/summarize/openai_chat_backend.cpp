#include "summarize/openai_chat_backend.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "bench/openai_stream.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::summarize {

using nlohmann::json;

OpenAiChatBackend::OpenAiChatBackend(const OpenAiChatOptions& options,
                                     const text::Tokenizer& tokenizer)
    : options_(options), tokenizer_(tokenizer) {
  if (options_.max_concurrency < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--max-concurrency must be >= 1, got {}",
                options_.max_concurrency);
  }
  client_ = std::make_unique<bench::HttpClient>(bench::parse_base_url(options_.base_url),
                                                bench::HttpOptions{.api_key = options_.api_key});
  model_ = bench::resolve_served_model(*client_, options_.model);
}

OpenAiChatBackend::~OpenAiChatBackend() = default;

int64_t OpenAiChatBackend::count_tokens(std::string_view text) const {
  return static_cast<int64_t>(tokenizer_.encode(text, /*parse_special=*/false).size());
}

std::string OpenAiChatBackend::request_body(const ChatTurn& turn) const {
  const SamplingParams& s = options_.sampling;
  json messages = json::array();
  if (!turn.system.empty()) messages.push_back({{"role", "system"}, {"content", turn.system}});
  messages.push_back({{"role", "user"}, {"content", turn.user}});
  json body = {{"model", model_},
               {"messages", messages},
               {"stream", false},
               {"max_tokens", s.max_tokens},
               {"temperature", s.temperature},
               {"top_p", s.top_p},
               {"presence_penalty", s.presence_penalty},
               {"frequency_penalty", s.frequency_penalty}};
  // vLLM's extension fields, also accepted by qwen3 serve.
  if (s.top_k > 0) body["top_k"] = s.top_k;
  if (s.min_p > 0) body["min_p"] = s.min_p;
  if (s.repetition_penalty != 1.0) body["repetition_penalty"] = s.repetition_penalty;
  if (s.seed) body["seed"] = *s.seed;
  return body.dump();
}

std::vector<std::string> OpenAiChatBackend::complete(const std::vector<ChatTurn>& turns,
                                                     const std::function<void()>& on_done) {
  struct Call {
    int status = 0;
    std::string body;
  };
  std::vector<Call> calls(turns.size());
  std::vector<std::string> answers(turns.size());
  std::string first_error;
  size_t next = 0;
  std::function<void()> start_next = [&] {
    if (next >= turns.size() || !first_error.empty()) return;
    const size_t i = next++;
    bench::StreamHandler h;
    h.on_status = [&calls, i](int status) { calls[i].status = status; };
    h.on_body = [&calls, i](std::string_view bytes, bench::Clock::time_point) {
      calls[i].body.append(bytes);
    };
    h.on_done = [&, i](const std::string& error) {
      const json j = json::parse(calls[i].body, nullptr, false);
      std::string problem = error;
      if (problem.empty() && calls[i].status != 200) {
        problem = j.is_object() && j.contains("error") && j["error"].is_object() &&
                          j["error"].contains("message") && j["error"]["message"].is_string()
                      ? j["error"]["message"].get<std::string>()
                      : calls[i].body.substr(0, 300);
        problem = fmt::format("HTTP {}: {}", calls[i].status, problem);
      }
      if (problem.empty()) {
        const json* content = nullptr;
        if (j.is_object() && j.contains("choices") && j["choices"].is_array() &&
            !j["choices"].empty() && j["choices"][0].is_object() &&
            j["choices"][0].contains("message") && j["choices"][0]["message"].is_object() &&
            j["choices"][0]["message"].contains("content")) {
          content = &j["choices"][0]["message"]["content"];
        }
        if (content != nullptr && content->is_string()) {
          answers[i] = content->get<std::string>();
        } else {
          problem = "the response has no choices[0].message.content string";
        }
      }
      if (!problem.empty() && first_error.empty()) {
        first_error = fmt::format("request {} of {}: {}", i + 1, turns.size(), problem);
      }
      on_done();
      start_next();
    };
    client_->post_stream("/v1/chat/completions", request_body(turns[i]), std::move(h));
  };
  for (int64_t k = 0; k < options_.max_concurrency; ++k) start_next();
  client_->run();
  if (!first_error.empty()) {
    QWEN3_THROW(ErrorCode::kUnavailable, "{}{}: {}", client_->url().text, "/v1/chat/completions",
                first_error);
  }
  return answers;
}

}  // namespace qwen3::summarize
