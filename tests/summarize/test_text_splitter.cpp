// The recursive splitter with the real Qwen3 tokenizer: chunks are contiguous ranges that
// cover the text in order, stay within the token budget, overlap by at most the overlap
// budget, and end at the coarsest boundary that fits (paragraph, line, sentence incl.
// "。", space, character).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/error.h"
#include "summarize/text_splitter.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::summarize {
namespace {

const text::Tokenizer& tokenizer() {
  static const auto tok = text::Tokenizer::load(QWEN3_TOKENIZER_DIR);
  return *tok;
}

int64_t count(std::string_view s) {
  return static_cast<int64_t>(tokenizer().encode(s, /*parse_special=*/false).size());
}

std::string paragraph(int i) {
  return fmt::format(
      "Paragraph {} says that the river rose in spring, the mill stopped for a "
      "week, and the town council met twice to decide who would pay for the "
      "repairs.",
      i);
}

// Contiguity, coverage, budgets; returns the chunk texts.
std::vector<std::string> check_invariants(std::string_view text, const SplitOptions& o) {
  const std::vector<TextChunk> chunks = split_text(text, o, count);
  std::vector<std::string> out;
  EXPECT_FALSE(chunks.empty());
  if (chunks.empty()) return out;
  EXPECT_EQ(chunks.front().begin, 0u);
  EXPECT_EQ(chunks.back().end, text.size());
  std::string rebuilt;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const TextChunk& c = chunks[i];
    EXPECT_LT(c.begin, c.end);
    EXPECT_LE(c.tokens, o.chunk_tokens) << "chunk " << i;
    const std::string_view s = text.substr(c.begin, c.end - c.begin);
    // Pieces are counted alone; joined they may encode a little differently.
    EXPECT_LE(count(s), o.chunk_tokens + 4) << "chunk " << i;
    if (i > 0) {
      const TextChunk& p = chunks[i - 1];
      EXPECT_GT(c.begin, p.begin);
      EXPECT_GT(c.end, p.end);
      EXPECT_LE(c.begin, p.end) << "gap before chunk " << i;
      if (c.begin < p.end) {
        EXPECT_LE(count(text.substr(c.begin, p.end - c.begin)), o.overlap_tokens + 4);
      }
      rebuilt += text.substr(p.end, c.end - p.end);
    } else {
      rebuilt += s;
    }
    out.emplace_back(s);
  }
  EXPECT_EQ(rebuilt, text);
  return out;
}

TEST(TextSplitter, ParagraphsPackedWithOverlap) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += paragraph(i) + "\n\n";
  const SplitOptions o{.chunk_tokens = 100, .overlap_tokens = 40};
  const auto chunks = check_invariants(text, o);
  ASSERT_GT(chunks.size(), 3u);
  // A paragraph (~35 tokens) fits: every chunk is whole paragraphs.
  for (const std::string& c : chunks) {
    EXPECT_EQ(c.rfind("Paragraph ", 0), 0u) << c;
    EXPECT_TRUE(c.ends_with("\n\n")) << c;
  }
  // The overlap is the previous chunk's last paragraph (it fits in 40 tokens).
  EXPECT_TRUE(chunks[0].ends_with(chunks[1].substr(0, chunks[1].find("\n\n") + 2)));
}

TEST(TextSplitter, NoOverlapTilesTheText) {
  std::string text;
  for (int i = 0; i < 12; ++i) text += paragraph(i) + "\n";
  const auto chunks = check_invariants(text, {.chunk_tokens = 80, .overlap_tokens = 0});
  size_t total = 0;
  for (const auto& c : chunks) {
    total += c.size();
    EXPECT_TRUE(c.ends_with("\n")) << c;
  }
  EXPECT_EQ(total, text.size());
}

TEST(TextSplitter, LongParagraphSplitsAtSentencesIncludingChinese) {
  std::string en;
  for (int i = 0; i < 20; ++i) en += fmt::format("Sentence number {} is short. ", i);
  for (const std::string& c : check_invariants(en, {.chunk_tokens = 30, .overlap_tokens = 5})) {
    EXPECT_TRUE(c.ends_with(". ") || c.size() + 1 >= en.size()) << c;
  }
  std::string zh;
  for (int i = 0; i < 30; ++i) zh += "今天的会议讨论了预算和新的工作计划。";
  const auto chunks = check_invariants(zh, {.chunk_tokens = 40, .overlap_tokens = 8});
  ASSERT_GT(chunks.size(), 3u);
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    EXPECT_TRUE(chunks[i].ends_with("。")) << chunks[i];
  }
}

TEST(TextSplitter, WordsThenCharactersWhenNothingElseFits) {
  std::string words;
  for (int i = 0; i < 200; ++i) words += fmt::format("alpha{} ", i % 7);
  for (const std::string& c : check_invariants(words, {.chunk_tokens = 25, .overlap_tokens = 3})) {
    EXPECT_TRUE(c.ends_with(" ")) << c;
  }
  // One "word" of 3,000 characters, multi-byte ones included: cut between UTF-8 characters.
  std::string blob;
  for (int i = 0; i < 1000; ++i) blob += i % 3 == 0 ? "é" : (i % 3 == 1 ? "x" : "語");
  const auto chunks = check_invariants(blob, {.chunk_tokens = 50, .overlap_tokens = 0});
  ASSERT_GT(chunks.size(), 5u);
  for (const std::string& c : chunks) {
    const auto lead = static_cast<unsigned char>(c.front());
    EXPECT_NE(lead & 0xC0, 0x80) << "a chunk starts inside a UTF-8 character";
  }
}

TEST(TextSplitter, ShortTextIsOneChunkAndEmptyTextNone) {
  const std::string text = "A short note.\n\nWith two paragraphs.";
  const auto chunks = split_text(text, {}, count);
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].begin, 0u);
  EXPECT_EQ(chunks[0].end, text.size());
  EXPECT_TRUE(split_text("", {}, count).empty());
}

TEST(TextSplitter, BadOptionsNameTheFlag) {
  auto message = [](SplitOptions o) {
    try {
      split_text("x", o, count);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({.chunk_tokens = 0, .overlap_tokens = 0}).find("--chunk-tokens"),
            std::string::npos);
  EXPECT_NE(message({.chunk_tokens = 10, .overlap_tokens = 10}).find("--chunk-overlap"),
            std::string::npos);
  EXPECT_NE(message({.chunk_tokens = 10, .overlap_tokens = -1}).find("--chunk-overlap"),
            std::string::npos);
}

}  // namespace
}  // namespace qwen3::summarize
