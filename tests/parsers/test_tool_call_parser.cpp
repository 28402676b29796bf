#include <gtest/gtest.h>

#include "core/error.h"
#include "split_streaming.h"
#include "tokenizer/parsers/tool_call_parser.h"

namespace qwen3 {
namespace {

using Kind = ToolCallEventKind;
using testing::call;

const std::string kWeather =
    "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
const std::string kTime = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {}}\n</tool_call>";

ToolCallResult result(std::string content, std::vector<ToolCall> calls = {}) {
  return {.content = std::move(content), .tool_calls = std::move(calls)};
}

ToolCallEvent content_event(std::string text) {
  return {.kind = Kind::kContent, .index = -1, .text = std::move(text)};
}

TEST(ToolCallParser, TextAndCalls) {
  EXPECT_EQ(parse_tool_calls("Let me check.\n\n" + kWeather + "\n" + kTime),
            result("Let me check.",
                   {call(0, "get_weather", R"({"city":"Paris"})"), call(1, "get_time", "{}")}));
  EXPECT_EQ(parse_tool_calls(kWeather),
            result("", {call(0, "get_weather", R"({"city":"Paris"})")}));
  EXPECT_EQ(parse_tool_calls("No tools here."), result("No tools here."));
  EXPECT_EQ(parse_tool_calls(""), result(""));
}

// Rule 3: whitespace around valid blocks is layout; between a block and text it is kept.
TEST(ToolCallParser, WhitespaceAroundBlocks) {
  EXPECT_EQ(parse_tool_calls("\n\n" + kTime + "\n\n").content, "");
  EXPECT_EQ(parse_tool_calls("A\n" + kTime + "\n\nB").content, "A\n\nB");
  EXPECT_EQ(parse_tool_calls("A " + kTime + kTime + " ").content, "A");
  EXPECT_EQ(parse_tool_calls("Hello\n\n").content, "Hello\n\n");  // no block: untouched
  EXPECT_EQ(parse_tool_calls("  Hi").content, "  Hi");
}

// Rule 2: malformed or unclosed blocks come back verbatim, in place, tags included.
TEST(ToolCallParser, MalformedBlocksBecomeContent) {
  const std::string bad =
      "<tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": 1,}}\n</tool_call>";
  EXPECT_EQ(parse_tool_calls("Calling.\n" + bad + "\nDone."),
            result("Calling.\n" + bad + "\nDone."));
  // A valid call after a malformed one gets index 0; the whitespace before the bad block stays.
  EXPECT_EQ(parse_tool_calls("x\n" + bad + "\n" + kTime),
            result("x\n" + bad, {call(0, "get_time", "{}")}));
  // A malformed block is text, so the whitespace between it and a valid call stays.
  EXPECT_EQ(parse_tool_calls(kTime + "\n" + bad), result("\n" + bad, {call(0, "get_time", "{}")}));
  const std::string missing_name = "<tool_call>{\"arguments\": {}}</tool_call>";
  EXPECT_EQ(parse_tool_calls(missing_name), result(missing_name));
  const std::string cut = "Text <tool_call>\n{\"name\": \"f\", \"arguments\": {\"x\": ";
  EXPECT_EQ(parse_tool_calls(cut), result(cut));
  EXPECT_EQ(parse_tool_calls("abc<tool_call>"), result("abc<tool_call>"));
  EXPECT_EQ(parse_tool_calls("abc<tool_call>\n"), result("abc<tool_call>\n"));
  // A complete JSON object without "</tool_call>" is still cut off: content.
  const std::string no_close = "<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n";
  EXPECT_EQ(parse_tool_calls(no_close), result(no_close));
  // "</tool_call>" inside a JSON string ends the block early (as in vLLM): malformed.
  const std::string inner =
      "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"</tool_call>\"}}</tool_call>";
  EXPECT_EQ(parse_tool_calls(inner), result(inner));
}

TEST(ToolCallParser, NearMarkersInTextStayText) {
  for (const char* text : {"a </tool_call> b", "<tool_ca", "</tool_ca", "x<tool_calls>y",
                           "<<tool_call", "<tool_call </tool_call>"}) {
    EXPECT_EQ(parse_tool_calls(text), result(text)) << text;
  }
}

// Rule 4: a block's events appear together once it closes and validates.
TEST(ToolCallParser, StreamsCallEventsWhenTheBlockCloses) {
  ToolCallParser parser;
  EXPECT_EQ(parser.feed("Hi <tool_ca"), std::vector<ToolCallEvent>{content_event("Hi")});
  EXPECT_EQ(parser.feed("ll>\n{\"name\": \"get_time\", "), std::vector<ToolCallEvent>{});
  EXPECT_EQ(parser.feed("\"arguments\": {}}\n</tool_"), std::vector<ToolCallEvent>{});
  const std::vector<ToolCallEvent> expected = {
      {.kind = Kind::kStart, .index = 0, .text = "get_time"},
      {.kind = Kind::kArguments, .index = 0, .text = "{}"},
      {.kind = Kind::kEnd, .index = 0, .text = ""},
  };
  EXPECT_EQ(parser.feed("call>\n"), expected);
  EXPECT_EQ(parser.feed("\nok"), std::vector<ToolCallEvent>{content_event("\n\nok")});
  EXPECT_EQ(parser.finish(), std::vector<ToolCallEvent>{});
}

TEST(ToolCallParser, ReleasesHeldTextAsSoonAsItCannotBeAMarker) {
  ToolCallParser parser;
  EXPECT_EQ(parser.feed("a<tool_ca"), std::vector<ToolCallEvent>{content_event("a")});
  EXPECT_EQ(parser.feed("t"), std::vector<ToolCallEvent>{content_event("<tool_cat")});
  EXPECT_EQ(parser.feed(" \n"), std::vector<ToolCallEvent>{});       // whitespace waits (rule 3)
  EXPECT_EQ(parser.feed("\xE4\xBD"), std::vector<ToolCallEvent>{});  // half a character
  EXPECT_EQ(parser.feed("\xA0"), std::vector<ToolCallEvent>{content_event(" \n\xE4\xBD\xA0")});
  EXPECT_EQ(parser.finish(), std::vector<ToolCallEvent>{});
}

TEST(ToolCallParser, FinishFlushesAnOpenBlockAsContent) {
  ToolCallParser parser;
  EXPECT_EQ(parser.feed("<tool_call>{\"name\": \"f\""), std::vector<ToolCallEvent>{});
  EXPECT_EQ(parser.finish(),
            std::vector<ToolCallEvent>{content_event("<tool_call>{\"name\": \"f\"")});
}

TEST(ToolCallParser, LongBlockFedByteByByteIsScannedOnce) {
  // 200k bytes of arguments one byte at a time: quadratic rescans would take minutes.
  std::string text = "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"" +
                     std::string(200000, 'x') + "\"}}</tool_call>";
  ToolCallParser parser;
  ToolCallResult got;
  for (char c : text) {
    for (const ToolCallEvent& e : parser.feed(std::string_view(&c, 1)))
      apply_tool_call_event(e, got);
  }
  for (const ToolCallEvent& e : parser.finish()) apply_tool_call_event(e, got);
  ASSERT_EQ(got.tool_calls.size(), 1u);
  EXPECT_EQ(got.tool_calls[0].arguments_json.size(), 200000u + 8u);
}

TEST(ToolCallParser, ApplyRejectsEventsForUnknownCalls) {
  ToolCallResult r;
  EXPECT_THROW(apply_tool_call_event({.kind = Kind::kArguments, .index = 0, .text = "{}"}, r),
               Error);
  EXPECT_THROW(apply_tool_call_event({.kind = Kind::kStart, .index = 1, .text = "f"}, r), Error);
}

}  // namespace
}  // namespace qwen3
