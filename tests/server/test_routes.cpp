// The router with a real tokenizer and chat template and a hand-driven engine: status
// codes and OpenAI error bodies for every kind of bad request, phases, auth, /v1/models,
// /metrics, /tokenize and /detokenize, and what reaches the engine.
#include <gtest/gtest.h>

#include "fake_backend.h"
#include "fake_sink.h"
#include "server/routes.h"

namespace qwen3::server::test {
namespace {

struct Router {
  explicit Router(std::string api_key = "", bool with_template = true)
      : state(options(std::move(api_key))) {
    auto m = std::make_shared<ServedModel>();
    m->root = QWEN3_TOKENIZER_DIR;
    m->tokenizer = shared_tokenizer();
    if (with_template) m->chat_template = ChatTemplate::from_model_dir(QWEN3_TOKENIZER_DIR);
    m->max_model_len = 64;
    m->vocab_size = 151936;
    auto b = std::make_unique<ManualBackend>();
    backend = b.get();
    m->backend = std::move(b);
    state.model = m;
    state.phase = ServerPhase::kServing;
  }
  static ServerOptions options(std::string key) {
    ServerOptions o;
    o.api_key = std::move(key);
    o.served_model_names = {"tiny", "alias"};
    return o;
  }
  std::shared_ptr<FakeSink> call(const std::string& method, const std::string& target,
                                 const std::string& body = "", const std::string& auth = "") {
    auto sink = std::make_shared<FakeSink>();
    job = route_request(state, {method, target, auth, body}, sink, kInline);
    return sink;
  }
  // Expects an OpenAI error body with this status (and code, when given).
  Json expect_error(const std::shared_ptr<FakeSink>& s, int status, const std::string& code = "") {
    EXPECT_EQ(s->status, status) << s->body;
    const Json j = Json::parse(s->body);
    EXPECT_TRUE(j["error"]["message"].is_string()) << s->body;
    EXPECT_TRUE(j["error"]["type"].is_string()) << s->body;
    EXPECT_TRUE(j["error"].contains("param")) << s->body;
    if (!code.empty()) {
      EXPECT_EQ(j["error"]["code"], code) << s->body;
    }
    return j["error"];
  }

  ServerState state;
  ManualBackend* backend = nullptr;
  std::shared_ptr<GenerationJob> job;
};

TEST(Routes, HealthFollowsThePhase) {
  Router r;
  EXPECT_EQ(r.call("GET", "/health")->status, 200);
  r.state.phase = ServerPhase::kLoading;
  r.expect_error(r.call("GET", "/health"), 503, "model_loading");
  r.expect_error(r.call("POST", "/v1/completions", R"({"prompt": "x"})"), 503);
  EXPECT_EQ(r.call("GET", "/metrics")->status, 200);  // metrics work while loading
  r.state.phase = ServerPhase::kDraining;
  r.expect_error(r.call("GET", "/health"), 503, "shutting_down");
}

TEST(Routes, UnknownRouteMethodAndAuth) {
  Router r("sekrit");
  r.expect_error(r.call("GET", "/nope"), 404, "not_found");
  r.expect_error(r.call("GET", "/v1/chat/completions"), 405, "method_not_allowed");
  r.expect_error(r.call("GET", "/v1/models"), 401, "invalid_api_key");
  r.expect_error(r.call("GET", "/v1/models", "", "Bearer wrong"), 401, "invalid_api_key");
  EXPECT_EQ(r.call("GET", "/v1/models", "", "Bearer sekrit")->status, 200);
  EXPECT_EQ(r.call("GET", "/health")->status, 200);  // probes need no key
  EXPECT_EQ(r.call("GET", "/")->content_type, "text/html; charset=utf-8");
}

TEST(Routes, Models) {
  Router r;
  const Json j = r.call("GET", "/v1/models?x=1")->json();
  EXPECT_EQ(j["object"], "list");
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
  EXPECT_EQ(j["data"][0]["max_model_len"], 64);
  EXPECT_EQ(r.call("GET", "/v1/models/alias")->json()["id"], "alias");
  r.expect_error(r.call("GET", "/v1/models/other"), 404, "model_not_found");
}

TEST(Routes, MetricsHaveVllmNames) {
  Router r;
  r.backend->stats_value.running = 3;
  r.backend->stats_value.kv_usage = 0.25;
  const auto s = r.call("GET", "/metrics");
  EXPECT_EQ(s->content_type.rfind("text/plain", 0), 0u);
  for (const char* name :
       {"vllm:num_requests_running{model_name=\"tiny\"} 3", "vllm:num_requests_waiting",
        "vllm:kv_cache_usage_perc{model_name=\"tiny\"} 0.25", "vllm:prefix_cache_queries_total",
        "vllm:prefix_cache_hits_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total",
        "vllm:request_success_total", "vllm:time_to_first_token_seconds_bucket",
        "vllm:inter_token_latency_seconds_sum", "vllm:e2e_request_latency_seconds_count",
        "le=\"+Inf\""}) {
    EXPECT_NE(s->body.find(name), std::string::npos) << name;
  }
}

TEST(Routes, BadInputIsAlways4xxJson) {
  Router r;
  const char* bodies[] = {
      "",
      "{",
      "null",
      "[]",
      "{\"prompt\": \"\xc3\x28\"}",
      R"({"prompt": 12})",
      R"({"prompt": "x", "max_tokens": -5})",
      R"({"prompt": "x", "n": 99999})",
      R"({"prompt": [999999999]})",
      R"({"prompt": "x", "preset": "nope"})",
      R"({"prompt": "x", "model": "gpt-4"})",
  };
  for (const char* body : bodies) {
    const auto s = r.call("POST", "/v1/completions", body);
    EXPECT_GE(s->status, 400) << body;
    EXPECT_LT(s->status, 500) << body;
    r.expect_error(s, s->status);
  }
  r.expect_error(r.call("POST", "/v1/completions", R"({"prompt": "x", "model": "gpt-4"})"), 404,
                 "model_not_found");
  r.expect_error(r.call("POST", "/v1/chat/completions", R"({"messages": 3})"), 400);
  EXPECT_TRUE(r.backend->requests.empty());
}

TEST(Routes, ContextLengthSaysTheNumbers) {
  Router r;  // max_model_len 64
  std::string long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt += "word ";
  Json e = r.expect_error(r.call("POST", "/v1/completions", Json{{"prompt", long_prompt}}.dump()),
                          400, "context_length_exceeded");
  EXPECT_NE(e["message"].get<std::string>().find("64"), std::string::npos);
  const std::string n = std::to_string(r.state.model->tokenizer->encode(long_prompt).size());
  EXPECT_NE(e["message"].get<std::string>().find(n), std::string::npos) << e["message"];
  e = r.expect_error(r.call("POST", "/v1/completions", R"({"prompt": "hi", "max_tokens": 64})"),
                     400, "context_length_exceeded");
  EXPECT_EQ(e["param"], "max_tokens");
  EXPECT_TRUE(r.backend->requests.empty());
}

TEST(Routes, CompletionReachesTheEngine) {
  Router r;
  const auto s = r.call("POST", "/v1/completions",
                        R"({"prompt": "Hello", "temperature": 0, "seed": 3, "stop": ["x"]})");
  ASSERT_NE(r.job, nullptr);
  ASSERT_EQ(r.backend->requests.size(), 1u);
  const EngineRequest& e = r.backend->requests[0];
  EXPECT_EQ(e.prompt, r.state.model->tokenizer->encode("Hello"));
  EXPECT_EQ(e.params.max_tokens, 16);  // OpenAI's completions default
  EXPECT_EQ(e.params.temperature, 0);
  EXPECT_EQ(e.params.seed, 3u);
  r.backend->emit(1, text_output(1, 0, " world", 1, FinishReason::kStop, true));
  EXPECT_EQ(s->json()["choices"][0]["text"], " world");
}

TEST(Routes, ChatRendersTheTemplate) {
  Router r;
  r.call("POST", "/v1/chat/completions",
         R"({"messages": [{"role": "user", "content": "Hi"}],
             "chat_template_kwargs": {"enable_thinking": false}})");
  ASSERT_EQ(r.backend->requests.size(), 1u);
  const EngineRequest& e = r.backend->requests[0];
  const std::string prompt = r.state.model->tokenizer->decode(e.prompt);
  EXPECT_EQ(prompt,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(e.params.max_tokens, 64 - static_cast<int64_t>(e.prompt.size()));  // rest of context
}

TEST(Routes, ChatWithoutTemplateIs400) {
  Router r("", /*with_template=*/false);
  r.expect_error(r.call("POST", "/v1/chat/completions",
                        R"({"messages": [{"role": "user", "content": "Hi"}]})"),
                 400);
}

TEST(Routes, TokenizeAndDetokenize) {
  Router r;
  Json j = r.call("POST", "/tokenize", R"({"prompt": "Hello world"})")->json();
  EXPECT_EQ(j["count"], 2);
  EXPECT_EQ(j["max_model_len"], 64);
  EXPECT_EQ(j["tokens"].size(), 2u);
  EXPECT_TRUE(j["token_strs"].is_null());
  const Json tokens = j["tokens"];
  j = r.call("POST", "/detokenize", Json{{"tokens", tokens}}.dump())->json();
  EXPECT_EQ(j["prompt"], "Hello world");
  j = r.call("POST", "/tokenize",
             R"({"messages": [{"role": "user", "content": "Hi"}], "return_token_strs": true,
                 "tools": [{"type": "function", "function": {"name": "get_weather"}}]})")
          ->json();
  EXPECT_GT(j["count"].get<int>(), 20);
  EXPECT_EQ(j["token_strs"].size(), j["tokens"].size());
  std::string text;
  for (const Json& t : j["token_strs"]) text += t.get<std::string>();
  EXPECT_NE(text.find("get_weather"), std::string::npos);  // tools reach the template
  r.expect_error(r.call("POST", "/detokenize", R"({"tokens": [-1]})"), 400);
  r.expect_error(r.call("POST", "/detokenize", R"({"tokens": "abc"})"), 400);
  r.expect_error(r.call("POST", "/tokenize", R"({})"), 400);
}

TEST(Routes, ToolChoiceRequiredForcesTheCallOpening) {
  Router r;
  r.state.model->max_model_len = 512;  // the tool definitions take ~120 tokens
  const auto s = r.call("POST", "/v1/chat/completions",
                        R"({"messages": [{"role": "user", "content": "Weather?"}],
             "tools": [{"type": "function", "function": {"name": "get_weather"}}],
             "tool_choice": {"type": "function", "function": {"name": "get_weather"}}})");
  ASSERT_EQ(r.backend->requests.size(), 1u) << s->body;
  const std::string prompt = r.state.model->tokenizer->decode(r.backend->requests[0].prompt);
  EXPECT_TRUE(prompt.ends_with("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "))
      << prompt;
}

}  // namespace
}  // namespace qwen3::server::test
