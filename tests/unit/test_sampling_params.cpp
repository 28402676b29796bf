#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "core/error.h"
#include "sched/sampling_params.h"

namespace qwen3 {
namespace {

constexpr int64_t kVocab = 1000;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct BadCase {
  const char* what;  // for the failure message
  std::function<void(SamplingParams&)> mutate;
  std::vector<std::string> fragments;  // all must appear in the error message
};

void expect_invalid(const BadCase& c) {
  SamplingParams p;
  c.mutate(p);
  try {
    p.validate(kVocab);
    ADD_FAILURE() << c.what << ": accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << c.what;
    for (const std::string& f : c.fragments)
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << c.what << ": '" << f << "' not in: " << e.what();
  }
}

TEST(SamplingParamsValidate, AcceptsDefaultsAndEdges) {
  SamplingParams p;
  EXPECT_NO_THROW(p.validate(kVocab));
  p.temperature = 0;
  p.top_p = 1;
  p.top_k = -1;
  p.min_p = 1;
  p.presence_penalty = -2;
  p.frequency_penalty = 2;
  p.logit_bias = {{0, -100.0f}, {static_cast<int32_t>(kVocab - 1), 100.0f}};
  p.max_tokens = -1;
  p.min_tokens = 5000;  // no max -> no upper bound
  p.n = 128;
  p.logprobs = 20;
  p.stop = std::vector<std::string>(16, "x");
  p.stop_token_ids = {0, kVocab - 1};
  EXPECT_NO_THROW(p.validate(kVocab));
  p.max_tokens = 1;
  p.min_tokens = 1;
  p.top_k = 1;
  p.logprobs = 0;
  p.temperature = 2.5;  // vLLM accepts temperatures above OpenAI's 2
  EXPECT_NO_THROW(p.validate(kVocab));
}

TEST(SamplingParamsValidate, RejectsEachBadFieldByName) {
  const std::vector<BadCase> cases = {
      {"temp<0", [](auto& p) { p.temperature = -0.1; }, {"temperature", "[0, 100]", "-0.1"}},
      {"temp big", [](auto& p) { p.temperature = 101; }, {"temperature", "got 101"}},
      {"temp nan", [](auto& p) { p.temperature = kNaN; }, {"temperature"}},
      {"top_p 0", [](auto& p) { p.top_p = 0; }, {"top_p", "(0, 1]", "got 0"}},
      {"top_p >1", [](auto& p) { p.top_p = 1.5; }, {"top_p", "1.5"}},
      {"top_p nan", [](auto& p) { p.top_p = kNaN; }, {"top_p"}},
      {"top_k -2", [](auto& p) { p.top_k = -2; }, {"top_k", "-2"}},
      {"min_p <0", [](auto& p) { p.min_p = -0.5; }, {"min_p", "[0, 1]"}},
      {"min_p nan", [](auto& p) { p.min_p = kNaN; }, {"min_p"}},
      {"rep 0", [](auto& p) { p.repetition_penalty = 0; }, {"repetition_penalty", "> 0"}},
      {"rep nan", [](auto& p) { p.repetition_penalty = kNaN; }, {"repetition_penalty"}},
      {"rep inf", [](auto& p) { p.repetition_penalty = INFINITY; }, {"repetition_penalty"}},
      {"presence", [](auto& p) { p.presence_penalty = 2.5; }, {"presence_penalty", "[-2, 2]"}},
      {"frequency", [](auto& p) { p.frequency_penalty = -3; }, {"frequency_penalty", "-3"}},
      {"freq nan", [](auto& p) { p.frequency_penalty = kNaN; }, {"frequency_penalty"}},
      {"bias id",
       [](auto& p) {
         p.logit_bias = {{1000, 1.0f}};
       },
       {"logit_bias", "[0, 1000)"}},
      {"bias neg id",
       [](auto& p) {
         p.logit_bias = {{-1, 1.0f}};
       },
       {"logit_bias", "-1"}},
      {"bias value",
       [](auto& p) {
         p.logit_bias = {{3, 101.0f}};
       },
       {"logit_bias", "[-100, 100]"}},
      {"bias nan",
       [](auto& p) {
         p.logit_bias = {{3, NAN}};
       },
       {"logit_bias"}},
      {"max 0", [](auto& p) { p.max_tokens = 0; }, {"max_tokens", ">= 1"}},
      {"max -2", [](auto& p) { p.max_tokens = -2; }, {"max_tokens", "-2"}},
      {"min -1", [](auto& p) { p.min_tokens = -1; }, {"min_tokens", ">= 0"}},
      {"min>max",
       [](auto& p) {
         p.max_tokens = 10;
         p.min_tokens = 11;
       },
       {"min_tokens", "max_tokens", "11"}},
      {"n 0", [](auto& p) { p.n = 0; }, {"n must be in [1, 128]"}},
      {"n 129", [](auto& p) { p.n = 129; }, {"n must be", "129"}},
      {"logprobs 21", [](auto& p) { p.logprobs = 21; }, {"logprobs", "[0, 20]"}},
      {"logprobs -2", [](auto& p) { p.logprobs = -2; }, {"logprobs", "-2"}},
      {"stop empty",
       [](auto& p) {
         p.stop = {"a", ""};
       },
       {"stop", "non-empty"}},
      {"stop many", [](auto& p) { p.stop = std::vector<std::string>(17, "x"); }, {"stop", "16"}},
      {"stop id",
       [](auto& p) {
         p.stop_token_ids = {5, 1000};
       },
       {"stop_token_ids", "1000"}},
  };
  for (const BadCase& c : cases) expect_invalid(c);
}

TEST(SamplingPreset, PublishedValues) {
  struct Want {
    const char* name;
    double temperature, top_p;
    int64_t max_tokens;
    double repetition_penalty;
  };
  const Want wants[] = {{"math", 0.6, 0.8, 1024, 1.0},
                        {"code", 0.7, 0.9, 8192, 1.0},
                        {"creative", 0.9, 0.9, 1024, 1.1},
                        {"summarize", 0.3, 0.7, 2048, 1.0}};
  for (const Want& w : wants) {
    SamplingParams p;
    sampling_preset(w.name).apply_to(p);
    EXPECT_DOUBLE_EQ(p.temperature, w.temperature) << w.name;
    EXPECT_DOUBLE_EQ(p.top_p, w.top_p) << w.name;
    EXPECT_EQ(p.max_tokens, w.max_tokens) << w.name;
    EXPECT_DOUBLE_EQ(p.repetition_penalty, w.repetition_penalty) << w.name;
    EXPECT_EQ(p.top_k, 0) << w.name;  // presets leave the rest alone
    EXPECT_NO_THROW(p.validate(kVocab)) << w.name;
  }
  EXPECT_EQ(sampling_preset_names(),
            (std::vector<std::string>{"math", "code", "creative", "summarize"}));
}

TEST(SamplingPreset, UnknownNameListsValidOnes) {
  try {
    sampling_preset("poetry");
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    const std::string msg = e.what();
    for (const char* f : {"poetry", "math", "code", "creative", "summarize"})
      EXPECT_NE(msg.find(f), std::string::npos) << msg;
  }
  EXPECT_THROW(resolve_sampling(GenerationConfig{}, "Math", {}), Error);  // case matters
}

TEST(SamplingOverrides, SetFieldsOnly) {
  SamplingParams p;
  p.top_k = 7;
  p.stop = {"a"};
  SamplingOverrides o;
  o.temperature = 0.25;
  o.seed = 42;
  o.logit_bias = std::vector<std::pair<int32_t, float>>{{3, 1.5f}};
  o.ignore_eos = true;
  o.logprobs = 2;
  o.apply_to(p);
  EXPECT_DOUBLE_EQ(p.temperature, 0.25);
  EXPECT_EQ(p.seed, std::optional<uint64_t>(42));
  ASSERT_EQ(p.logit_bias.size(), 1u);
  EXPECT_EQ(p.logit_bias[0].first, 3);
  EXPECT_TRUE(p.ignore_eos);
  EXPECT_EQ(p.logprobs, 2);
  EXPECT_EQ(p.top_k, 7);  // untouched
  EXPECT_EQ(p.stop, std::vector<std::string>{"a"});
  EXPECT_DOUBLE_EQ(p.top_p, 1.0);
  o = {};
  o.stop = std::vector<std::string>{};  // set to empty clears
  o.apply_to(p);
  EXPECT_TRUE(p.stop.empty());
  EXPECT_DOUBLE_EQ(p.temperature, 0.25);
}

GenerationConfig qwen3_generation_config() {
  GenerationConfig g;  // Qwen3-4B-Instruct-2507's generation_config.json
  g.do_sample = true;
  g.temperature = 0.7;
  g.top_p = 0.8;
  g.top_k = 20;
  g.eos_token_ids = {151645, 151643};
  return g;
}

TEST(ResolveSampling, Layers) {
  // No file: the built-in defaults.
  SamplingParams p = resolve_sampling(GenerationConfig{}, "", {});
  EXPECT_DOUBLE_EQ(p.temperature, 1.0);
  EXPECT_DOUBLE_EQ(p.top_p, 1.0);
  EXPECT_EQ(p.top_k, 0);
  EXPECT_EQ(p.max_tokens, 16);

  // generation_config.json over the defaults.
  p = resolve_sampling(qwen3_generation_config(), "", {});
  EXPECT_DOUBLE_EQ(p.temperature, 0.7);
  EXPECT_DOUBLE_EQ(p.top_p, 0.8);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_DOUBLE_EQ(p.repetition_penalty, 1.0);

  // Preset over the file; the file's top_k survives (the preset does not set it).
  p = resolve_sampling(qwen3_generation_config(), "creative", {});
  EXPECT_DOUBLE_EQ(p.temperature, 0.9);
  EXPECT_DOUBLE_EQ(p.top_p, 0.9);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_DOUBLE_EQ(p.repetition_penalty, 1.1);
  EXPECT_EQ(p.max_tokens, 1024);

  // The request over everything.
  SamplingOverrides req;
  req.temperature = 0.0;
  req.max_tokens = 5;
  req.top_k = -1;
  p = resolve_sampling(qwen3_generation_config(), "creative", req);
  EXPECT_DOUBLE_EQ(p.temperature, 0.0);
  EXPECT_TRUE(p.greedy());
  EXPECT_EQ(p.max_tokens, 5);
  EXPECT_EQ(p.top_k, -1);
  EXPECT_DOUBLE_EQ(p.top_p, 0.9);
  EXPECT_DOUBLE_EQ(p.repetition_penalty, 1.1);
}

TEST(ResolveSampling, FileAppliesWhateverDoSampleSays) {
  GenerationConfig g = qwen3_generation_config();
  g.do_sample = false;  // vLLM's --generation-config auto still takes the values
  g.repetition_penalty = 1.05;
  const SamplingParams p = resolve_sampling(g, "", {});
  EXPECT_DOUBLE_EQ(p.temperature, 0.7);
  EXPECT_DOUBLE_EQ(p.top_p, 0.8);
  EXPECT_EQ(p.top_k, 20);
  EXPECT_DOUBLE_EQ(p.repetition_penalty, 1.05);
  EXPECT_FALSE(p.greedy());
}

}  // namespace
}  // namespace qwen3
