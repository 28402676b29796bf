// GenerationJob with a hand-driven engine: engine outputs -> OpenAI JSON / SSE, usage,
// reasoning and tool-call splitting, errors, cancellation, metrics.
#include <gtest/gtest.h>

#include "fake_backend.h"
#include "fake_sink.h"
#include "server/chat_job.h"
#include "server/completion_job.h"

namespace qwen3::server::test {
namespace {

struct Harness {
  ManualBackend backend;
  ServerMetrics metrics;
  std::shared_ptr<const text::Tokenizer> tok = shared_tokenizer();
  std::shared_ptr<FakeSink> sink = std::make_shared<FakeSink>();
  JobContext ctx() { return {&backend, tok.get(), &metrics}; }
  ResponseMeta meta() { return {"id-1", 1700000000, "tiny"}; }

  std::shared_ptr<GenerationJob> completion(const char* body, int prompts = 1) {
    const CompletionRequest r = parse_completion_request(Json::parse(body));
    auto job =
        std::make_shared<CompletionJob>(ctx(), meta(), r, std::vector<std::string>(prompts, ""),
                                        r.common.sampling.n.value_or(1), sink);
    std::vector<EngineRequest> reqs(static_cast<size_t>(prompts));
    for (auto& e : reqs) e.params.n = r.common.sampling.n.value_or(1);
    job->start(std::move(reqs), kInline);
    return job;
  }

  std::shared_ptr<GenerationJob> chat(const char* body, ChatJobOptions o = {}) {
    const ChatRequest r = parse_chat_request(Json::parse(body));
    auto job = std::make_shared<ChatJob>(ctx(), meta(), r, std::move(o), sink);
    std::vector<EngineRequest> reqs(1);
    reqs[0].params.n = r.common.sampling.n.value_or(1);
    job->start(std::move(reqs), kInline);
    return job;
  }

  // Feeds `pieces` to choice 0 of request 1, the last one finishing with `finish`.
  void feed(const std::vector<std::string>& pieces, FinishReason finish = FinishReason::kStop) {
    for (size_t i = 0; i < pieces.size(); ++i) {
      const bool last = i + 1 == pieces.size();
      backend.emit(1, text_output(1, 0, pieces[i], static_cast<int64_t>(i + 1),
                                  last ? finish : FinishReason::kNone, last));
    }
  }
};

constexpr const char* kChat = R"({"messages": [{"role": "user", "content": "hi"}]})";
constexpr const char* kChatStream =
    R"({"messages": [{"role": "user", "content": "hi"}], "stream": true,
        "stream_options": {"include_usage": true}})";
constexpr const char* kTools =
    R"({"messages": [{"role": "user", "content": "hi"}], "stream": STREAM,
        "tools": [{"type": "function", "function": {"name": "get_weather"}}]})";

std::string with_stream(bool stream) {
  std::string s = kTools;
  s.replace(s.find("STREAM"), 6, stream ? "true" : "false");
  return s;
}

ChatJobOptions opts(ReasoningMode mode, bool tools = false, bool logprobs = false) {
  ChatJobOptions o;
  o.reasoning = mode;
  o.parse_tool_calls = tools;
  o.logprobs = logprobs;
  return o;
}

TEST(GenerationJob, CompletionWhole) {
  Harness h;
  auto job = h.completion(R"({"prompt": "x", "max_tokens": 5})");
  h.feed({"Hello", " world"}, FinishReason::kLength);
  ASSERT_TRUE(h.sink->done);
  EXPECT_EQ(h.sink->status, 200);
  const Json r = h.sink->json();
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["id"], "id-1");
  EXPECT_EQ(r["model"], "tiny");
  EXPECT_EQ(r["choices"][0]["text"], "Hello world");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(r["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(r["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(r["usage"]["completion_tokens"], 2);
  EXPECT_EQ(r["usage"]["total_tokens"], 7);
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
  EXPECT_TRUE(job->complete());
  EXPECT_TRUE(h.backend.aborted.empty());
}

TEST(GenerationJob, CompletionStreamWithUsage) {
  Harness h;
  h.completion(R"({"prompt": "x", "stream": true, "stream_options": {"include_usage": true}})");
  EXPECT_TRUE(h.sink->streaming);
  h.feed({"a", "b"});
  const auto ev = h.sink->events();
  ASSERT_EQ(ev.size(), 4u) << h.sink->body;
  EXPECT_EQ(Json::parse(ev[0])["choices"][0]["text"], "a");
  EXPECT_TRUE(Json::parse(ev[0])["usage"].is_null());
  EXPECT_EQ(Json::parse(ev[1])["choices"][0]["finish_reason"], "stop");
  const Json usage = Json::parse(ev[2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 2);
  EXPECT_EQ(ev[3], "[DONE]");
}

TEST(GenerationJob, CompletionBatchAndNIndexChoices) {
  Harness h;
  h.completion(R"({"prompt": ["p", "q"], "n": 2})", 2);
  h.backend.emit(1, text_output(1, 1, "B", 1, FinishReason::kStop, false));
  h.backend.emit(1, text_output(1, 0, "A", 2, FinishReason::kStop, true));
  EXPECT_FALSE(h.sink->done);
  h.backend.emit(2, text_output(2, 1, "D", 1, FinishReason::kStop, false));
  h.backend.emit(2, text_output(2, 0, "C", 2, FinishReason::kStop, true));
  const Json r = h.sink->json();
  ASSERT_EQ(r["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(r["choices"][i]["index"], i);
  EXPECT_EQ(r["choices"][0]["text"], "A");
  EXPECT_EQ(r["choices"][3]["text"], "D");
  EXPECT_EQ(r["usage"]["prompt_tokens"], 10);  // 5 per prompt, counted once per prompt
  EXPECT_EQ(r["usage"]["completion_tokens"], 4);
}

TEST(GenerationJob, ChatWholeSplitsReasoning) {
  Harness h;
  h.chat(kChat);
  h.feed({"<think>", "\nponder", "\n</think>\n\n", "The answer."});
  const Json r = h.sink->json();
  EXPECT_EQ(r["object"], "chat.completion");
  const Json& m = r["choices"][0]["message"];
  EXPECT_EQ(m["role"], "assistant");
  EXPECT_EQ(m["reasoning_content"], "ponder");
  EXPECT_EQ(m["reasoning"], "ponder");
  EXPECT_EQ(m["content"], "The answer.");
  EXPECT_FALSE(m.contains("tool_calls"));
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
}

TEST(GenerationJob, ThinkingDisabledNeverFillsReasoning) {
  Harness h;
  h.chat(kChat, opts(ReasoningMode::kOff));
  h.feed({"<think>not", " reasoning</think>", "answer"});
  const Json r = h.sink->json();
  const Json& m = r["choices"][0]["message"];
  EXPECT_TRUE(m["reasoning_content"].is_null());
  EXPECT_EQ(m["content"], "<think>not reasoning</think>answer");
}

TEST(GenerationJob, ThinkingTemplateOpensReasoningInPrompt) {
  Harness h;
  h.chat(kChat, opts(ReasoningMode::kOpen));
  h.feed({"still thinking", "</think>", "done"});
  const Json r = h.sink->json();
  const Json& m = r["choices"][0]["message"];
  EXPECT_EQ(m["reasoning_content"], "still thinking");
  EXPECT_EQ(m["content"], "done");
}

TEST(GenerationJob, ChatStreamRoleReasoningContentUsageDone) {
  Harness h;
  h.chat(kChatStream);
  h.feed({"<think>r</think>", "c1", "c2"});
  const auto ev = h.sink->events();
  ASSERT_GE(ev.size(), 5u) << h.sink->body;
  const Json first = Json::parse(ev[0]);
  EXPECT_EQ(first["object"], "chat.completion.chunk");
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  std::string reasoning, content;
  Json last_choice;
  for (size_t i = 1; i + 2 < ev.size(); ++i) {
    const Json c = Json::parse(ev[i]);
    EXPECT_TRUE(c["usage"].is_null());
    const Json& d = c["choices"][0]["delta"];
    reasoning += d.value("reasoning_content", "");
    content += d.value("content", "");
    last_choice = c["choices"][0];
  }
  EXPECT_EQ(reasoning, "r");
  EXPECT_EQ(content, "c1c2");
  EXPECT_EQ(last_choice["finish_reason"], "stop");
  EXPECT_EQ(Json::parse(ev[ev.size() - 2])["usage"]["completion_tokens"], 3);
  EXPECT_EQ(ev.back(), "[DONE]");
}

TEST(GenerationJob, ToolCallWhole) {
  Harness h;
  h.chat(with_stream(false).c_str(), opts(ReasoningMode::kDetect, true));
  h.feed({"Let me check.\n<tool_call>\n{\"name\": \"get_weather\", ",
          "\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"});
  const Json r = h.sink->json();
  const Json& m = r["choices"][0]["message"];
  EXPECT_EQ(m["content"], "Let me check.");
  ASSERT_EQ(m["tool_calls"].size(), 1u);
  EXPECT_EQ(m["tool_calls"][0]["type"], "function");
  EXPECT_EQ(m["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(Json::parse(m["tool_calls"][0]["function"]["arguments"].get<std::string>())["city"],
            "Paris");
  EXPECT_EQ(m["tool_calls"][0]["id"].get<std::string>().rfind("call_", 0), 0u);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
}

TEST(GenerationJob, ToolCallStreamDeltas) {
  Harness h;
  h.chat(with_stream(true).c_str(), opts(ReasoningMode::kDetect, true));
  h.feed({"<tool_call>\n{\"name\": \"get_weather\", \"arguments\": ", "{\"city\": \"Oslo\"}}\n",
          "</tool_call>"});
  std::string name, args, id, finish;
  for (const std::string& e : h.sink->events()) {
    if (e == "[DONE]") continue;
    const Json c = Json::parse(e);
    if (c["choices"].empty()) continue;
    const Json& ch = c["choices"][0];
    if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"];
    if (!ch["delta"].contains("tool_calls")) continue;
    for (const Json& t : ch["delta"]["tool_calls"]) {
      EXPECT_EQ(t["index"], 0);
      if (t.contains("id")) id = t["id"];
      name += t["function"].value("name", "");
      args += t["function"].value("arguments", "");
    }
  }
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(Json::parse(args)["city"], "Oslo");
  EXPECT_FALSE(id.empty());
  EXPECT_EQ(finish, "tool_calls");
}

TEST(GenerationJob, NamedToolChoiceParsesForcedPrefix) {
  Harness h;
  ChatJobOptions o = opts(ReasoningMode::kDetect, true);
  o.named_tool_choice = true;
  o.forced_prefix = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": ";
  h.chat(with_stream(false).c_str(), o);
  h.feed({"{\"city\": \"Rome\"}}", "\n</tool_call>"});
  const Json r = h.sink->json();
  EXPECT_EQ(r["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_TRUE(r["choices"][0]["message"]["content"].is_null());
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");  // OpenAI's value for a forced call
}

TEST(GenerationJob, LogprobsShapes) {
  Harness h;
  h.chat(R"({"messages": [{"role": "user", "content": "hi"}], "logprobs": true,
             "top_logprobs": 1})",
         opts(ReasoningMode::kDetect, false, true));
  RequestOutput o = text_output(1, 0, "Hi", 1, FinishReason::kStop, true);
  o.choices[0].logprobs.push_back({13048, -0.25f, {{13048, -0.25f}}});
  h.backend.emit(1, std::move(o));
  const Json whole = h.sink->json();
  const Json& lp = whole["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 1u);
  EXPECT_EQ(lp[0]["token"], h.tok->decode({13048}));
  EXPECT_EQ(lp[0]["logprob"], -0.25);
  EXPECT_TRUE(lp[0]["bytes"].is_array());
  EXPECT_EQ(lp[0]["top_logprobs"].size(), 1u);

  Harness c;
  c.completion(R"({"prompt": "x", "logprobs": 1})");
  o = text_output(1, 0, "ab", 2, FinishReason::kStop, true);
  o.choices[0].logprobs = {{64, -1.0f, {{64, -1.0f}}}, {65, -2.0f, {{65, -2.0f}}}};
  c.backend.emit(1, std::move(o));
  const Json cwhole = c.sink->json();
  const Json& clp = cwhole["choices"][0]["logprobs"];
  EXPECT_EQ(clp["tokens"], (Json{"a", "b"}));
  EXPECT_EQ(clp["token_logprobs"], (Json{-1.0, -2.0}));
  EXPECT_EQ(clp["text_offset"], (Json{0, 1}));
  EXPECT_EQ(clp["top_logprobs"][1]["b"], -2.0);
}

TEST(GenerationJob, EngineErrorWholeAndStreamed) {
  Harness h;
  h.chat(kChat);
  RequestOutput o;
  o.finished = true;
  o.error = Error(ErrorCode::kInternal, "runner failed");
  h.backend.emit(1, o);
  EXPECT_EQ(h.sink->status, 500);
  EXPECT_EQ(h.sink->json()["error"]["message"], "runner failed");

  Harness s;
  s.chat(kChatStream);
  s.backend.emit(1, o);
  const auto ev = s.sink->events();
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(Json::parse(ev[1])["error"]["code"], "internal_error");
  EXPECT_EQ(ev[2], "[DONE]");
}

TEST(GenerationJob, SubmitRefusedMapsStatus) {
  Harness h;
  h.backend.refuse = Error(ErrorCode::kOverloaded, "queue full");
  try {
    h.chat(kChat);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 429);
  }
  EXPECT_FALSE(h.sink->done);  // nothing written: the router answers with the error
  h.backend.refuse = Error(ErrorCode::kContextLength, "too long: 40 > 32");
  try {
    h.completion(R"({"prompt": "x"})");
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_EQ(e.code(), "context_length_exceeded");
  }
}

TEST(GenerationJob, CancelAbortsAndWritesNothingMore) {
  Harness h;
  auto job = h.chat(kChatStream);
  h.backend.emit(1, text_output(1, 0, "partial", 1));
  const std::string before = h.sink->body;
  job->cancel();
  EXPECT_EQ(h.backend.aborted, (std::vector<uint64_t>{1}));
  EXPECT_EQ(h.metrics.requests_in_engine.load(), 1);  // until the engine confirms
  h.backend.emit(1, text_output(1, 0, "", 1, FinishReason::kAbort, true));
  EXPECT_EQ(h.metrics.requests_in_engine.load(), 0);
  EXPECT_EQ(h.sink->body, before);
  EXPECT_TRUE(job->complete());
}

TEST(GenerationJob, MetricsRecorded) {
  Harness h;
  h.completion(R"({"prompt": "x"})");
  h.feed({"a", "b", "c"});
  const std::string text = h.metrics.render(EngineStats{}, "tiny");
  EXPECT_NE(text.find("vllm:time_to_first_token_seconds_count{model_name=\"tiny\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:inter_token_latency_seconds_count{model_name=\"tiny\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:e2e_request_latency_seconds_count{model_name=\"tiny\"} 1"),
            std::string::npos);
  EXPECT_NE(text.find("vllm:request_success_total{model_name=\"tiny\",finished_reason=\"stop\"} 1"),
            std::string::npos);
}

TEST(ReasoningMode, ReadOffThePrompt) {
  EXPECT_EQ(reasoning_mode_of_prompt("<|im_start|>assistant\n"), ReasoningMode::kDetect);
  EXPECT_EQ(reasoning_mode_of_prompt("<|im_start|>assistant\n<think>\n"), ReasoningMode::kOpen);
  EXPECT_EQ(reasoning_mode_of_prompt("<|im_start|>assistant\n<think>\n\n</think>\n\n"),
            ReasoningMode::kOff);
  // An earlier turn's closed block does not count.
  EXPECT_EQ(reasoning_mode_of_prompt("<think>a</think>b<|im_end|>\n<|im_start|>assistant\n"),
            ReasoningMode::kDetect);
}

}  // namespace
}  // namespace qwen3::server::test
