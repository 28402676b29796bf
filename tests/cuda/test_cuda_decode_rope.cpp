// The decode attention kernel with q/k-norm + RoPE + KV write folded in (decode-only
// steps, PagedAttentionParams::rope) against the two kernels it replaces: qk_norm_rope_kv,
// then the decode kernel on the q it wrote. Both read and write through rope_kv.cuh, so
// the outputs must be equal bit for bit and so must the pools (the new tokens' k and v
// in place, every other byte untouched), for each KV dtype, head size, decode CTA shape,
// and rows of one split and of many (including a first token, position 0).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <tuple>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/rope_kv.h"
#include "cuda/attention_test_util.h"
#include "cuda/cuda_test_util.h"
#include "model/rope.h"

namespace qwen3::cuda::test {
namespace {

using Param = std::tuple<KvDtype, int, int>;  // pool dtype, head_dim, query heads per CTA

// A pool of `elems` random KV values in the dtype's bytes (FP8: any code but NaN).
std::vector<uint8_t> random_pool(KvDtype dtype, size_t elems, uint32_t seed) {
  std::vector<uint8_t> bytes(elems * static_cast<size_t>(kv_dtype_size(dtype)));
  if (dtype == KvDtype::kFp8E4M3) {
    std::mt19937 rng(seed);
    for (auto& b : bytes) {
      b = static_cast<uint8_t>(rng());
      if ((b & 0x7f) == 0x7f) b &= 0xfe;
    }
    return bytes;
  }
  auto f = random_floats(static_cast<int64_t>(elems), seed);
  if (dtype == KvDtype::kBF16) {
    const auto b16 = to_bf16(f);
    std::memcpy(bytes.data(), b16.data(), bytes.size());
  } else {
    std::memcpy(bytes.data(), f.data(), bytes.size());
  }
  return bytes;
}

class DecodeRope : public ::testing::TestWithParam<Param> {};

TEST_P(DecodeRope, FusedEqualsSeparateKernels) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto [dtype, hd, heads_per_cta] = GetParam();
  const int heads = 8, kv_heads = 2, group = heads / kv_heads;
  const int64_t bs = 16, q_dim = int64_t{heads} * hd, kv_dim = int64_t{kv_heads} * hd;
  const int64_t width = q_dim + 2 * kv_dim;
  // Decode rows only: (1 new token, cached tokens).
  const PagedStep step = make_paged_step({{1, 0}, {1, 5}, {1, 700}, {1, 3000}}, bs, 31);
  const int64_t rows = step.rows;
  std::vector<int64_t> slots;
  for (size_t si = 0; si < step.seqs.size(); ++si) {
    const int32_t pos = step.row_pos[si];
    slots.push_back(int64_t{step.tables[si * step.max_blocks + pos / bs]} * bs + pos % bs);
  }
  const ModelConfig c = attention_config(heads, kv_heads, hd);
  const RopeTable table = RopeTable::build(c);
  auto qkv = random_floats(rows * width, 32);
  auto qn = random_floats(hd, 33), kn = random_floats(hd, 34);
  const size_t pool_elems = static_cast<size_t>(step.num_blocks * bs * kv_dim);
  const auto k0 = random_pool(dtype, pool_elems, 35), v0 = random_pool(dtype, pool_elems, 36);
  std::vector<float> scales = {0.37f, 1.9f};
  auto d_scales = to_device(scales);
  const float* k_scale = dtype == KvDtype::kFp8E4M3 ? d_scales.as<float>() : nullptr;
  const float* v_scale = dtype == KvDtype::kFp8E4M3 ? d_scales.as<float>() + 1 : nullptr;

  auto d_qkv = to_device(qkv), d_qn = to_device(qn), d_kn = to_device(kn);
  auto d_freq = to_device(table.inv_freq);
  auto d_pos = to_device(step.row_pos);
  auto d_slot = to_device(slots);
  auto d_tables = to_device(step.tables);
  const AttentionPlan plan =
      plan_attention(step.seqs, group, kv_heads, 132, kDecodeSplitTokens, heads_per_cta);
  ASSERT_TRUE(plan.items.empty());
  ASSERT_GT(plan.num_split_rows, 0);

  struct Result {
    std::vector<float> out;
    std::vector<uint8_t> k, v;
  };
  auto run = [&](bool fused) {
    const DeviceAttentionPlan d_plan(plan, heads, kv_heads, hd);
    auto d_k = to_device(k0), d_v = to_device(v0);
    auto d_q = poisoned<float>(rows * q_dim);
    auto d_out = poisoned<float>(rows * q_dim);
    const QkNormRopeKvParams rope{.qkv = d_qkv.as<float>(),
                                  .q_norm = d_qn.as<float>(),
                                  .k_norm = d_kn.as<float>(),
                                  .inv_freq = d_freq.as<float>(),
                                  .attention_scaling = table.attention_scaling,
                                  .row_pos = d_pos.as<int32_t>(),
                                  .row_slot = d_slot.as<int64_t>(),
                                  .q_out = d_q.as<float>(),
                                  .k_pool = d_k.get(),
                                  .v_pool = d_v.get(),
                                  .kv_dtype = dtype,
                                  .rows = rows,
                                  .heads = heads,
                                  .kv_heads = kv_heads,
                                  .head_dim = hd,
                                  .eps = 1e-6f,
                                  .k_scale = k_scale,
                                  .v_scale = v_scale};
    if (!fused) launch_qk_norm_rope_kv(rope, nullptr);
    PagedAttentionParams params{.q = d_q.as<float>(),
                                .k_pool = d_k.get(),
                                .v_pool = d_v.get(),
                                .kv_dtype = dtype,
                                .block_tables = d_tables.as<int32_t>(),
                                .max_blocks = step.max_blocks,
                                .row_pos = d_pos.as<int32_t>(),
                                .out = d_out.as<float>(),
                                .heads = heads,
                                .kv_heads = kv_heads,
                                .head_dim = hd,
                                .block_size = static_cast<int>(bs),
                                .scale = 1.0f / std::sqrt(float(hd)),
                                .k_scale = k_scale,
                                .v_scale = v_scale};
    if (fused) params.rope = rope;
    d_plan.fill(params);
    launch_paged_attention(params, nullptr);
    for (const int n : d_plan.counters()) EXPECT_EQ(n, 0);
    const size_t pool_bytes = k0.size();
    return Result{to_host<float>(d_out, rows * q_dim), to_host<uint8_t>(d_k, pool_bytes),
                  to_host<uint8_t>(d_v, pool_bytes)};
  };
  // Both decode kernels (tensor-core and SIMT) take the fused prologue; one-head CTAs run the
  // SIMT kernel either way, so once.
  const std::vector<bool> kernels = heads_per_cta == kDecodeHeadsPerCta
                                        ? std::vector<bool>{true, false}
                                        : std::vector<bool>{false};
  for (const bool mma : kernels) {
    SCOPED_TRACE(mma ? "tensor-core decode kernel (where it applies)" : "SIMT decode kernel");
    set_paged_attention_mma(mma);
    const Result separate = run(false), fused = run(true);
    set_paged_attention_mma(true);
    ASSERT_EQ(fused.out.size(), separate.out.size());
    int64_t differ = 0;
    for (size_t i = 0; i < fused.out.size(); ++i) {
      if (std::memcmp(&fused.out[i], &separate.out[i], sizeof(float)) != 0 && differ++ < 5) {
        ADD_FAILURE() << fmt::format("out[{}]: fused {} separate {}", i, fused.out[i],
                                     separate.out[i]);
      }
    }
    EXPECT_EQ(differ, 0);
    EXPECT_TRUE(fused.k == separate.k) << "K pools differ";
    EXPECT_TRUE(fused.v == separate.v) << "V pools differ";
    EXPECT_FALSE(separate.k == k0) << "the new tokens' k was not written";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Pools, DecodeRope,
    ::testing::Combine(::testing::Values(KvDtype::kF32, KvDtype::kBF16, KvDtype::kFp8E4M3),
                       ::testing::Values(64, 128), ::testing::Values(1, kDecodeHeadsPerCta)),
    [](const ::testing::TestParamInfo<Param>& p) {
      return fmt::format("{}_d{}_h{}", kv_dtype_name(std::get<0>(p.param)), std::get<1>(p.param),
                         std::get<2>(p.param));
    });

}  // namespace
}  // namespace qwen3::cuda::test
