// Test helpers: run the streaming parsers over a chosen chunking of a text and check what
// every emitted fragment looks like (valid UTF-8 whenever the input is).
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/parsers/chat_output_parser.h"

namespace qwen3::testing {

// An expected tool call.
inline ToolCall call(int32_t index, std::string name, std::string arguments) {
  return {.index = index, .name = std::move(name), .arguments_json = std::move(arguments)};
}

inline bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    if (lead < 0x80)
      length = 1;
    else if (lead >= 0xC2 && lead <= 0xDF)
      length = 2;
    else if (lead >= 0xE0 && lead <= 0xEF)
      length = 3;
    else if (lead >= 0xF0 && lead <= 0xF4)
      length = 4;
    else
      return false;
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

// Chunks of `text` cut at the given ascending byte offsets.
inline std::vector<std::string> cut(std::string_view text, const std::vector<size_t>& cuts) {
  std::vector<std::string> chunks;
  size_t begin = 0;
  for (size_t at : cuts) {
    chunks.emplace_back(text.substr(begin, at - begin));
    begin = at;
  }
  chunks.emplace_back(text.substr(begin));
  return chunks;
}

inline void expect_fragments_utf8(const ChatDelta& delta) {
  EXPECT_TRUE(is_valid_utf8(delta.reasoning)) << delta.reasoning;
  for (const ToolCallEvent& event : delta.events)
    EXPECT_TRUE(is_valid_utf8(event.text)) << event.text;
}

// Streams `chunks` through a ChatOutputParser and accumulates the deltas as a client would.
inline ChatOutput stream_chat(const std::vector<std::string>& chunks, ChatOutputOptions options,
                              bool check_utf8) {
  ChatOutputParser parser(options);
  ChatOutput output;
  for (const std::string& chunk : chunks) {
    ChatDelta delta = parser.feed(chunk);
    if (check_utf8) expect_fragments_utf8(delta);
    apply_chat_delta(delta, output);
  }
  ChatDelta last = parser.finish();
  if (check_utf8) expect_fragments_utf8(last);
  apply_chat_delta(last, output);
  return output;
}

// The invariant: every chunking gives parse_chat_output(text). Checks every single cut,
// byte-by-byte feeding, every pair of cuts at most `pair_window` bytes apart (a marker cut
// in three), and random chunkings. Returns the non-streamed result for further checks.
inline ChatOutput expect_same_at_every_split(std::string_view text, ChatOutputOptions options,
                                             size_t pair_window = 14) {
  const ChatOutput whole = parse_chat_output(text, options);
  const bool utf8 = is_valid_utf8(text);
  for (size_t i = 0; i <= text.size(); ++i) {
    EXPECT_EQ(stream_chat(cut(text, {i}), options, utf8), whole) << "cut at " << i;
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  EXPECT_EQ(stream_chat(cut(text, every), options, utf8), whole) << "byte by byte";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= std::min(text.size(), i + pair_window); ++j) {
      EXPECT_EQ(stream_chat(cut(text, {i, j}), options, utf8), whole) << "cuts " << i << "," << j;
    }
  }
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < text.size(); ++i) {
      if (rng() % 4 == 0) cuts.push_back(i);
    }
    EXPECT_EQ(stream_chat(cut(text, cuts), options, utf8), whole) << "random trial " << trial;
  }
  return whole;
}

}  // namespace qwen3::testing
