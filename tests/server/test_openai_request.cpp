// Request parsing: every malformed field is a 400 naming it; valid requests map onto
// SamplingOverrides and the chat fields.
#include <gtest/gtest.h>

#include "server/openai_request.h"

namespace qwen3::server {
namespace {

Json j(const char* text) { return Json::parse(text); }

// Runs `fn`, expects an ApiError and returns it.
template <typename Fn>
ApiError error_of(Fn fn) {
  try {
    fn();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError";
  return ApiError(0, "", "", "");
}

void expect_bad_completion(const char* body, const std::string& param, int status = 400) {
  const ApiError e = error_of([&] { parse_completion_request(j(body)); });
  EXPECT_EQ(e.status(), status) << body;
  EXPECT_EQ(e.param(), param) << body << ": " << e.what();
}

void expect_bad_chat(const char* body, const std::string& param,
                     const std::string& code = "invalid_value") {
  const ApiError e = error_of([&] { parse_chat_request(j(body)); });
  EXPECT_EQ(e.status(), 400) << body;
  EXPECT_EQ(e.param(), param) << body << ": " << e.what();
  EXPECT_EQ(e.code(), code) << body;
}

TEST(OpenAiRequest, CompletionPromptForms) {
  CompletionRequest r = parse_completion_request(j(R"({"prompt": "hi", "max_tokens": 3})"));
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "hi");
  EXPECT_EQ(r.common.sampling.max_tokens, 3);
  r = parse_completion_request(j(R"({"prompt": [1, 2, 3]})"));
  EXPECT_TRUE(r.prompts[0].is_ids);
  EXPECT_EQ(r.prompts[0].ids, (std::vector<int32_t>{1, 2, 3}));
  r = parse_completion_request(j(R"({"prompt": ["a", "b"], "n": 2, "echo": true})"));
  EXPECT_EQ(r.prompts.size(), 2u);
  EXPECT_EQ(r.common.sampling.n, 2);
  EXPECT_TRUE(r.echo);
  r = parse_completion_request(j(R"({"prompt": [[1], [2, 3]]})"));
  EXPECT_EQ(r.prompts[1].ids.size(), 2u);
  // SDKs send null for unset fields; 3.0 is an integer for JavaScript clients.
  r = parse_completion_request(j(R"({"prompt": "x", "temperature": null, "max_tokens": 3.0})"));
  EXPECT_FALSE(r.common.sampling.temperature.has_value());
  EXPECT_EQ(r.common.sampling.max_tokens, 3);
}

TEST(OpenAiRequest, CompletionSampling) {
  const CompletionRequest r = parse_completion_request(j(R"({
    "prompt": "x", "temperature": 0.5, "top_p": 0.9, "top_k": 20, "min_p": 0.1, "seed": 7,
    "stop": "END", "stop_token_ids": [5], "logit_bias": {"11": -100, "12": 5.5},
    "presence_penalty": 1, "frequency_penalty": -1, "repetition_penalty": 1.1,
    "ignore_eos": true, "min_tokens": 2, "logprobs": 3, "preset": "code",
    "stream": true, "stream_options": {"include_usage": true}, "priority": -1})"));
  const SamplingOverrides& s = r.common.sampling;
  EXPECT_EQ(s.temperature, 0.5);
  EXPECT_EQ(s.top_k, 20);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.stop, (std::vector<std::string>{"END"}));
  EXPECT_EQ(s.stop_token_ids, (std::vector<int64_t>{5}));
  ASSERT_TRUE(s.logit_bias.has_value());
  EXPECT_EQ(s.logit_bias->size(), 2u);
  EXPECT_EQ(s.logprobs, 3);
  EXPECT_EQ(r.common.preset, "code");
  EXPECT_TRUE(r.common.stream);
  EXPECT_TRUE(r.common.stream_options.include_usage);
  EXPECT_EQ(r.common.priority, -1);
}

TEST(OpenAiRequest, CompletionErrorsNameTheField) {
  expect_bad_completion(R"({})", "prompt");
  expect_bad_completion(R"({"prompt": ""})", "prompt");
  expect_bad_completion(R"({"prompt": 5})", "prompt");
  expect_bad_completion(R"({"prompt": [1, -2]})", "prompt");
  expect_bad_completion(R"({"prompt": [{"a": 1}]})", "prompt");
  expect_bad_completion(R"({"prompt": "x", "max_tokens": -1})", "max_tokens");
  expect_bad_completion(R"({"prompt": "x", "max_tokens": 0})", "max_tokens");
  expect_bad_completion(R"({"prompt": "x", "max_tokens": "5"})", "max_tokens");
  expect_bad_completion(R"({"prompt": "x", "max_tokens": 1.5})", "max_tokens");
  expect_bad_completion(R"({"prompt": "x", "n": 1000000})", "n");
  expect_bad_completion(R"({"prompt": "x", "n": 0})", "n");
  expect_bad_completion(R"({"prompt": "x", "temperature": -1})", "temperature");
  expect_bad_completion(R"({"prompt": "x", "temperature": "hot"})", "temperature");
  expect_bad_completion(R"({"prompt": "x", "top_p": 0})", "top_p");
  expect_bad_completion(R"({"prompt": "x", "logprobs": 21})", "logprobs");
  expect_bad_completion(R"({"prompt": "x", "stop": [1]})", "stop");
  expect_bad_completion(R"({"prompt": "x", "stop": [""]})", "stop");
  expect_bad_completion(R"({"prompt": "x", "logit_bias": {"abc": 1}})", "logit_bias");
  expect_bad_completion(R"({"prompt": "x", "logit_bias": {"1": 500}})", "logit_bias");
  expect_bad_completion(R"({"prompt": "x", "stream": "yes"})", "stream");
  expect_bad_completion(R"({"prompt": "x", "stream_options": {"include_usage": true}})",
                        "stream_options");
  expect_bad_completion(R"({"prompt": "x", "seed": 1e300})", "seed");
  expect_bad_completion(R"({"prompt": "x", "echo": true, "logprobs": 1})", "echo");
  expect_bad_completion(R"({"prompt": "x", "suffix": "tail"})", "suffix");
  expect_bad_completion(R"({"prompt": "x", "best_of": 3})", "best_of");
  expect_bad_completion(R"({"prompt": "x", "response_format": {"type": "json_object"}})",
                        "response_format");
  expect_bad_completion(R"({"prompt": "x", "response_format": "json"})", "response_format");
}

TEST(OpenAiRequest, ResponseFormatJsonObjectIsReportedUnsupported) {
  const ApiError e = error_of([] {
    parse_chat_request(j(R"({"messages": [{"role": "user", "content": "hi"}],
                             "response_format": {"type": "json_object"}})"));
  });
  EXPECT_EQ(e.status(), 400);
  EXPECT_EQ(e.code(), "unsupported_value");
  EXPECT_NE(std::string(e.what()).find("json_object"), std::string::npos);
  // {"type": "text"} is the default and fine.
  parse_chat_request(j(R"({"messages": [{"role": "user", "content": "hi"}],
                           "response_format": {"type": "text"}})"));
}

TEST(OpenAiRequest, ChatFields) {
  const ChatRequest r = parse_chat_request(j(R"({
    "model": "m", "messages": [{"role": "developer", "content": "be brief"},
                               {"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "chat_template_kwargs": {"enable_thinking": false}, "logprobs": true, "top_logprobs": 2,
    "max_tokens": 9, "max_completion_tokens": 7, "include_reasoning": false})"));
  EXPECT_EQ(r.common.model, "m");
  EXPECT_EQ(r.messages[0]["role"], "system");
  EXPECT_EQ(r.tool_choice, ToolChoice::kNamed);
  EXPECT_EQ(r.tool_name, "f");
  EXPECT_EQ(r.chat_template_kwargs["enable_thinking"], false);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.common.sampling.logprobs, 2);
  EXPECT_EQ(r.common.sampling.max_tokens, 7);
  EXPECT_FALSE(r.include_reasoning);
  const ChatRequest none = parse_chat_request(
      j(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "none"})"));
  EXPECT_EQ(none.tool_choice, ToolChoice::kNone);
  EXPECT_FALSE(none.common.sampling.logprobs.has_value());
}

TEST(OpenAiRequest, ChatErrorsNameTheField) {
  expect_bad_chat(R"({})", "messages");
  expect_bad_chat(R"({"messages": []})", "messages");
  expect_bad_chat(R"({"messages": "hi"})", "messages");
  expect_bad_chat(R"({"messages": [5]})", "messages[0]");
  expect_bad_chat(R"({"messages": [{"content": "x"}]})", "messages[0].role");
  expect_bad_chat(R"({"messages": [{"role": "wizard", "content": "x"}]})", "messages[0].role");
  expect_bad_chat(R"({"messages": [{"role": "user"}]})", "messages[0].content");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": 5}]})", "messages[0].content");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
                  "messages[0].content", "unsupported_value");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", "tools");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "f"}]})",
                  "tools[0]");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})",
                  "tool_choice");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "maybe"})",
                  "tool_choice");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}],
                      "tools": [{"type": "function", "function": {"name": "f"}}],
                      "tool_choice": {"type": "function", "function": {"name": "g"}}})",
                  "tool_choice");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})",
                  "top_logprobs");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true,
                      "top_logprobs": 50})",
                  "top_logprobs");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}],
                      "chat_template_kwargs": [1]})",
                  "chat_template_kwargs");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}],
                      "max_completion_tokens": -5})",
                  "max_completion_tokens");
  expect_bad_chat(R"({"messages": [{"role": "user", "content": "x"}], "functions": [{}]})",
                  "functions", "unsupported_value");
}

TEST(OpenAiRequest, JsonBody) {
  EXPECT_EQ(error_of([] { parse_json_body("{bad json"); }).code(), "invalid_json");
  EXPECT_EQ(error_of([] { parse_json_body("[1, 2]"); }).code(), "invalid_json");
  EXPECT_EQ(error_of([] { parse_json_body("{\"prompt\": \"\xff\xfe\"}"); }).code(), "invalid_json");
  EXPECT_EQ(error_of([] { parse_json_body("{\"prompt\": \"x\""); }).code(), "invalid_json");
  EXPECT_EQ(error_of([] { parse_json_body(""); }).code(), "invalid_json");
  EXPECT_EQ(parse_json_body(R"({"a": 1})")["a"], 1);
}

}  // namespace
}  // namespace qwen3::server
