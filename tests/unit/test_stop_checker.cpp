#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/stop_checker.h"

namespace qwen3 {
namespace {

// Feeds pieces one by one; returns everything emitted and whether/what stopped.
std::pair<std::string, std::string> run(StopChecker& c, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) {
    auto r = c.push(p);
    out += r.text;
    if (r.stopped) return {out, r.matched};
  }
  return {out + c.flush(), ""};
}

TEST(StopChecker, HoldsBackPartialMatchThenReleasesIt) {
  StopChecker c({"STOP"}, false);
  auto r = c.push("abc ST");
  EXPECT_EQ(r.text, "abc ");  // "ST" might begin STOP
  r = c.push("AR");
  EXPECT_EQ(r.text, "STAR");  // it did not
  EXPECT_FALSE(r.stopped);
}

TEST(StopChecker, MatchAcrossPiecesStopsAndCutsText) {
  StopChecker c({"STOP"}, false);
  auto [text, matched] = run(c, {"hello S", "T", "O", "P and more"});
  EXPECT_EQ(text, "hello ");
  EXPECT_EQ(matched, "STOP");
}

TEST(StopChecker, IncludeStopStringInOutput) {
  StopChecker c({"\n\n"}, true);
  auto [text, matched] = run(c, {"a\n", "\nb"});
  EXPECT_EQ(text, "a\n\n");
  EXPECT_EQ(matched, "\n\n");
}

TEST(StopChecker, EarliestOfSeveralStopsWins) {
  StopChecker c({"cd", "b"}, false);
  auto [text, matched] = run(c, {"abcd"});
  EXPECT_EQ(text, "a");
  EXPECT_EQ(matched, "b");
}

TEST(StopChecker, NoStopsPassesEverything) {
  StopChecker c({}, false);
  auto [text, matched] = run(c, {"x", "yz"});
  EXPECT_EQ(text, "xyz");
  EXPECT_EQ(matched, "");
}

TEST(StopChecker, FlushReturnsHeldTextAtEnd) {
  StopChecker c({"END"}, false);
  auto [text, matched] = run(c, {"the E", "N"});
  EXPECT_EQ(text, "the EN");
  EXPECT_EQ(matched, "");
}

TEST(StopChecker, UncheckedPushOnlyHolds) {
  StopChecker c({"x"}, false);
  auto r = c.push("axb", false);
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "axb");
}

// Against a plain reference: emitted text = full text up to the first stop occurrence.
TEST(StopChecker, MatchesReferenceOnRandomSplits) {
  const std::string full = "one two three STOP four STO five";
  for (size_t cut1 = 1; cut1 < full.size(); cut1 += 3) {
    for (size_t cut2 = cut1 + 1; cut2 < full.size(); cut2 += 5) {
      StopChecker c({"STOP", "three S"}, false);
      auto [text, matched] =
          run(c, {full.substr(0, cut1), full.substr(cut1, cut2 - cut1), full.substr(cut2)});
      EXPECT_EQ(text, "one two ") << cut1 << "," << cut2;
      EXPECT_EQ(matched, "three S");
    }
  }
}

}  // namespace
}  // namespace qwen3
