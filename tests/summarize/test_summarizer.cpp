// Map-reduce rounds over a recording backend: one request per chunk with that chunk in
// it, then merge rounds of at least two summaries each until one is left; the answer of
// the last round is the summary.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <numeric>
#include <string>

#include "core/error.h"
#include "summarize/summarizer.h"

namespace qwen3::summarize {
namespace {

// Tokens = whitespace-separated words; answers "S<round>.<i>" padded to `answer_words`.
class RecordingBackend final : public ChatBackend {
 public:
  explicit RecordingBackend(int answer_words) : answer_words_(answer_words) {}
  std::vector<std::string> complete(const std::vector<ChatTurn>& turns,
                                    const std::function<void()>& on_done) override {
    rounds.push_back(turns);
    std::vector<std::string> out;
    for (size_t i = 0; i < turns.size(); ++i) {
      std::string a = fmt::format("S{}.{}", rounds.size(), i);
      for (int w = 1; w < answer_words_; ++w) a += " w";
      out.push_back(a);
      on_done();
    }
    if (wrong_count) out.pop_back();
    return out;
  }
  int64_t count_tokens(std::string_view text) const override {
    int64_t n = 0;
    bool in_word = false;
    for (char c : text) {
      const bool space = c == ' ' || c == '\n';
      n += !space && !in_word;
      in_word = !space;
    }
    return n;
  }
  std::vector<std::vector<ChatTurn>> rounds;
  bool wrong_count = false;

 private:
  int answer_words_;
};

std::string document(int paragraphs) {
  std::string text;
  for (int i = 0; i < paragraphs; ++i) {
    text += fmt::format("p{}", i);
    for (int w = 0; w < 19; ++w) text += " word";
    text += "\n\n";
  }
  return text;
}

TEST(Summarizer, MapThenMergeRoundsDownToOne) {
  RecordingBackend backend(30);
  const std::string text = document(40);  // 40 paragraphs of 20 words
  int64_t done = 0;
  std::vector<std::pair<std::string, int64_t>> announced;
  const SummaryReport r = summarize_text(
      text, backend, {.split = {.chunk_tokens = 100, .overlap_tokens = 20}},
      [&](const std::string& what, int64_t n) { announced.emplace_back(what, n); },
      [&] { ++done; });
  // Map: 100-word chunks of 20-word paragraphs, 20 words of overlap: 5 paragraphs, 4 new
  // each after the first -> 10 chunks.
  ASSERT_GE(backend.rounds.size(), 3u);
  const auto& map = backend.rounds[0];
  EXPECT_EQ(static_cast<int64_t>(map.size()), r.chunks);
  EXPECT_EQ(r.chunks, 10);
  for (size_t i = 0; i < map.size(); ++i) {
    EXPECT_NE(map[i].user.find(fmt::format("part ({} of 10)", i + 1)), std::string::npos);
    EXPECT_NE(map[i].user.find(fmt::format("p{} word", 4 * i)), std::string::npos);
    EXPECT_FALSE(map[i].system.empty());
  }
  // Merges: 30-word summaries, 100-word budget -> 3 per request (the 4th would not fit):
  // 10 -> 4 (3+3+2+2? no: 3,3,3 and a lone last one joins: 3,3,4) -> ... -> 1.
  size_t prev = map.size();
  int64_t merges = 0;
  for (size_t k = 1; k < backend.rounds.size(); ++k) {
    const auto& round = backend.rounds[k];
    EXPECT_LT(round.size(), prev);
    size_t parts = 0;
    for (const ChatTurn& t : round) {
      EXPECT_NE(t.user.find("Merge them"), std::string::npos);
      size_t at = 0;
      int n = 0;
      while ((at = t.user.find("Part ", at)) != std::string::npos) ++n, ++at;
      EXPECT_GE(n, 2);
      parts += static_cast<size_t>(n);
      // Each previous answer appears in exactly one merge request of this round.
    }
    EXPECT_EQ(parts, prev);
    merges += static_cast<int64_t>(round.size());
    prev = round.size();
  }
  EXPECT_EQ(prev, 1u);
  EXPECT_EQ(r.merge_requests, merges);
  EXPECT_EQ(r.rounds, static_cast<int64_t>(backend.rounds.size()) - 1);
  EXPECT_EQ(r.summary.rfind(fmt::format("S{}.0", backend.rounds.size()), 0), 0u);
  EXPECT_EQ(done, r.chunks + r.merge_requests);
  EXPECT_EQ(announced.size(), backend.rounds.size());
  EXPECT_EQ(announced.front().second, r.chunks);
  EXPECT_EQ(r.document_tokens, 40 * 20);
}

TEST(Summarizer, ShortDocumentIsOneRequest) {
  RecordingBackend backend(5);
  const SummaryReport r = summarize_text(
      "Just a few words here.", backend, {.language_hint = "French"},
      [](const std::string&, int64_t) {}, [] {});
  ASSERT_EQ(backend.rounds.size(), 1u);
  ASSERT_EQ(backend.rounds[0].size(), 1u);
  EXPECT_NE(backend.rounds[0][0].user.find("Summarize the following document in French"),
            std::string::npos);
  EXPECT_NE(backend.rounds[0][0].user.find("Just a few words here."), std::string::npos);
  EXPECT_EQ(r.chunks, 1);
  EXPECT_EQ(r.merge_requests, 0);
  EXPECT_EQ(r.summary, "S1.0 w w w w");
}

TEST(Summarizer, EmptyDocumentAndBadBackendAreErrors) {
  RecordingBackend backend(5);
  EXPECT_THROW(summarize_text(
                   "", backend, {}, [](const std::string&, int64_t) {}, [] {}),
               Error);
  backend.wrong_count = true;
  try {
    summarize_text(
        document(40), backend, {.split = {.chunk_tokens = 100, .overlap_tokens = 0}},
        [](const std::string&, int64_t) {}, [] {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
  }
}

}  // namespace
}  // namespace qwen3::summarize
