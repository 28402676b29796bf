// Differential test: every template x every case must match @huggingface/jinja's output
// byte for byte (tests/fixtures/templates/expected.json). The same outputs were also
// checked against Python jinja2 configured as transformers configures it.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fixture_cases.h"

namespace qwen3 {
namespace {

using jinja_test::cases;
using jinja_test::expected_outputs;

class TemplateFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(TemplateFixture, MatchesReferenceByteForByte) {
  const std::string file = GetParam();
  const ChatTemplate t = ChatTemplate::from_file(jinja_test::template_path(file),
                                                 jinja_test::qwen3_tokens());
  const auto& expected = expected_outputs().at(file);
  ASSERT_EQ(expected.size(), cases().size());
  for (const auto& c : cases()) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(file + " / " + name);
    const auto& want = expected.at(name);
    ASSERT_TRUE(want.is_string()) << "reference failed: " << want.dump();
    EXPECT_EQ(jinja_test::render_case(t, c), want.get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(Templates, TemplateFixture,
                         ::testing::Values("qwen3.jinja", "synthetic_expressions.jinja",
                                           "synthetic_loops_macros.jinja",
                                           "synthetic_whitespace.jinja"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           std::string n = param_info.param.substr(0, param_info.param.find('.'));
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

TEST(TemplateFixture, EveryTemplateFileHasFixtures) {
  EXPECT_EQ(expected_outputs().size(), 4u);
  EXPECT_GE(cases().size(), 30u);
}

// The model folder path (tokenizer_config.json's "chat_template") gives the same prompts.
TEST(TemplateFixture, ModelDirMatchesReference) {
  const ChatTemplate t = ChatTemplate::from_model_dir(QWEN3_TOKENIZER_DIR);
  const auto& expected = expected_outputs().at("qwen3.jinja");
  for (const auto& c : cases()) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    EXPECT_EQ(jinja_test::render_case(t, c), expected.at(c.at("name").get<std::string>()));
  }
}

// One parsed template rendered from several threads at once gives the same bytes.
TEST(TemplateFixture, ConcurrentRendersAgree) {
  const ChatTemplate t = ChatTemplate::from_file(jinja_test::template_path("qwen3.jinja"),
                                                 jinja_test::qwen3_tokens());
  const auto& expected = expected_outputs().at("qwen3.jinja");
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < mismatches.size(); ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        for (const auto& c : cases()) {
          const std::string got = jinja_test::render_case(t, c);
          if (got != expected.at(c.at("name").get<std::string>()).get<std::string>()) ++mismatches[k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

}  // namespace
}  // namespace qwen3
