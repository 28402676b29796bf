// SSE parsing at every byte split, and the meaning of OpenAI stream chunks.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "bench/openai_stream.h"
#include "bench/sse.h"

namespace qwen3::bench {
namespace {

const char* const kStream =
    ": keep-alive comment\r\n"
    "data: {\"choices\":[{\"text\":\"Hel\"}]}\r\n\r\n"
    "event: message\n"
    "id: 7\n"
    "data: {\"choices\":[{\"text\":\"lo \\u4e16\"}]}\n\n"
    "data:first\n"
    "data: second\n\n"
    "\r\r"  // blank lines with no data: no event
    "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\r\r"
    "data: [DONE]\n\n";

const std::vector<std::string> kEvents = {
    "{\"choices\":[{\"text\":\"Hel\"}]}",
    "{\"choices\":[{\"text\":\"lo \\u4e16\"}]}",
    "first\nsecond",
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}",
    "[DONE]",
};

std::vector<std::string> parse_in_pieces(std::string_view s, const std::vector<size_t>& cuts) {
  SseParser p;
  std::vector<std::string> events;
  size_t pos = 0;
  for (size_t cut : cuts) {
    p.feed(s.substr(pos, cut - pos), events);
    pos = cut;
  }
  p.feed(s.substr(pos), events);
  p.finish(events);
  return events;
}

TEST(BenchSse, WholeStream) { EXPECT_EQ(parse_in_pieces(kStream, {}), kEvents); }

TEST(BenchSse, EverySingleAndDoubleSplit) {
  const std::string s = kStream;
  for (size_t i = 0; i <= s.size(); ++i) {
    ASSERT_EQ(parse_in_pieces(s, {i}), kEvents) << "split at " << i;
    for (size_t j = i; j <= s.size(); j += 7) {
      ASSERT_EQ(parse_in_pieces(s, {i, j}), kEvents) << "split at " << i << ", " << j;
    }
  }
}

TEST(BenchSse, ByteAtATimeAndRandomChunks) {
  const std::string s = kStream;
  std::vector<size_t> all(s.size());
  for (size_t i = 0; i < s.size(); ++i) all[i] = i;
  EXPECT_EQ(parse_in_pieces(s, all), kEvents);
  std::mt19937 gen(5);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<size_t> cuts;
    for (size_t pos = 0; pos < s.size();) {
      pos += 1 + gen() % 9;
      if (pos < s.size()) cuts.push_back(pos);
    }
    ASSERT_EQ(parse_in_pieces(s, cuts), kEvents) << "trial " << trial;
  }
}

TEST(BenchSse, LastEventWithoutBlankLineIsKeptAtEnd) {
  SseParser p;
  std::vector<std::string> events;
  p.feed("data: a\n\ndata: b", events);
  EXPECT_EQ(events, std::vector<std::string>{"a"});
  p.finish(events);
  EXPECT_EQ(events, (std::vector<std::string>{"a", "b"}));
}

TEST(BenchOpenAi, CompletionChunks) {
  StreamChunk c = parse_stream_chunk(ApiKind::kCompletions, kEvents[1]);
  EXPECT_EQ(c.text, "lo \xe4\xb8\x96");
  EXPECT_FALSE(c.done);
  EXPECT_FALSE(c.completion_tokens);
  c = parse_stream_chunk(ApiKind::kCompletions, kEvents[3]);
  EXPECT_EQ(c.text, "");
  EXPECT_EQ(c.completion_tokens, 2);
  EXPECT_EQ(c.prompt_tokens, 3);
  EXPECT_TRUE(parse_stream_chunk(ApiKind::kCompletions, "[DONE]").done);
  c = parse_stream_chunk(ApiKind::kCompletions, "not json");
  EXPECT_FALSE(c.error.empty());
  c = parse_stream_chunk(ApiKind::kCompletions,
                         R"({"error":{"message":"boom","type":"x","code":"y"}})");
  EXPECT_EQ(c.error, "boom");
}

TEST(BenchOpenAi, ChatChunksCountContentReasoningOnceAndToolCalls) {
  StreamChunk c = parse_stream_chunk(
      ApiKind::kChat, R"({"choices":[{"delta":{"role":"assistant","content":""}}]})");
  EXPECT_EQ(c.text, "");
  c = parse_stream_chunk(ApiKind::kChat,
                         R"({"choices":[{"delta":{"reasoning_content":"hm","reasoning":"hm"}}]})");
  EXPECT_EQ(c.text, "hm");
  c = parse_stream_chunk(ApiKind::kChat, R"({"choices":[{"delta":{"reasoning":"r"}}]})");
  EXPECT_EQ(c.text, "r");
  c = parse_stream_chunk(
      ApiKind::kChat,
      R"({"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{\"a\""}}]}}]})");
  EXPECT_EQ(c.text, "f{\"a\"");
  c = parse_stream_chunk(ApiKind::kChat, R"({"choices":[{"delta":{"content":"Hi"}}]})");
  EXPECT_EQ(c.text, "Hi");
}

TEST(BenchOpenAi, RequestBodies) {
  EXPECT_EQ(api_kind_for_endpoint("/v1/chat/completions"), ApiKind::kChat);
  EXPECT_EQ(api_kind_for_endpoint("/v1/chat/completions/"), ApiKind::kChat);
  EXPECT_EQ(api_kind_for_endpoint("/v1/completions"), ApiKind::kCompletions);
  using nlohmann::json;
  json j = json::parse(build_request_body({ApiKind::kCompletions, "m", true}, "hi", 7));
  EXPECT_EQ(j["model"], "m");
  EXPECT_EQ(j["prompt"], "hi");
  EXPECT_EQ(j["max_tokens"], 7);
  EXPECT_EQ(j["stream"], true);
  EXPECT_EQ(j["stream_options"]["include_usage"], true);
  EXPECT_EQ(j["ignore_eos"], true);
  EXPECT_EQ(j["temperature"], 0.0);
  j = json::parse(build_request_body({ApiKind::kChat, "m", false}, "hi", 3));
  EXPECT_EQ(j["messages"][0]["role"], "user");
  EXPECT_EQ(j["messages"][0]["content"], "hi");
  EXPECT_FALSE(j.contains("ignore_eos"));
  EXPECT_FALSE(j.contains("prompt"));
}

}  // namespace
}  // namespace qwen3::bench
