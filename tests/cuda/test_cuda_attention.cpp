// Paged attention (prefill chunks, decode rows with and without split-KV) against a
// float64 reference over the same pool, for several head sizes, GQA groups, block sizes
// and KV dtypes; and the host planner's invariants (CPU only).
//
// Tolerances: the float32 SIMT prefill kernel and both decode kernels (float32, or tensor
// cores with operands split in two) ||out - ref|| / ||ref|| < 1e-5. The tensor-core prefill kernel
// (BF16 pool, head_dim 64/128) rounds Q and P to BF16: per element |out - ref| <= 1e-2 + 1e-2 |ref|
// (a few BF16 eps of the unit-variance V) and the norm error < 1e-2.
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <utility>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/attention_ws.h"
#include "core/error.h"
#include "cuda/attention_test_util.h"
#include "cuda/cuda_test_util.h"

namespace qwen3::cuda::test {
namespace {

struct Shape {
  int heads, kv_heads, head_dim;
  KvDtype kv_dtype;
  int num_sms;  // 1: no split-KV; 132: decode rows split
  int block_size;
};

// Runs plan + attention for one step on random inputs and compares against
// float64. Rows of long sequences are sampled (first, last and every 11th) to keep the
// reference cheap; the output is poisoned, so unwritten checked rows fail.
void check_step(const Shape& cs, const SeqSpec& spec, uint64_t seed) {
  const int hd = cs.head_dim, group = cs.heads / cs.kv_heads;
  const int64_t bs = cs.block_size, kv_dim = int64_t{cs.kv_heads} * hd;
  const int64_t q_dim = int64_t{cs.heads} * hd;
  const PagedStep step = make_paged_step(spec, bs, seed);
  const int64_t rows = step.rows, num_blocks = step.num_blocks;
  const int32_t max_blocks = step.max_blocks;

  auto kf = random_floats(num_blocks * bs * kv_dim, seed + 1);
  auto vf = random_floats(num_blocks * bs * kv_dim, seed + 2);
  DeviceBuffer d_k, d_v;
  if (cs.kv_dtype == KvDtype::kBF16) {
    d_k = to_device(to_bf16(kf));
    d_v = to_device(to_bf16(vf));
  } else {
    d_k = to_device(kf);
    d_v = to_device(vf);
  }
  const auto q = random_floats(rows * q_dim, seed + 3);

  const std::vector<RefElement> ref_all =
      reference_attention(step, q, kf, vf, cs.heads, cs.kv_heads, hd);
  // Both decode CTA shapes (the planner picks by context; prefill rows are unaffected), the
  // four-head one on the tensor-core kernels (where they apply) and on the SIMT ones (one-
  // head CTAs always run the SIMT decode kernel).
  for (const auto& [heads_per_cta, mma_on] :
       {std::pair{1, true}, {kDecodeHeadsPerCta, true}, {kDecodeHeadsPerCta, false}}) {
    SCOPED_TRACE(fmt::format("{} query head(s) per decode CTA, {} kernels", heads_per_cta,
                             mma_on ? "tensor-core" : "SIMT"));
    set_paged_attention_mma(mma_on);
    const AttentionPlan plan = plan_attention(step.seqs, group, cs.kv_heads, cs.num_sms,
                                              kDecodeSplitTokens, heads_per_cta);
    const DeviceAttentionPlan d_plan(plan, cs.heads, cs.kv_heads, hd);
    auto d_q = to_device(q);
    auto d_tables = to_device(step.tables);
    auto d_pos = to_device(step.row_pos);
    auto d_out = poisoned<float>(rows * q_dim);
    PagedAttentionParams params{.q = d_q.as<float>(),
                                .k_pool = d_k.get(),
                                .v_pool = d_v.get(),
                                .kv_dtype = cs.kv_dtype,
                                .block_tables = d_tables.as<int32_t>(),
                                .max_blocks = max_blocks,
                                .row_pos = d_pos.as<int32_t>(),
                                .out = d_out.as<float>(),
                                .heads = cs.heads,
                                .kv_heads = cs.kv_heads,
                                .head_dim = hd,
                                .block_size = static_cast<int>(bs),
                                .pool_rows = num_blocks * bs,
                                .scale = 1.0f / std::sqrt(float(hd))};
    d_plan.fill(params);
    launch_paged_attention(params, nullptr);
    // Twice: the split rows' counters must be back at 0 for the next launch (next layer).
    launch_paged_attention(params, nullptr);
    for (const int c : d_plan.counters()) EXPECT_EQ(c, 0);
    const auto out_all = to_host<float>(d_out, rows * q_dim);
    const bool mma = paged_attention_uses_mma(params);
    set_paged_attention_mma(true);

    // Decode rows (one new token) run in float32 whatever the pool: their own tolerance.
    std::vector<float> out, out_dec;
    std::vector<double> ref, ref_dec;
    for (const RefElement& e : ref_all) {
      (e.decode ? ref_dec : ref).push_back(e.value);
      (e.decode ? out_dec : out).push_back(out_all[e.index]);
    }
    if (!ref_dec.empty()) {
      EXPECT_LT(rel_error(out_dec, ref_dec), 1e-5) << "decode rows";
    }
    if (ref.empty()) continue;
    if (!mma) {
      EXPECT_LT(rel_error(out, ref), 1e-5);
      continue;
    }
    EXPECT_LT(rel_error(out, ref), 1e-2);
    int64_t bad = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      const double err = std::abs(double(out[i]) - ref[i]);
      if (!(err <= 1e-2 + 1e-2 * std::abs(ref[i])) && bad++ < 5) {
        ADD_FAILURE() << fmt::format("element {} (row-sampled): out {} ref {}", i, out[i], ref[i]);
      }
    }
    EXPECT_EQ(bad, 0);
  }
}

std::string shape_name(const Shape& c) {
  return fmt::format("h{}_kv{}_d{}_{}_sms{}_bs{}", c.heads, c.kv_heads, c.head_dim,
                     kv_dtype_name(c.kv_dtype), c.num_sms, c.block_size);
}

// A prompt, a later chunk, a long decode row and a short one, over every kernel path.
class PagedAttention : public ::testing::TestWithParam<Shape> {};

TEST_P(PagedAttention, MatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  check_step(GetParam(), {{37, 0}, {20, 50}, {1, 700}, {1, 5}}, 20);
}

INSTANTIATE_TEST_SUITE_P(Shapes, PagedAttention,
                         ::testing::Values(Shape{32, 8, 128, KvDtype::kBF16, 132, 16},
                                           Shape{32, 8, 128, KvDtype::kF32, 1, 16},
                                           Shape{4, 1, 128, KvDtype::kF32, 132, 16},
                                           Shape{4, 2, 32, KvDtype::kBF16, 132, 16},
                                           Shape{4, 2, 64, KvDtype::kF32, 1, 16},
                                           Shape{8, 8, 256, KvDtype::kBF16, 132, 16},
                                           Shape{4, 2, 64, KvDtype::kBF16, 1, 32},
                                           Shape{8, 1, 128, KvDtype::kBF16, 132, 32}),
                         [](const ::testing::TestParamInfo<Shape>& p) {
                           return shape_name(p.param);
                         });

// The SIMT kernel on the shapes the tensor-core kernel normally takes (its fallback
// below sm_80), float32 tolerance.
TEST(PagedAttentionSimt, Bf16PoolWhenMmaDisabled) {
  QWEN3_SKIP_WITHOUT_GPU();
  set_paged_attention_mma(false);
  check_step({32, 8, 128, KvDtype::kBF16, 132, 16}, {{37, 0}, {20, 50}, {1, 700}, {1, 5}}, 20);
  check_step({4, 2, 64, KvDtype::kBF16, 1, 32}, {{100, 30}, {1, 90}}, 21);
  set_paged_attention_mma(true);
}

// The warp-specialised kernel's switch and tile for a scope; what was set before
// (QWEN3_CUDA_ATTN_WS's setting) comes back at its end.
class ScopedWs {
 public:
  ScopedWs(bool on, int tile_keys = 128)
      : on_(paged_attention_ws_enabled()), tile_(paged_attention_ws_tile()) {
    set_paged_attention_ws(on, tile_keys);
  }
  ~ScopedWs() { set_paged_attention_ws(on_, tile_); }
  ScopedWs(const ScopedWs&) = delete;
  ScopedWs& operator=(const ScopedWs&) = delete;

 private:
  bool on_;
  int tile_;
};

// The tensor-core kernel's two-stage ring (what GPUs with less shared memory per block
// than the four-stage one needs run, e.g. sm_89), BF16 pool, head_dim 128 and 64.
// (These tests switch the warp-specialised kernel off: on sm_90a it would take the head_dim
// 128 steps.)
TEST(PagedAttentionMma, TwoStageRingMatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const ScopedWs ws_off(false);
  set_paged_attention_small_smem(true);
  check_step({32, 8, 128, KvDtype::kBF16, 132, 16}, {{300, 0}, {45, 77}, {1, 900}, {3, 61}}, 22);
  check_step({8, 2, 64, KvDtype::kBF16, 132, 32}, {{257, 0}, {33, 100}, {1, 513}}, 23);
  set_paged_attention_small_smem(false);
}

// The four-stage ring with P V on wgmma (sm_90a; mma.sync elsewhere): what a BF16 head_dim
// 128 pool runs when the warp-specialised kernel does not apply (e.g. 8-row blocks).
TEST(PagedAttentionMma, FourStageRingMatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const ScopedWs ws_off(false);
  check_step({32, 8, 128, KvDtype::kBF16, 132, 16}, {{300, 0}, {45, 77}, {1, 900}, {3, 61}}, 26);
  check_step({4, 1, 128, KvDtype::kBF16, 1, 32}, {{2047, 0}}, 27);
}

// The four-stage ring with P V on mma.sync (V through ldmatrix.trans) instead of wgmma: the
// path of QWEN3_CUDA_PV_WGMMA=0 (on sm_90a; elsewhere both settings run it).
TEST(PagedAttentionMma, PvOnMmaSyncMatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  const ScopedWs ws_off(false);
  set_paged_attention_pv_wgmma(false);
  check_step({32, 8, 128, KvDtype::kBF16, 132, 16}, {{300, 0}, {45, 77}, {1, 900}, {3, 61}}, 24);
  check_step({8, 2, 64, KvDtype::kBF16, 132, 32}, {{257, 0}, {33, 100}, {1, 513}}, 25);
  set_paged_attention_pv_wgmma(true);
}

// The warp-specialised kernel (attention_ws.h: sm_90a, BF16 pool, head_dim 128; the default
// there) with both tiles: a GQA step of every row kind, long prompts (many tiles: the ring wraps,
// the mbarriers' phases flip), a chunk after cached positions, a group of 32, MHA, and paged blocks
// of 16 / 32 / 64 rows (several TMA boxes per tile) and 256 (several tiles per block).
TEST(PagedAttentionWs, MatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  PagedAttentionParams probe{};
  probe.kv_dtype = KvDtype::kBF16;
  probe.head_dim = 128;
  probe.block_size = 16;
  probe.pool_rows = 16;
  {
    const ScopedWs ws_on(true);
    if (!paged_attention_ws_applies(probe)) {
      GTEST_SKIP()
          << "the warp-specialised kernel needs an sm_90a build on a compute capability 9.0 GPU";
    }
  }
  for (const int tile : {128, 64}) {
    SCOPED_TRACE(fmt::format("{}-key tiles", tile));
    const ScopedWs ws_on(true, tile);
    check_step({32, 8, 128, KvDtype::kBF16, 132, 16}, {{300, 0}, {45, 77}, {1, 900}, {3, 61}}, 30);
    check_step({4, 1, 128, KvDtype::kBF16, 1, 16}, {{2048, 0}}, 31);
    check_step({4, 1, 128, KvDtype::kBF16, 1, 32}, {{2047, 0}}, 32);
    check_step({4, 1, 128, KvDtype::kBF16, 1, 16}, {{511, 1537}}, 33);
    check_step({32, 1, 128, KvDtype::kBF16, 1, 16}, {{70, 10}, {1, 129}}, 34);
    check_step({2, 2, 128, KvDtype::kBF16, 132, 16}, {{200, 0}, {1, 300}}, 35);
    check_step({8, 2, 128, KvDtype::kBF16, 1, 64}, {{129, 0}, {1, 5}}, 36);
    check_step({8, 1, 128, KvDtype::kBF16, 1, 256}, {{700, 0}, {64, 300}}, 37);
  }
}

// Long and odd-length steps aimed at the tensor-core kernel: partial key tiles and query
// blocks, chunked prefill (start_pos > 0), several sequences in one step, split decode rows.
struct StepCase {
  const char* name;
  Shape shape;
  SeqSpec seqs;
};

class PagedAttentionSteps : public ::testing::TestWithParam<StepCase> {};

TEST_P(PagedAttentionSteps, MatchesFloat64Reference) {
  QWEN3_SKIP_WITHOUT_GPU();
  check_step(GetParam().shape, GetParam().seqs, 7);
}

INSTANTIATE_TEST_SUITE_P(
    Mma, PagedAttentionSteps,
    ::testing::Values(
        StepCase{"prompt2048_bs16", {4, 1, 128, KvDtype::kBF16, 1, 16}, {{2048, 0}}},
        StepCase{"prompt2047_bs32", {4, 1, 128, KvDtype::kBF16, 1, 32}, {{2047, 0}}},
        StepCase{"mixed_bs32_split",
                 {4, 1, 128, KvDtype::kBF16, 132, 32},
                 {{1, 0}, {17, 0}, {1023, 0}, {129, 333}, {1, 2047}, {1, 64}, {2, 1}}},
        StepCase{"chunk511_at1537_bs16", {4, 1, 128, KvDtype::kBF16, 1, 16}, {{511, 1537}}},
        StepCase{"gqa32x8_bs16_split",
                 {32, 8, 128, KvDtype::kBF16, 132, 16},
                 {{300, 0}, {45, 77}, {1, 900}, {3, 61}}},
        StepCase{
            "d64_bs32_split", {8, 2, 64, KvDtype::kBF16, 132, 32}, {{257, 0}, {33, 100}, {1, 513}}},
        StepCase{"mha_bs16_split", {2, 2, 128, KvDtype::kBF16, 132, 16}, {{200, 0}, {1, 300}}},
        StepCase{"group32_bs16", {32, 1, 128, KvDtype::kBF16, 1, 16}, {{70, 10}, {1, 129}}},
        StepCase{
            "group32_bs16_split", {32, 1, 128, KvDtype::kBF16, 132, 16}, {{1, 1000}, {1, 129}}},
        StepCase{"decode_long_split", {4, 1, 128, KvDtype::kBF16, 132, 16}, {{1, 7999}, {1, 3000}}},
        StepCase{"decode_f32_d64_split", {8, 2, 64, KvDtype::kF32, 132, 32}, {{1, 4000}, {1, 31}}}),
    [](const ::testing::TestParamInfo<StepCase>& p) { return std::string(p.param.name); });

// Head layouts the kernels do not implement are refused before anything launches (no GPU
// needed): no KV heads, query heads not a multiple of them, a group over the 128 queries
// of a work item; kUnsupported, naming the kernel.
TEST(PagedAttentionShape, RefusesHeadLayoutsItDoesNotImplement) {
  struct Heads {
    int heads, kv_heads;
  };
  for (const Heads h : {Heads{8, 0}, Heads{12, 8}, Heads{129, 1}, Heads{258, 2}}) {
    PagedAttentionParams p{};
    p.heads = h.heads;
    p.kv_heads = h.kv_heads;
    p.head_dim = 128;
    try {
      launch_paged_attention(p, nullptr);
      ADD_FAILURE() << h.heads << " / " << h.kv_heads << " heads were accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kUnsupported) << e.what();
      EXPECT_NE(std::string(e.what()).find("paged_attention"), std::string::npos) << e.what();
    }
  }
}

// The planner (CPU only): every row is covered exactly once; prefill items respect the
// query budget and causality; a decode row's splits tile [0, pos + 1) in order, in
// kDecodeSplitTokens multiples, with partial slots and counters of their own.
TEST(AttentionPlan, CoversEveryRowOnce) {
  for (const int num_sms : {1, 132}) {
    for (const int group : {1, 4, 8}) {
      const std::vector<AttnSeq> seqs = {{0, 37, 0}, {37, 20, 50},    {57, 1, 700},
                                         {58, 1, 5}, {59, 300, 1000}, {359, 1, 0}};
      const int rows = 360;
      const AttentionPlan plan = plan_attention(seqs, group, 8, num_sms);
      std::vector<int> covered(rows, 0);
      for (const AttnWorkItem& it : plan.items) {
        const AttnSeq& s = seqs[it.seq];
        EXPECT_GT(s.num_rows, 1);
        EXPECT_GE(it.row_begin, s.row_begin);
        EXPECT_LE(it.row_begin + it.num_rows, s.row_begin + s.num_rows);
        EXPECT_LE(it.num_rows * group, kAttnMaxQueries);
        EXPECT_EQ(it.kv_end, s.start_pos + (it.row_begin - s.row_begin) + it.num_rows);
        for (int r = it.row_begin; r < it.row_begin + it.num_rows; ++r) ++covered[r];
      }
      std::vector<int> partial_used(plan.num_partials, 0), counter_used(plan.num_split_rows, 0);
      for (size_t i = 0; i < plan.decode.size();) {
        const AttnDecodeItem& first = plan.decode[i];
        const AttnSeq& s = seqs[first.seq];
        EXPECT_EQ(s.num_rows, 1);
        EXPECT_EQ(first.row, s.row_begin);
        const int32_t n = first.num_splits;
        int32_t next = 0;
        for (int32_t k = 0; k < n; ++k) {
          ASSERT_LT(i + k, plan.decode.size());
          const AttnDecodeItem& d = plan.decode[i + k];
          EXPECT_EQ(d.row, first.row);
          EXPECT_EQ(d.split, k);
          EXPECT_EQ(d.num_splits, n);
          EXPECT_EQ(d.kv_begin, next);
          EXPECT_EQ(d.kv_begin % kDecodeSplitTokens, 0);
          EXPECT_LT(d.kv_begin, d.kv_end);
          next = d.kv_end;
          if (n > 1) {
            EXPECT_EQ(d.first_partial, first.first_partial);
            EXPECT_EQ(d.counter, first.counter);
            ASSERT_LT(d.first_partial + k, plan.num_partials);
            ++partial_used[d.first_partial + k];
          }
        }
        EXPECT_EQ(next, s.start_pos + 1);
        if (n > 1) {
          ASSERT_LT(first.counter, plan.num_split_rows);
          ++counter_used[first.counter];
        }
        ++covered[first.row];
        i += n;
      }
      for (int r = 0; r < rows; ++r) EXPECT_EQ(covered[r], 1) << r;
      for (const int u : partial_used) EXPECT_EQ(u, 1);
      for (const int u : counter_used) EXPECT_EQ(u, 1);
      // The 701-position row (a short one: plan_attention's short_context) splits where
      // about two waves of CTAs leave room for a second split: 3 rows x 8 KV heads x group
      // one-head CTAs per split.
      if (2 * num_sms / (3 * 8 * group) < 2) {
        EXPECT_EQ(plan.num_partials, 0);
        EXPECT_EQ(plan.num_split_rows, 0);
      } else {
        EXPECT_GT(plan.num_split_rows, 0);
      }
      EXPECT_EQ(plan.decode_heads_per_cta, 1);  // 708 decode positions in all
    }
  }
  // Many decode positions: four query heads per CTA (each K row read once per four heads).
  const std::vector<AttnSeq> long_rows = {{0, 1, 3000}, {1, 1, int32_t{kDecodeNarrowMaxTokens}}};
  EXPECT_EQ(plan_attention(long_rows, 4, 8, 132).decode_heads_per_cta, kDecodeHeadsPerCta);
  EXPECT_EQ(plan_attention(long_rows, 4, 8, 132, kDecodeSplitTokens, 1).decode_heads_per_cta, 1);
  // One row: up to kDecodeShortContext positions its splits fill about two waves (8 four-head
  // CTAs per split on 132 SMs: 33 splits, rounded to 32 of 256 positions), longer rows or
  // short_context 0 about four (66, rounded to 64).
  auto splits = [](const AttentionPlan& p) { return p.decode.front().num_splits; };
  const std::vector<AttnSeq> row_8k = {{0, 1, 8191}}, row_32k = {{0, 1, 32767}};
  EXPECT_EQ(splits(plan_attention(row_8k, 4, 8, 132)), 32);
  EXPECT_EQ(splits(plan_attention(row_8k, 4, 8, 132, kDecodeSplitTokens, 0, {}, 0)), 64);
  EXPECT_EQ(splits(plan_attention(row_32k, 4, 8, 132)), 64);
}

}  // namespace
}  // namespace qwen3::cuda::test
