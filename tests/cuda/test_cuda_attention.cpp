// Paged attention (prefill chunks, decode rows with and without split-KV) against a
// float64 reference over the same pool, for several head sizes, GQA groups and KV dtypes.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "cuda/cuda_test_util.h"

namespace qwen3::cuda::test {
namespace {

struct Case {
  int heads, kv_heads, head_dim;
  KvDtype kv_dtype;
  int num_sms;  // 1: no split-KV; 132: decode rows split
};

class PagedAttention : public ::testing::TestWithParam<Case> {};

TEST_P(PagedAttention, MatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const Case cs = GetParam();
  const int hd = cs.head_dim, group = cs.heads / cs.kv_heads;
  const int64_t bs = 16, num_blocks = 64, kv_dim = int64_t{cs.kv_heads} * hd;
  const int64_t q_dim = int64_t{cs.heads} * hd;
  // A prompt, a later chunk, a long decode row and a short one.
  const std::vector<AttnSeq> seqs = {{0, 37, 0}, {37, 20, 50}, {57, 1, 700}, {58, 1, 5}};
  const int64_t rows = 59;

  std::vector<int32_t> perm(num_blocks - 1);
  std::iota(perm.begin(), perm.end(), 1);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(42));
  int32_t max_blocks = 0;
  for (const auto& s : seqs) max_blocks = std::max<int32_t>(max_blocks, (s.start_pos + s.num_rows + bs - 1) / bs);
  std::vector<int32_t> tables(seqs.size() * max_blocks, 0);
  std::vector<int32_t> row_pos;
  size_t next = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int32_t need = (seqs[i].start_pos + seqs[i].num_rows + bs - 1) / bs;
    for (int32_t b = 0; b < need; ++b) tables[i * max_blocks + b] = perm[next++];
    for (int32_t t = 0; t < seqs[i].num_rows; ++t) row_pos.push_back(seqs[i].start_pos + t);
  }

  auto kf = random_floats(num_blocks * bs * kv_dim, 20);
  auto vf = random_floats(num_blocks * bs * kv_dim, 21);
  DeviceBuffer d_k, d_v;
  if (cs.kv_dtype == KvDtype::kBF16) {
    d_k = to_device(to_bf16(kf));
    d_v = to_device(to_bf16(vf));
  } else {
    d_k = to_device(kf);
    d_v = to_device(vf);
  }
  const auto q = random_floats(rows * q_dim, 22);

  const AttentionPlan plan = plan_attention(seqs, group, cs.kv_heads, cs.num_sms);
  if (cs.num_sms > 1) {
    EXPECT_GT(plan.num_partials, 0);
  } else {
    EXPECT_EQ(plan.num_partials, 0);
  }
  auto d_q = to_device(q);
  auto d_tables = to_device(tables);
  auto d_pos = to_device(row_pos);
  auto d_items = to_device(plan.items);
  auto d_comb = to_device(plan.combine);
  const size_t partials = std::max<int32_t>(plan.num_partials, 1);
  auto d_po = poisoned<float>(partials * q_dim);
  auto d_pl = poisoned<float>(partials * cs.heads);
  auto d_out = poisoned<float>(rows * q_dim);
  launch_paged_attention({d_q.as<float>(), d_k.get(), d_v.get(), cs.kv_dtype,
                          d_tables.as<int32_t>(), max_blocks, d_pos.as<int32_t>(),
                          d_items.as<AttnWorkItem>(), static_cast<int>(plan.items.size()),
                          d_out.as<float>(), d_po.as<float>(), d_pl.as<float>(), cs.heads,
                          cs.kv_heads, hd, static_cast<int>(bs), 1.0f / std::sqrt(float(hd))},
                         nullptr);
  launch_attention_combine({d_comb.as<AttnCombineItem>(), static_cast<int>(plan.combine.size()),
                            d_po.as<float>(), d_pl.as<float>(), d_out.as<float>(), cs.heads, hd},
                           nullptr);
  const auto out = to_host<float>(d_out, rows * q_dim);

  std::vector<double> ref(rows * q_dim);
  for (size_t si = 0; si < seqs.size(); ++si) {
    for (int32_t t = 0; t < seqs[si].num_rows; ++t) {
      const int64_t r = seqs[si].row_begin + t;
      const int64_t pos = row_pos[r];
      for (int h = 0; h < cs.heads; ++h) {
        const int kvh = h / group;
        std::vector<double> sc(pos + 1);
        double mx = -1e300;
        for (int64_t j = 0; j <= pos; ++j) {
          const int64_t slot = int64_t{tables[si * max_blocks + j / bs]} * bs + j % bs;
          double s = 0;
          for (int d = 0; d < hd; ++d)
            s += double(q[r * q_dim + h * hd + d]) * kf[slot * kv_dim + kvh * hd + d];
          sc[j] = s / std::sqrt(double(hd));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& s : sc) sum += (s = std::exp(s - mx));
        for (int d = 0; d < hd; ++d) {
          double o = 0;
          for (int64_t j = 0; j <= pos; ++j) {
            const int64_t slot = int64_t{tables[si * max_blocks + j / bs]} * bs + j % bs;
            o += sc[j] * vf[slot * kv_dim + kvh * hd + d];
          }
          ref[r * q_dim + h * hd + d] = o / sum;
        }
      }
    }
  }
  EXPECT_LT(rel_error(out, ref), 1e-5);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PagedAttention,
    ::testing::Values(Case{32, 8, 128, KvDtype::kBF16, 132}, Case{32, 8, 128, KvDtype::kF32, 1},
                      Case{4, 1, 128, KvDtype::kF32, 132}, Case{4, 2, 32, KvDtype::kBF16, 132},
                      Case{4, 2, 64, KvDtype::kF32, 1}, Case{8, 8, 256, KvDtype::kBF16, 132}),
    [](const ::testing::TestParamInfo<Case>& p) {
      const Case& c = p.param;
      return fmt::format("h{}_kv{}_d{}_{}_sms{}", c.heads, c.kv_heads, c.head_dim,
                         kv_dtype_name(c.kv_dtype), c.num_sms);
    });

}  // namespace
}  // namespace qwen3::cuda::test
