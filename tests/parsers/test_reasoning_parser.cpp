#include <gtest/gtest.h>

#include "core/error.h"
#include "split_streaming.h"
#include "tokenizer/parsers/reasoning_parser.h"

namespace qwen3 {
namespace {

constexpr ReasoningParserOptions kThinkingPrompt{.starts_in_reasoning = true};
constexpr ReasoningParserOptions kPlainPrompt{.starts_in_reasoning = false};

ReasoningDelta both(std::string reasoning, std::string content) {
  return {.reasoning = std::move(reasoning), .content = std::move(content)};
}

// Streams `text` one byte at a time; every fragment must be valid UTF-8.
ReasoningDelta stream_bytes(std::string_view text, ReasoningParserOptions options) {
  ReasoningParser parser(options);
  ReasoningDelta all;
  auto add = [&](const ReasoningDelta& d) {
    EXPECT_TRUE(testing::is_valid_utf8(d.reasoning)) << d.reasoning;
    EXPECT_TRUE(testing::is_valid_utf8(d.content)) << d.content;
    all.reasoning += d.reasoning;
    all.content += d.content;
  };
  for (char c : text) add(parser.feed(std::string_view(&c, 1)));
  add(parser.finish());
  return all;
}

// Hybrid template, enable_thinking=true: the model writes the tags itself.
TEST(ReasoningParser, GeneratedThinkTagsSplitReasoningFromContent) {
  EXPECT_EQ(parse_reasoning("<think>\nLet me think.\n</think>\n\nThe answer.", kPlainPrompt),
            both("Let me think.", "The answer."));
  // Leading whitespace before the tag is dropped with it.
  EXPECT_EQ(parse_reasoning(" \n<think>x</think>y", kPlainPrompt), both("x", "y"));
  // A generated "<think>" is also consumed when the prompt already opened one.
  EXPECT_EQ(parse_reasoning("<think>\nx\n</think>\n\ny", kThinkingPrompt), both("x", "y"));
}

// Thinking-2507: the prompt ends in "<think>\n", the output holds only "</think>".
TEST(ReasoningParser, StartsInReasoningUntilThinkEnd) {
  EXPECT_EQ(parse_reasoning("Okay, 2+2.\n\n</think>\n\n4", kThinkingPrompt),
            both("Okay, 2+2.", "4"));
  EXPECT_EQ(parse_reasoning("</think>", kThinkingPrompt), both("", ""));
  EXPECT_EQ(parse_reasoning("</think>\n\nHi", kThinkingPrompt), both("", "Hi"));
  EXPECT_EQ(parse_reasoning("\n</think>", kThinkingPrompt), both("", ""));
  EXPECT_EQ(parse_reasoning("", kThinkingPrompt), both("", ""));
}

// Instruct-2507 and enable_thinking=false: the answer must never land in reasoning.
TEST(ReasoningParser, PlainPromptWithoutThinkIsAllContent) {
  const std::string answer = "Sure. Tags like </think> or <think> inside text stay text.\n";
  EXPECT_EQ(parse_reasoning(answer, kPlainPrompt), both("", answer));
  EXPECT_EQ(parse_reasoning("  \n  Hi", kPlainPrompt), both("", "  \n  Hi"));  // kept as is
  EXPECT_EQ(parse_reasoning("\n\n", kPlainPrompt), both("", "\n\n"));
  EXPECT_EQ(parse_reasoning("<thinking>x</think>", kPlainPrompt), both("", "<thinking>x</think>"));
  EXPECT_EQ(parse_reasoning("x<think>y</think>z", kPlainPrompt), both("", "x<think>y</think>z"));
  EXPECT_EQ(parse_reasoning("", kPlainPrompt), both("", ""));
}

// Rule 3: only '\n' next to the tags is stripped; inner newlines and spaces stay.
TEST(ReasoningParser, NewlinesNextToTagsAreStripped) {
  EXPECT_EQ(parse_reasoning("<think>\n\na\n\nb\n\n</think>\n\n\nc\n\nd\n", kPlainPrompt),
            both("a\n\nb", "c\n\nd\n"));
  EXPECT_EQ(parse_reasoning("<think> a </think> c ", kPlainPrompt), both(" a ", " c "));
  EXPECT_EQ(parse_reasoning("<think>\n\n</think>\n\n", kPlainPrompt), both("", ""));
  EXPECT_EQ(parse_reasoning("\n\na\n", kThinkingPrompt), both("a\n", ""));  // unclosed keeps tail
}

TEST(ReasoningParser, OnlyTheFirstThinkEndCloses) {
  EXPECT_EQ(parse_reasoning("a</think>b</think>c<think>d", kThinkingPrompt),
            both("a", "b</think>c<think>d"));
  EXPECT_EQ(parse_reasoning("<think>a<think>b</think>c", kPlainPrompt), both("a<think>b", "c"));
}

// Rule 4: reasoning cut off by max_tokens stays reasoning.
TEST(ReasoningParser, UnclosedReasoningStaysReasoning) {
  EXPECT_EQ(parse_reasoning("Still thinking about 北京", kThinkingPrompt),
            both("Still thinking about 北京", ""));
  EXPECT_EQ(parse_reasoning("<think>\nhalf a thought</thi", kPlainPrompt),
            both("half a thought</thi", ""));
  EXPECT_EQ(parse_reasoning("<think>", kPlainPrompt), both("", ""));
  EXPECT_EQ(parse_reasoning("<thi", kPlainPrompt), both("", "<thi"));  // never opened
}

// Rule 5: what is held back, and that it is released as soon as it cannot be a marker.
TEST(ReasoningParser, HoldsBackOnlyPossibleMarkers) {
  ReasoningParser plain(kPlainPrompt);
  EXPECT_EQ(plain.feed("Hello"), both("", "Hello"));        // decided at once
  EXPECT_EQ(plain.feed(" <think>"), both("", " <think>"));  // too late to open: text
  EXPECT_EQ(plain.finish(), both("", ""));

  ReasoningParser start(kPlainPrompt);
  EXPECT_EQ(start.feed(" \n<thin"), both("", ""));    // may still open
  EXPECT_EQ(start.feed("g"), both("", " \n<thing"));  // cannot: released whole
  EXPECT_EQ(start.finish(), both("", ""));

  ReasoningParser thinking(kThinkingPrompt);
  EXPECT_EQ(thinking.feed("step 1</th"), both("step 1", ""));
  EXPECT_EQ(thinking.feed("ree"), both("</three", ""));
  EXPECT_EQ(thinking.feed("\n\n"), both("", ""));  // may precede "</think>"
  EXPECT_EQ(thinking.feed("step 2\n</"), both("\n\nstep 2", ""));
  EXPECT_EQ(thinking.feed("think>\n"), both("", ""));
  EXPECT_EQ(thinking.feed("\nAnswer"), both("", "Answer"));
  EXPECT_EQ(thinking.finish(), both("", ""));
}

TEST(ReasoningParser, NeverSplitsUtf8) {
  const std::string ni = "\xE4\xBD\xA0";  // 你
  ReasoningParser plain(kPlainPrompt);
  EXPECT_EQ(plain.feed("a" + ni.substr(0, 2)), both("", "a"));
  EXPECT_EQ(plain.feed(ni.substr(2)), both("", ni));
  ReasoningParser thinking(kThinkingPrompt);
  EXPECT_EQ(thinking.feed(ni.substr(0, 1)), both("", ""));
  EXPECT_EQ(thinking.feed(ni.substr(1)), both(ni, ""));
}

TEST(ReasoningParser, FinishFlushesInvalidTrailingBytesUnchanged) {
  ReasoningParser plain(kPlainPrompt);
  EXPECT_EQ(plain.feed("ok\xE4"), both("", "ok"));
  EXPECT_EQ(plain.finish(), both("", "\xE4"));  // input was broken; passed on, not dropped
}

TEST(ReasoningParser, EveryByteSplitMatchesWholeParse) {
  const std::vector<std::pair<std::string, ReasoningParserOptions>> cases = {
      {"<think>\n用户问天气🌧。\n</think>\n\n北京今天下雨😀。", kPlainPrompt},
      {"嗯，让我想想</think>\n\n答案是42", kThinkingPrompt},
      {"</think>", kThinkingPrompt},
      {"<thin</thi<think></think></think>", kPlainPrompt},
      {"\n \n<think\n>", kPlainPrompt},
      {"a</th\n\n</think\n\n</think>\n\n\n", kThinkingPrompt},
      {"你</think>好", kPlainPrompt},
  };
  for (const auto& [text, options] : cases) {
    const ReasoningDelta whole = parse_reasoning(text, options);
    EXPECT_EQ(stream_bytes(text, options), whole) << text;
    for (size_t i = 0; i <= text.size(); ++i) {
      ReasoningParser parser(options);
      ReasoningDelta a = parser.feed(std::string_view(text).substr(0, i));
      ReasoningDelta b = parser.feed(std::string_view(text).substr(i));
      ReasoningDelta c = parser.finish();
      EXPECT_EQ(both(a.reasoning + b.reasoning + c.reasoning, a.content + b.content + c.content),
                whole)
          << text << " cut at " << i;
    }
  }
}

TEST(ReasoningParser, FeedAfterFinishIsABug) {
  ReasoningParser parser;
  parser.finish();
  EXPECT_THROW(parser.feed("x"), Error);
}

}  // namespace
}  // namespace qwen3
