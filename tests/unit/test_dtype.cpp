// Scalar conversions; FP8 decode tables and float->FP8 rounding against torch's
// (fixtures/fp8_reference.safetensors, written by tools/fixtures/make_hf_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>

#include "core/dtype.h"
#include "model/fixture.h"
#include "model/fp8_quant.h"

namespace qwen3::test {
namespace {

TEST(DType, NamesRoundTrip) {
  for (DType d :
       {DType::kBF16, DType::kF16, DType::kF32, DType::kF8E4M3, DType::kF8E5M2, DType::kI64}) {
    EXPECT_EQ(dtype_from_name(dtype_name(d)), d);
  }
  EXPECT_FALSE(dtype_from_name("F8_E4M3FNUZ").has_value());
  EXPECT_EQ(dtype_size(DType::kBF16), 2u);
  EXPECT_EQ(dtype_size(DType::kF8E5M2), 1u);
}

TEST(DType, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + 0x1.0p-8f), 0x3f80);
  // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6).
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * 0x1.0p-8f), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

TEST(DType, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 0x1.0p-24f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << "f16 bits " << h;
  }
}

TEST(DType, Fp8TablesMatchTorch) {
  const auto ref = read_reference(fixtures_dir() + "/fp8_reference.safetensors");
  const std::pair<std::string, const float*> tables[] = {{"e4m3", fp8_e4m3_table()},
                                                         {"e5m2", fp8_e5m2_table()}};
  for (const auto& [name, table] : tables) {
    const auto& t = ref.at(name + "_table").f32;
    ASSERT_EQ(t.size(), 256u);
    for (int b = 0; b < 256; ++b) {
      if (std::isnan(t[b])) {
        EXPECT_TRUE(std::isnan(table[b])) << name << " code " << b;
      } else {
        EXPECT_EQ(table[b], t[b]) << name << " code " << b;
      }
    }
  }
  EXPECT_EQ(fp8_max(DType::kF8E4M3), 448.0f);
  EXPECT_EQ(fp8_max(DType::kF8E5M2), 57344.0f);
}

TEST(DType, Fp8EncodeMatchesTorchRounding) {
  const auto ref = read_reference(fixtures_dir() + "/fp8_reference.safetensors");
  const std::pair<std::string, uint8_t (*)(float)> encoders[] = {{"e4m3", &f32_to_fp8_e4m3},
                                                                 {"e5m2", &f32_to_fp8_e5m2}};
  for (const auto& [name, encode] : encoders) {
    const auto& in = ref.at(name + "_probe_in").f32;
    const auto& out = ref.at(name + "_probe_out").i64;
    ASSERT_EQ(in.size(), out.size());
    ASSERT_GT(in.size(), 1000u);
    int mismatches = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      if (encode(in[i]) != out[i] && ++mismatches < 10) {
        ADD_FAILURE() << name << ": " << in[i] << " -> " << int(encode(in[i])) << ", torch "
                      << out[i];
      }
    }
    EXPECT_EQ(mismatches, 0) << name;
  }
}

TEST(Fp8Quant, BlockScalesBoundTheError) {
  const int64_t rows = 200, cols = 300;  // partial blocks on both axes
  std::vector<float> w(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) w[i] = std::sin(0.37f * i) * (1 + (i % 97));
  std::vector<uint8_t> q(w.size());
  std::vector<float> s(2 * 3);
  quantize_fp8_blockwise(w.data(), rows, cols, 128, 128, DType::kF8E4M3, q.data(), s.data());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float scale = s[(r / 128) * 3 + c / 128];
      const float deq = fp8_e4m3_to_f32(q[r * cols + c]) * scale;
      // E4M3 keeps 3 mantissa bits: relative error <= 2^-4, absolute floor at the subnormal step.
      EXPECT_NEAR(deq, w[r * cols + c], std::fabs(w[r * cols + c]) / 16 + scale * 0x1.0p-9f);
    }
  }
  // The largest element of each block maps to the largest finite code.
  float amax = 0;
  for (int64_t r = 0; r < 128; ++r) {
    for (int64_t c = 0; c < 128; ++c) amax = std::max(amax, std::fabs(w[r * cols + c]));
  }
  EXPECT_FLOAT_EQ(s[0], amax / 448.0f);
}

}  // namespace
}  // namespace qwen3::test
