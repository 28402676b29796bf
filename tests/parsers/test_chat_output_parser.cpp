#include <gtest/gtest.h>

#include <random>

#include "split_streaming.h"
#include "tokenizer/parsers/chat_output_parser.h"

namespace qwen3 {
namespace {

using testing::call;
using testing::expect_same_at_every_split;

constexpr ChatOutputOptions kThinkingWithTools{.starts_in_reasoning = true,
                                               .parse_tool_calls = true};
constexpr ChatOutputOptions kPlainWithTools{.starts_in_reasoning = false, .parse_tool_calls = true};
constexpr ChatOutputOptions kPlainNoTools{.starts_in_reasoning = false, .parse_tool_calls = false};

ChatOutput message(std::string reasoning, std::string content, std::vector<ToolCall> calls = {}) {
  return {.reasoning = std::move(reasoning),
          .content = std::move(content),
          .tool_calls = std::move(calls)};
}

// Hybrid Qwen3 with enable_thinking=true: generated <think>, text, two calls with nested
// and non-ASCII arguments, one containing a near-marker inside a JSON string.
const std::string kHybridTwoCalls =
    "<think>\n用户想知道北京和 Paris 的天气🌧。I should call get_weather "
    "twice.\n</think>\n\n"
    "我来查一下。\n\n"
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\", \"opts\": "
    "{\"days\": [1, 2], \"note\": \"😀 \\\"q\\\" </tool_ca <think>\"}}}\n</tool_call>\n"
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}\n"
    "</tool_call>";

TEST(ChatOutputParser, HybridThinkingWithTwoCalls) {
  const ChatOutput got = expect_same_at_every_split(kHybridTwoCalls, kPlainWithTools);
  EXPECT_EQ(
      got,
      message("用户想知道北京和 Paris 的天气🌧。I should call get_weather twice.",
              "我来查一下。",
              {call(0, "get_weather",
                    R"({"city":"北京","opts":{"days":[1,2],"note":"😀 \"q\" </tool_ca <think>"}})"),
               call(1, "get_weather", R"({"city":"Paris"})")}));
}

TEST(ChatOutputParser, ThinkingPromptOutputs) {
  EXPECT_EQ(
      expect_same_at_every_split("Let me see.\n</think>\n\nThe answer is 42.", kThinkingWithTools),
      message("Let me see.", "The answer is 42."));
  EXPECT_EQ(expect_same_at_every_split("</think>", kThinkingWithTools), message("", ""));
  EXPECT_EQ(expect_same_at_every_split(
                "</think>\n\n" + std::string("<tool_call>{\"name\":\"a\"}</tool_call>"),
                kThinkingWithTools),
            message("", "", {call(0, "a", "{}")}));
  // Cut off while thinking: all reasoning, and a call mentioned in reasoning stays text.
  const std::string thought = "maybe <tool_call>{\"name\":\"a\"}</tool_call> then 🤔";
  EXPECT_EQ(expect_same_at_every_split(thought, kThinkingWithTools), message(thought, ""));
}

// enable_thinking=false and Instruct-2507: everything is content, whatever it contains.
TEST(ChatOutputParser, ThinkingDisabledIsAllContent) {
  const std::string answer =
      "Sure — 你好🌍! Tags: <thin, </thi, </think>, <tool_ca, </tool_ca, <think>.";
  EXPECT_EQ(expect_same_at_every_split(answer, kPlainWithTools), message("", answer));
  EXPECT_EQ(expect_same_at_every_split(answer, kPlainNoTools), message("", answer));
  EXPECT_EQ(expect_same_at_every_split("</think>\n\nx", kPlainWithTools),
            message("", "</think>\n\nx"));
}

TEST(ChatOutputParser, MarkersAtTheVeryStartAndEnd) {
  EXPECT_EQ(expect_same_at_every_split("<tool_call>{\"name\":\"a\",\"arguments\":{}}</tool_call>",
                                       kPlainWithTools),
            message("", "", {call(0, "a", "{}")}));
  EXPECT_EQ(expect_same_at_every_split("<think>x</think>", kPlainWithTools), message("x", ""));
  EXPECT_EQ(expect_same_at_every_split("text<tool_call>", kPlainWithTools),
            message("", "text<tool_call>"));
  EXPECT_EQ(expect_same_at_every_split("text</tool_ca", kPlainWithTools),
            message("", "text</tool_ca"));
  EXPECT_EQ(expect_same_at_every_split("<thin", kPlainWithTools), message("", "<thin"));
  EXPECT_EQ(expect_same_at_every_split("", kThinkingWithTools), message("", ""));
}

TEST(ChatOutputParser, MalformedAndUnclosedBlocksStayContent) {
  const std::string bad =
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1,}}\n</tool_call>";
  const std::string text =
      "<think>\nok\n</think>\n\nTrying.\n" + bad + "\n" +
      "<tool_call>\n{\"name\": \"g\", \"arguments\": {\"y\": \"é\"}}\n</tool_call>\n" +
      "<tool_call>\n{\"name\": \"h\", \"arguments\": {\"z\": ";
  EXPECT_EQ(
      expect_same_at_every_split(text, kPlainWithTools),
      message("ok", "Trying.\n" + bad + "\n<tool_call>\n{\"name\": \"h\", \"arguments\": {\"z\": ",
              {call(0, "g", R"({"y":"é"})")}));
}

TEST(ChatOutputParser, WithoutToolParsingBlocksAreText) {
  const std::string text =
      "<think>r</think>a " + std::string("<tool_call>{\"name\":\"a\"}</tool_call>") + " ";
  EXPECT_EQ(expect_same_at_every_split(text, kPlainNoTools),
            message("r", "a <tool_call>{\"name\":\"a\"}</tool_call> "));
}

// Random texts assembled from markers, near-markers, JSON pieces and multi-byte text, fed
// in random chunks: streamed must equal non-streamed, and no fragment may split UTF-8.
TEST(ChatOutputParser, RandomTextsRandomChunks) {
  const std::vector<std::string> pieces = {
      "<think>",
      "</think>",
      "<tool_call>",
      "</tool_call>",
      "\n",
      "\n\n",
      " ",
      "<",
      "</",
      "<thin",
      "</thi",
      "<tool_ca",
      "</tool_ca",
      "你好",
      "😀",
      "é",
      "abc",
      "{\"name\": \"f\", \"arguments\": {\"a\": \"é\"}}",
      "{\"name\": \"g\"}",
      "{bad",
      "\"",
      "}",
      "{\"name\": \"s\", \"arguments\": \"{\\\"k\\\": [1]}\"}"};
  std::mt19937 rng(42);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const size_t count = rng() % 14;
    for (size_t i = 0; i < count; ++i) text += pieces[rng() % pieces.size()];
    const ChatOutputOptions options{.starts_in_reasoning = rng() % 2 == 0,
                                    .parse_tool_calls = rng() % 4 != 0};
    const ChatOutput whole = parse_chat_output(text, options);
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i) {
      if (rng() % 3 == 0) cuts.push_back(i);
    }
    EXPECT_EQ(testing::stream_chat(testing::cut(text, cuts), options, /*check_utf8=*/true), whole)
        << "trial " << trial << ": " << text;
    const size_t first = text.find_first_not_of(" \n");
    if (!options.starts_in_reasoning &&
        std::string_view(text).substr(std::min(first, text.size())).find("<think>") != 0) {
      EXPECT_EQ(whole.reasoning, "") << text;  // never reasoning without an opening
    }
  }
}

TEST(ChatOutputParser, DeltasCarryReasoningBeforeContent) {
  ChatOutputParser parser(kThinkingWithTools);
  ChatDelta delta = parser.feed("a</think>\n\nb");
  EXPECT_EQ(delta.reasoning, "a");
  ASSERT_EQ(delta.events.size(), 1u);
  EXPECT_EQ(delta.events[0].text, "b");
  EXPECT_TRUE(parser.finish().empty());
}

}  // namespace
}  // namespace qwen3
