// Datasets of `qwen3 bench serve`: random prompts have exactly the drawn number of real
// tokens; JSONL / ShareGPT files are read as documented.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "bench/bench_serve.h"
#include "bench/dataset.h"
#include "bench_test_util.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {
namespace {

const text::Tokenizer& tokenizer() {
  static const auto tok = text::Tokenizer::load(QWEN3_TOKENIZER_DIR);
  return *tok;
}

TEST(BenchDataset, RandomPromptsExactLengthsRangeRatioAndSeed) {
  const text::Tokenizer& tok = tokenizer();
  for (int64_t len : {1, 2, 3, 17, 128, 1000}) {
    RandomDatasetOptions o;
    o.num_prompts = len >= 1000 ? 3 : 12;
    o.input_len = len;
    o.output_len = 5;
    o.seed = static_cast<uint64_t>(len);
    const auto prompts = random_dataset(tok, o);
    ASSERT_EQ(prompts.size(), static_cast<size_t>(o.num_prompts));
    for (const BenchPrompt& p : prompts) {
      EXPECT_EQ(p.prompt_len, len);
      EXPECT_EQ(static_cast<int64_t>(tok.encode(p.prompt).size()), len) << p.prompt;
      EXPECT_EQ(p.output_len, 5);
    }
  }
  // Range ratio and seed (one test: loading the tokenizer is the slow part).
  RandomDatasetOptions o;
  o.num_prompts = 40;
  o.input_len = 40;
  o.output_len = 10;
  o.range_ratio = 0.5;
  o.seed = 9;
  const auto a = random_dataset(tok, o);
  std::set<int64_t> lens;
  for (const BenchPrompt& p : a) {
    EXPECT_GE(p.prompt_len, 20);
    EXPECT_LE(p.prompt_len, 60);
    EXPECT_GE(p.output_len, 5);
    EXPECT_LE(p.output_len, 15);
    EXPECT_EQ(static_cast<int64_t>(tok.encode(p.prompt).size()), p.prompt_len);
    lens.insert(p.prompt_len);
  }
  EXPECT_GT(lens.size(), 10u);  // lengths really vary
  const auto b = random_dataset(tok, o);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].prompt, b[i].prompt);
  o.seed = 10;
  EXPECT_NE(random_dataset(tok, o)[0].prompt, a[0].prompt);
  o.range_ratio = 1.0;
  EXPECT_THROW(random_dataset(tok, o), Error);
}

TEST(BenchDataset, JsonlShareGptCyclingAndErrors) {
  const text::Tokenizer& tok = tokenizer();
  test::ScratchDir dir;
  const std::string path = dir.file("p.jsonl");
  test::write_file(path,
                   "{\"prompt\": \"Hello world\"}\n"
                   "\n"
                   "{\"prompt\": \"Write a poem\", \"output_len\": 9}\n"
                   "{\"conversations\": [{\"from\": \"system\", \"value\": \"s\"}, {\"from\": "
                   "\"human\", \"value\": \"Why is the sky blue?\"}, {\"from\": \"gpt\", "
                   "\"value\": \"Rayleigh scattering of light\"}]}\n");
  const auto p = file_dataset(tok, {path, 5, 33});
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].prompt, "Hello world");
  EXPECT_EQ(p[0].prompt_len, static_cast<int64_t>(tok.encode("Hello world").size()));
  EXPECT_EQ(p[0].output_len, 33);
  EXPECT_EQ(p[1].output_len, 9);
  EXPECT_EQ(p[2].prompt, "Why is the sky blue?");
  EXPECT_EQ(p[2].output_len,
            static_cast<int64_t>(tok.encode("Rayleigh scattering of light").size()));
  EXPECT_EQ(p[3].prompt, "Hello world");  // cycled
  EXPECT_EQ(p[4].prompt, "Write a poem");
  // A JSON array of the same records works too.
  test::write_file(dir.file("a.json"),
                   "[{\"prompt\": \"x\"}, {\"messages\": [{\"role\": "
                   "\"user\", \"content\": \"y\"}]}]");
  const auto a = file_dataset(tok, {dir.file("a.json"), 2, 4});
  EXPECT_EQ(a[1].prompt, "y");
  // Bad files name the line.
  test::write_file(dir.file("bad.jsonl"), "{\"prompt\": \"a\"}\n{oops\n");
  try {
    file_dataset(tok, {dir.file("bad.jsonl"), 2, 4});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:2"), std::string::npos) << e.what();
  }
  test::write_file(dir.file("np.jsonl"), "{\"text\": \"a\"}\n");
  EXPECT_THROW(file_dataset(tok, {dir.file("np.jsonl"), 1, 4}), Error);
  EXPECT_THROW(file_dataset(tok, {dir.file("missing.jsonl"), 1, 4}), Error);
}

TEST(BenchFlags, RatePercentilesAndTokenizerDir) {
  EXPECT_TRUE(std::isinf(parse_request_rate("inf")));
  EXPECT_DOUBLE_EQ(parse_request_rate("2.5"), 2.5);
  EXPECT_THROW(parse_request_rate("0"), Error);
  EXPECT_THROW(parse_request_rate("fast"), Error);
  EXPECT_EQ(parse_percentiles("90,99,99.9"), (std::vector<double>{90, 99, 99.9}));
  EXPECT_THROW(parse_percentiles("90,"), Error);
  EXPECT_THROW(parse_percentiles("101"), Error);
  EXPECT_EQ(resolve_tokenizer_dir("", {"/nonexistent", QWEN3_TOKENIZER_DIR}), QWEN3_TOKENIZER_DIR);
  EXPECT_EQ(resolve_tokenizer_dir("given", {}), "given");
}

}  // namespace
}  // namespace qwen3::bench
