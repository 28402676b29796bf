// RoPE tables against the inv_freq / attention scaling that HF transformers computed for
// the fixture models (default RoPE and YaRN).
#include <gtest/gtest.h>

#include "model/config.h"
#include "model/fixture.h"
#include "model/rope.h"

namespace qwen3::test {
namespace {

void expect_rope_matches_hf(const std::string& name) {
  const ModelConfig c = ModelConfig::load(fixture_model(name));
  const RopeTable t = RopeTable::build(c);
  const auto ref = read_reference(fixtures_dir() + "/" + name + ".expected.safetensors");
  const auto& inv = ref.at("rope_inv_freq").f32;
  ASSERT_EQ(t.inv_freq.size(), inv.size());
  for (size_t i = 0; i < inv.size(); ++i)
    EXPECT_NEAR(t.inv_freq[i], inv[i], 1e-6 * inv[i]) << name << " i=" << i;
  EXPECT_NEAR(t.attention_scaling, ref.at("rope_attention_scaling").f32[0], 1e-6) << name;
}

TEST(Rope, DefaultMatchesTransformers) { expect_rope_matches_hf("gqa4_hd128"); }
TEST(Rope, YarnMatchesTransformers) { expect_rope_matches_hf("yarn_untied"); }

TEST(Rope, PositionZeroIsIdentityAndRotationPreservesNorm) {
  ModelConfig c = ModelConfig::load(fixture_model("gqa4_hd128"));
  const RopeTable t = RopeTable::build(c);
  std::vector<float> cos(t.inv_freq.size()), sin(t.inv_freq.size());
  t.cos_sin(0, cos.data(), sin.data());
  for (size_t i = 0; i < cos.size(); ++i) {
    EXPECT_FLOAT_EQ(cos[i], 1.0f);
    EXPECT_FLOAT_EQ(sin[i], 0.0f);
  }
  t.cos_sin(12345, cos.data(), sin.data());
  for (size_t i = 0; i < cos.size(); ++i) EXPECT_NEAR(cos[i] * cos[i] + sin[i] * sin[i], 1.0, 1e-5);
}

}  // namespace
}  // namespace qwen3::test
