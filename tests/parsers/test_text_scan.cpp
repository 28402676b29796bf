#include <gtest/gtest.h>

#include "tokenizer/parsers/text_scan.h"

namespace qwen3 {
namespace {

TEST(TextScan, PartialMarkerSuffixIsTheLongestProperPrefix) {
  EXPECT_EQ(partial_marker_suffix("abc</thi", "</think>"), 5u);
  EXPECT_EQ(partial_marker_suffix("abc<", "</think>"), 1u);
  EXPECT_EQ(partial_marker_suffix("abc<<", "<think>"), 1u);
  EXPECT_EQ(partial_marker_suffix("abc", "<think>"), 0u);
  EXPECT_EQ(partial_marker_suffix("</think>", "</think>"), 0u);  // whole marker is not partial
  EXPECT_EQ(partial_marker_suffix("<thi", "<think>"), 4u);
  EXPECT_EQ(partial_marker_suffix("", "<think>"), 0u);
  EXPECT_EQ(partial_marker_suffix("</tool_ca", "<tool_call>"), 0u);
}

TEST(TextScan, Utf8IncompleteSuffix) {
  EXPECT_EQ(utf8_incomplete_suffix("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_suffix("\xE4\xBD\xA0"), 0u);  // 你
  EXPECT_EQ(utf8_incomplete_suffix("\xE4"), 1u);
  EXPECT_EQ(utf8_incomplete_suffix("a\xE4\xBD"), 2u);
  EXPECT_EQ(utf8_incomplete_suffix("\xF0\x9F\x98\x80"), 0u);  // 😀
  EXPECT_EQ(utf8_incomplete_suffix("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_suffix("\xC3"), 1u);          // é cut
  EXPECT_EQ(utf8_incomplete_suffix("\x80\x80\x80"), 0u);  // stray continuations: not held
  EXPECT_EQ(utf8_incomplete_suffix("\xFF"), 0u);          // invalid lead: not held
}

TEST(TextScan, EmittablePrefixTakesTheLargerHold) {
  EXPECT_EQ(emittable_prefix("ab</tool_c", {"<tool_call>", "</tool_call>"}), 2u);
  EXPECT_EQ(emittable_prefix("ab<tool_c", {"<tool_call>", "</tool_call>"}), 2u);
  EXPECT_EQ(emittable_prefix("ab\xE4\xBD", {"<think>"}), 2u);
  EXPECT_EQ(emittable_prefix("ab", {"<think>"}), 2u);
}

}  // namespace
}  // namespace qwen3
