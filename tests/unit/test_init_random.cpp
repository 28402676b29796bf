#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "model/checkpoint.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"

namespace qwen3::test {
namespace {

namespace fs = std::filesystem;

TEST(InitRandom, DeterministicPerSeed) {
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/a", 1));
  init_random_checkpoint(small_init_random(dir.str() + "/b", 1));
  init_random_checkpoint(small_init_random(dir.str() + "/c", 2));
  EXPECT_EQ(read_bytes(dir.path() / "a/model.safetensors"),
            read_bytes(dir.path() / "b/model.safetensors"));
  EXPECT_NE(read_bytes(dir.path() / "a/model.safetensors"),
            read_bytes(dir.path() / "c/model.safetensors"));
}

TEST(InitRandom, WritesTheHuggingFaceLayout) {
  TempDir dir;
  auto o = small_init_random(dir.str() + "/m", 3);
  o.max_shard_bytes = 200000;  // force shards + index
  init_random_checkpoint(o);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors.index.json"}) {
    EXPECT_TRUE(fs::exists(dir.path() / "m" / f)) << f;
  }
  int shards = 0;
  for (const auto& e : fs::directory_iterator(dir.path() / "m")) {
    shards += e.path().filename().string().starts_with("model-0000");
  }
  EXPECT_GT(shards, 1);
  EXPECT_FALSE(fs::exists(dir.path() / "m" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir.path() / "m.partial"));
  const auto w = Qwen3Weights::load(dir.str() + "/m");
  EXPECT_EQ(w->config().to_json(), o.config.to_json());
  EXPECT_EQ(w->layers().size(), 2u);
  EXPECT_FALSE(w->config().tie_word_embeddings);
  const auto g = GenerationConfig::load(dir.str() + "/m");
  EXPECT_EQ(g.top_k, 20);
}

TEST(InitRandom, WeightStatisticsFollowTheConfig) {
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/m", 4));
  const auto w = Qwen3Weights::load(dir.str() + "/m");
  const WeightMatrix& m = w->layers()[0].gate_proj;
  std::vector<float> row(m.cols);
  double sum = 0, sq = 0;
  for (int64_t r = 0; r < m.rows; ++r) {
    m.row_to_f32(r, row.data());
    for (float x : row) sum += x, sq += double(x) * x;
  }
  const double n = double(m.rows * m.cols);
  EXPECT_NEAR(sum / n, 0.0, 0.002);
  EXPECT_NEAR(std::sqrt(sq / n), 0.02, 0.001);  // initializer_range
}

TEST(InitRandom, Fp8CheckpointCarriesScalesAndQuantizationConfig) {
  TempDir dir;
  auto o = small_init_random(dir.str() + "/fp8", 5);
  o.fp8 = true;
  init_random_checkpoint(o);
  auto bf = small_init_random(dir.str() + "/bf16", 5);
  init_random_checkpoint(bf);
  const auto w8 = Qwen3Weights::load(o.out_dir);
  const auto w16 = Qwen3Weights::load(bf.out_dir);
  EXPECT_TRUE(w8->config().quant.fp8);
  const WeightMatrix& q = w8->layers()[1].down_proj;  // [192, 320]: partial blocks
  EXPECT_EQ(q.dtype, DType::kF8E4M3);
  EXPECT_EQ(q.scale_inv.size(), 2u * 3u);
  // Same seed: the fp8 weights are the bf16 ones quantised (3 mantissa bits).
  std::vector<float> a(q.cols), b(q.cols);
  for (int64_t r = 0; r < q.rows; r += 17) {
    q.row_to_f32(r, a.data());
    w16->layers()[1].down_proj.row_to_f32(r, b.data());
    for (int64_t c = 0; c < q.cols; ++c)
      EXPECT_NEAR(a[c], b[c], std::fabs(b[c]) / 16 + 1e-4) << r << "," << c;
  }
}

TEST(InitRandom, RefusesToOverwriteWithoutForce) {
  TempDir dir;
  init_random_checkpoint(small_init_random(dir.str() + "/m", 1));
  try {
    init_random_checkpoint(small_init_random(dir.str() + "/m", 2));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos);
  }
  auto o = small_init_random(dir.str() + "/m", 2);
  o.force = true;
  init_random_checkpoint(o);
  EXPECT_THROW(config_from_like("no-such-preset"), Error);
  EXPECT_EQ(preset_config("qwen3-4b").hidden_size, 2560);
  EXPECT_EQ(preset_config("tiny").vocab_size, 151936);
}

}  // namespace
}  // namespace qwen3::test
