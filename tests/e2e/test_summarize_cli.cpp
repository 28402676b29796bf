// `qwen3 summarize` end to end on a tiny random model with the real tokenizer (the text it
// writes is noise; the rounds, the report and the exit codes are what is checked), and
// every bad input: exit 2 with a message naming the file or flag.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "model/fixture.h"
#include "run_cli.h"

namespace qwen3::test {
namespace {

std::string tiny_model(const TempDir& dir) {
  const std::string model = dir.str() + "/tiny";
  const CliResult r = run_cli("init-random --like tiny --seed 3 --out " + model + " --tokenizer " +
                              QWEN3_TOKENIZER_DIR);
  EXPECT_EQ(r.code, 0) << r.out;
  return model;
}

std::string write_document(const TempDir& dir) {
  const std::string path = dir.str() + "/doc.txt";
  std::ofstream out(path);
  for (int i = 0; i < 10; ++i) {
    out << "Section " << i << ". The committee reviewed the harbour budget, heard the "
        << "engineers on the new sea wall, and postponed the vote on the ferry timetable.\n\n";
  }
  return path;
}

TEST(SummarizeCli, EngineMapsChunksAndMerges) {
  TempDir dir;
  const std::string model = tiny_model(dir);
  const std::string doc = write_document(dir);
  const std::string out = dir.str() + "/summary.txt";
  const CliResult r = run_cli("summarize " + doc + " --model " + model +
                              " --chunk-tokens 64 --chunk-overlap 8 -n 4 --temperature 0"
                              " --kv-cache-memory 64MiB --no-progress -o " +
                              out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(std::filesystem::exists(out));
  // "summarize: N tokens in C chunks (...), M merge requests in R round(s), ..."
  auto number_before = [&](const std::string& what) {
    const size_t at = r.out.find(what);
    if (at == std::string::npos || at == 0) return int64_t{-1};
    return static_cast<int64_t>(std::atoll(r.out.c_str() + r.out.rfind(' ', at - 1) + 1));
  };
  const int64_t tokens = number_before(" tokens in "), chunks = number_before(" chunks (");
  const int64_t merges = number_before(" merge request");
  EXPECT_GT(tokens, 200) << r.out;
  EXPECT_GE(chunks, 4) << r.out;  // ~30 tokens a section, 64 per chunk
  EXPECT_GE(merges, 1) << r.out;
  EXPECT_NE(r.out.find(fmt::format("summarising chunks: {} requests", chunks)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("merging into one summary: 1 request"), std::string::npos) << r.out;
}

TEST(SummarizeCli, BadInputExitsWithCode2AndNamesTheProblem) {
  TempDir dir;
  const std::string doc = write_document(dir);
  const std::string empty = dir.str() + "/empty.txt";
  std::ofstream(empty) << " \n\n ";
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"summarize " + dir.str() + "/missing.txt", "missing.txt"},
      {"summarize " + empty, "empty"},
      {"summarize " + doc + " --chunk-tokens 64 --chunk-overlap 64", "--chunk-overlap"},
      {"summarize " + doc + " --chunk-tokens 0", "--chunk-tokens"},
      {"summarize " + doc + " -n 0", "--max-tokens"},
      {"summarize " + doc + " --preset poetry", "preset"},
      {"summarize " + doc + " --url http://127.0.0.1:1 --tokenizer " QWEN3_TOKENIZER_DIR,
       "127.0.0.1:1"},
      {"summarize " + doc + " --model " + dir.str() + "/no-model", "no-model"},
      {"summarize", "file"},
  };
  for (const Case& c : cases) {
    const CliResult r = run_cli(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
  }
}

}  // namespace
}  // namespace qwen3::test
