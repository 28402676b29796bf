// Randomized mutation of real safetensors files (always runs in CI; the libFuzzer target
// in libfuzzer_main.cpp explores further when built with clang).
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "fuzz/safetensors_fuzz_target.h"
#include "model/fixture.h"

namespace qwen3::test {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(SafetensorsFuzz, MutatedFilesParseOrFailCleanly) {
  const auto seed_file = read_file(fixture_model("yarn_untied") + "/model.safetensors");
  ASSERT_GT(seed_file.size(), 1000u);
  ASSERT_EQ(fuzz::safetensors_one_input(seed_file.data(), seed_file.size()), 1);
  const uint64_t header_len =
      seed_file[0] | (uint64_t{seed_file[1]} << 8) | (uint64_t{seed_file[2]} << 16);
  std::mt19937_64 rng(12345);
  int accepted = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> f = seed_file;
    const int kind = iter % 5;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      // Length field, header text, or (kind 1) anywhere including the data section.
      const size_t pos = kind == 0   ? rng() % 8
                         : kind == 1 ? rng() % f.size()
                                     : 8 + rng() % header_len;
      if (pos >= f.size()) break;
      switch (kind) {
        case 0:
        case 1:
          f[pos] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 2:
          f[pos] = static_cast<uint8_t>("0123456789[]{}\",:-e."[rng() % 20]);
          break;
        case 3:
          f.resize(rng() % f.size());
          break;
        default:
          f[pos] = static_cast<uint8_t>(rng());
          break;
      }
      if (f.size() < 9) break;
    }
    (fuzz::safetensors_one_input(f.data(), f.size()) ? accepted : rejected)++;
  }
  EXPECT_GT(rejected, 0);
  std::printf("fuzz: %d accepted, %d rejected cleanly\n", accepted, rejected);
}

}  // namespace
}  // namespace qwen3::test
