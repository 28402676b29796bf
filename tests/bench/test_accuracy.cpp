// `qwen3 bench accuracy`: the per-row metrics against hand-computed values, then the whole
// comparison on tiny CPU models: a model against itself (exactly equal), its FP8
// quantization (close, not equal) and an unrelated model (far).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/accuracy.h"
#include "core/error.h"
#include "model/init_random.h"
#include "model/quantize.h"

namespace qwen3::bench {
namespace {

namespace fs = std::filesystem;

TEST(CompareLogits, IdenticalRows) {
  const std::vector<float> a = {0.5f, -1.0f, 3.0f, 2.0f};
  const LogitsComparison c = compare_logits(a, a);
  EXPECT_NEAR(c.cosine, 1.0, 1e-12);
  EXPECT_EQ(c.max_abs, 0.0);
  EXPECT_NEAR(c.kl, 0.0, 1e-12);
  EXPECT_TRUE(c.top1_agree);
}

TEST(CompareLogits, HandComputedValues) {
  // P = (1/2, 1/2), Q = (1/4, 3/4): KL(P || Q) = ln(4/3) / 2.
  const std::vector<float> p = {0.0f, 0.0f};
  const std::vector<float> q = {0.0f, static_cast<float>(std::log(3.0))};
  const LogitsComparison c = compare_logits(p, q);
  EXPECT_NEAR(c.kl, 0.5 * std::log(4.0 / 3.0), 1e-7);
  EXPECT_NEAR(c.max_abs, std::log(3.0), 1e-6);
  EXPECT_FALSE(c.top1_agree);  // P's tie goes to the lowest id (0); Q's best is 1
}

TEST(CompareLogits, OrthogonalAndDisagreeing) {
  const std::vector<float> a = {1.0f, 0.0f}, b = {0.0f, 1.0f};
  const LogitsComparison c = compare_logits(a, b);
  EXPECT_NEAR(c.cosine, 0.0, 1e-12);
  EXPECT_FALSE(c.top1_agree);
  EXPECT_GT(c.kl, 0.4);
}

class AccuracyRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qwen3_accuracy_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string model(const std::string& name, uint64_t seed) {
    InitRandomOptions o;
    o.config = preset_config("tiny");
    o.seed = seed;
    o.out_dir = (dir_ / name).string();
    init_random_checkpoint(o);
    return o.out_dir;
  }
  nlohmann::json run(const std::string& m, const std::string& ref) {
    AccuracyConfig c;
    c.model_dir = m;
    c.reference_dir = ref;
    c.device = "cpu";
    c.prompt_len = 8;
    c.steps = 16;  // short: the suite also runs under ASan
    c.seed = 7;
    c.output_json = (dir_ / "out.json").string();
    EXPECT_EQ(run_bench_accuracy(c), 0);
    std::ifstream f(c.output_json);
    return nlohmann::json::parse(f);
  }
  fs::path dir_;
};

TEST_F(AccuracyRun, SelfFp8AndUnrelated) {
  const std::string bf16 = model("bf16", 1), other = model("other", 2);
  QuantizeOptions q;
  q.in_dir = bf16;
  q.out_dir = (dir_ / "fp8").string();
  quantize_checkpoint(q);

  const nlohmann::json self = run(bf16, bf16);
  EXPECT_EQ(self["rows_compared"].get<int>(), 17);
  EXPECT_EQ(self["top1_agreement"].get<double>(), 1.0);
  EXPECT_EQ(self["kl_max"].get<double>(), 0.0);
  EXPECT_EQ(self["max_abs_max"].get<double>(), 0.0);

  const nlohmann::json fp8 = run(q.out_dir, bf16);
  EXPECT_GT(fp8["cosine_min"].get<double>(), 0.98);
  EXPECT_LT(fp8["cosine_min"].get<double>(), 1.0);
  EXPECT_GT(fp8["kl_mean"].get<double>(), 0.0);
  EXPECT_GT(fp8["max_abs_max"].get<double>(), 0.0);
  EXPECT_GE(fp8["top1_agreement"].get<double>(), 0.5);

  const nlohmann::json far = run(other, bf16);
  EXPECT_LT(far["cosine_mean"].get<double>(), 0.5);
  EXPECT_GT(far["kl_mean"].get<double>(), 10 * fp8["kl_mean"].get<double>());
}

TEST_F(AccuracyRun, BadInputIsAClearError) {
  const std::string tiny = model("tiny", 1);
  InitRandomOptions o;
  o.config = preset_config("tiny");
  o.config.num_hidden_layers += 1;  // another geometry
  o.seed = 1;
  o.out_dir = (dir_ / "deeper").string();
  init_random_checkpoint(o);
  AccuracyConfig c;
  c.model_dir = tiny;
  c.reference_dir = o.out_dir;
  c.device = "cpu";
  c.steps = 2;
  try {
    run_bench_accuracy(c);
    ADD_FAILURE() << "a reference of another geometry was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("--reference"), std::string::npos) << e.what();
  }
  c.reference_dir = tiny;
  c.prompt_len = 0;
  EXPECT_THROW(run_bench_accuracy(c), Error);
  c.prompt_len = 4;
  c.steps = 1 << 30;  // past max_position_embeddings
  try {
    run_bench_accuracy(c);
    ADD_FAILURE() << "a run past max_position_embeddings was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_position_embeddings"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace qwen3::bench
