// Self-consistency of the CPU forward (no reference needed): incremental decoding and
// chunked prefill give the logits of one full prefill.
#include <gtest/gtest.h>

#include "backends/cpu/cpu_model.h"
#include "core/error.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"

namespace qwen3::test {
namespace {

TEST(CpuForward, PrefillPlusDecodeEqualsFullPrefill) {
  TempDir dir;
  InitRandomOptions o;
  o.config = config_from_like(test_data("initrandom_small.json"));
  o.seed = 11;
  o.out_dir = dir.str() + "/m";
  init_random_checkpoint(o);
  const auto w = Qwen3Weights::load(o.out_dir);
  const cpu::CpuModel model(*w);
  const int64_t V = w->config().vocab_size;
  std::vector<int32_t> seq;
  for (int i = 0; i < 40; ++i) seq.push_back((i * 37 + 5) % static_cast<int32_t>(V));

  cpu::KvCache full_cache(w->config(), 40);
  const auto full = model.forward(seq, full_cache, cpu::LogitsMode::kAll);

  // Prefill 17, then chunks of 1, 5 and 1 tokens.
  cpu::KvCache cache(w->config(), 40);
  std::vector<float> got = model.forward(std::span(seq.data(), 17), cache, cpu::LogitsMode::kAll);
  size_t pos = 17;
  for (size_t chunk : {1, 5, 1, 16}) {
    const auto part =
        model.forward(std::span(seq.data() + pos, chunk), cache, cpu::LogitsMode::kAll);
    got.insert(got.end(), part.begin(), part.end());
    pos += chunk;
  }
  ASSERT_EQ(pos, seq.size());
  ASSERT_EQ(got.size(), full.size());
  const Diff d = compare(got.data(), full.data(), full.size());
  EXPECT_LT(d.rel(), 1e-5);

  // kLast returns the last row of kAll (up to summation order: one row takes the
  // decode-shaped kernel, many rows the blocked one).
  cpu::KvCache c2(w->config(), 40);
  const auto last = model.forward(seq, c2, cpu::LogitsMode::kLast);
  const Diff dl = compare(last.data(), full.data() + 39 * V, V);
  EXPECT_LT(dl.rel(), 1e-6);

  // Overflowing the cache and bad token ids are errors, not crashes.
  EXPECT_THROW(model.forward(seq, c2, cpu::LogitsMode::kLast), Error);
  cpu::KvCache c3(w->config(), 4);
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(V)};
  EXPECT_THROW(model.forward(bad, c3, cpu::LogitsMode::kLast), Error);
}

}  // namespace
}  // namespace qwen3::test
