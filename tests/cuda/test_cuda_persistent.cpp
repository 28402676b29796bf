// The persistent batch-1 decoder (kernels/decode_persistent.h) through the CudaRunner:
// one sequence decoded token by token from a 5-token prompt to 96 positions, so the
// split-KV attention goes from one split to six, with every weight format and KV dtype
// (head_dim 64 and 128; yarn_untied's 32 is not a Qwen3 size and takes the kernel path,
// which a test of its own checks).
// Against the CPU backend with a float32 KV cache (little more than summation order
// differs), and against the runner's kernel-per-operation path with BF16 / FP8 KV (the
// pools then hold the same bytes: the new key goes through the same norm + RoPE code).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "backends/cpu/cpu_runner.h"
#include "backends/cuda/cuda_runner.h"
#include "backends/cuda/kernels/launch.h"
#include "cuda/cuda_test_util.h"
#include "cuda/runner_script.h"
#include "model/fixture.h"

namespace qwen3::cuda::test {
namespace {

using qwen3::test::Diff;

constexpr int kPrompt = 5;
constexpr int kLength = 96;
constexpr int64_t kPoolBlocks = 16;

ScriptSeq one_sequence(int64_t vocab) {
  std::mt19937 rng(321);
  ScriptSeq s;
  for (int t = 0; t < kLength; ++t) s.tokens.push_back(static_cast<int32_t>(rng() % vocab));
  for (int32_t b : {9, 3, 14, 1, 7, 12}) s.table.push_back(b);  // 6 blocks of 16, shuffled
  return s;
}

std::vector<std::vector<Part>> decode_steps() {
  std::vector<std::vector<Part>> steps = {{{0, 0, kPrompt, true}}};
  for (int t = kPrompt; t < kLength; ++t) steps.push_back({{0, t, 1, true}});
  return steps;
}

Diff run_both(ModelRunner& a, ModelRunner& b, const std::vector<ScriptSeq>& seqs) {
  return worst_logits_diff(a, b, seqs, decode_steps());
}

class CudaPersistent : public ::testing::TestWithParam<std::string> {};

// The CPU's difference is printed for the kernel path too: over this many positions both
// GPU paths drift from the CPU alike (summation orders), which the bound allows for.
TEST_P(CudaPersistent, Float32KvMatchesCpu) {
  QWEN3_SKIP_WITHOUT_GPU();
  if (compute_capability() < 90) GTEST_SKIP() << "the persistent decoder needs sm_90";
  qwen3::test::TempDir tmp;
  const auto w = load_test_model(GetParam(), tmp);
  const std::vector<ScriptSeq> seqs = {one_sequence(w->config().vocab_size)};
  CudaRunner gpu(*w, kPoolBlocks, 16, {.kv_dtype = KvDtype::kF32, .persistent_decode = 1});
  CudaRunner kernels(*w, kPoolBlocks, 16, {.kv_dtype = KvDtype::kF32, .persistent_decode = 0});
  cpu::CpuRunner cpu(*w, kPoolBlocks, 16);
  const Diff d = run_both(gpu, cpu, seqs);
  cpu::CpuRunner cpu2(*w, kPoolBlocks, 16);
  const Diff k = run_both(kernels, cpu2, seqs);
  std::printf("[%s f32 KV vs CPU] persistent max|d| %.3g rel %.3g; kernels max|d| %.3g rel %.3g\n",
              GetParam().c_str(), d.max_abs, d.rel(), k.max_abs, k.rel());
  EXPECT_EQ(gpu.persistent_steps(), kLength - kPrompt);  // every decode step ran it
  EXPECT_LT(d.rel(), 2 * k.rel() + (GetParam().find("fp8") != std::string::npos ? 2e-3 : 1e-4));
}

TEST_P(CudaPersistent, Bf16AndFp8KvMatchTheKernelPath) {
  QWEN3_SKIP_WITHOUT_GPU();
  if (compute_capability() < 90) GTEST_SKIP() << "the persistent decoder needs sm_90";
  qwen3::test::TempDir tmp;
  const auto w = load_test_model(GetParam(), tmp);
  const std::vector<ScriptSeq> seqs = {one_sequence(w->config().vocab_size)};
  for (KvDtype kv : {KvDtype::kBF16, KvDtype::kFp8E4M3}) {
    CudaRunner persistent(*w, kPoolBlocks, 16, {.kv_dtype = kv, .persistent_decode = 1});
    CudaRunner kernels(*w, kPoolBlocks, 16, {.kv_dtype = kv, .persistent_decode = 0});
    const Diff d = run_both(persistent, kernels, seqs);
    std::printf("[%s persistent vs kernels, %s KV] max|d| %.3g rel %.3g\n", GetParam().c_str(),
                kv_dtype_name(kv), d.max_abs, d.rel());
    EXPECT_EQ(persistent.persistent_steps(), kLength - kPrompt);
    EXPECT_EQ(kernels.persistent_steps(), 0);
    EXPECT_LT(d.rel(), 2e-3) << kv_dtype_name(kv);
  }
}

// Slots of one row or gate/up pair (the 4B geometry's BF16 down_proj has one row per
// 24 KiB slot): the 15 consumer warps then work on more slots than the ring holds and must
// wait for the producer to arm each one (a slot's barrier phases repeat every two fills).
TEST_P(CudaPersistent, SlotsOfOneRowMatchTheKernelPath) {
  QWEN3_SKIP_WITHOUT_GPU();
  if (compute_capability() < 90) GTEST_SKIP() << "the persistent decoder needs sm_90";
  qwen3::test::TempDir tmp;
  const auto w = load_test_model(GetParam(), tmp);
  const ModelConfig& c = w->config();
  const bool fp8 = GetParam().find("fp8") != std::string::npos;
  // Room for the widest row (down_proj or o_proj) or one gate/up pair, with their scales
  // and the copy's slack: one row of the widest matrix per slot.
  const auto row_bytes = [&](int64_t cols) {
    return cols * (fp8 ? 1 : 2) + (fp8 ? 4 * ((cols + 127) / 128) : 0);
  };
  const int64_t need = std::max(
      {row_bytes(c.intermediate_size), row_bytes(c.q_dim()), 2 * row_bytes(c.hidden_size)});
  const int slot = static_cast<int>((need + 32 + 15) / 16 * 16);
  const std::vector<ScriptSeq> seqs = {one_sequence(c.vocab_size)};
  CudaRunner persistent(*w, kPoolBlocks, 16,
                        {.persistent_decode = 1, .persistent_slot_bytes = slot});
  CudaRunner kernels(*w, kPoolBlocks, 16, {.persistent_decode = 0});
  const Diff d = run_both(persistent, kernels, seqs);
  std::printf("[%s persistent (%d-byte slots) vs kernels, bf16 KV] max|d| %.3g rel %.3g\n",
              GetParam().c_str(), slot, d.max_abs, d.rel());
  EXPECT_EQ(persistent.persistent_steps(), kLength - kPrompt);
  EXPECT_LT(d.rel(), 2e-3);
}

// A geometry the kernel does not take (yarn_untied's head_dim 32): asking for the
// persistent decoder falls back to the kernel path, silently and with the same logits.
TEST(CudaPersistentFallback, UnsupportedGeometryRunsTheKernelPath) {
  QWEN3_SKIP_WITHOUT_GPU();
  qwen3::test::TempDir tmp;
  const auto w = load_test_model("yarn_untied", tmp);
  ASSERT_EQ(w->config().head_dim, 32);
  const std::vector<ScriptSeq> seqs = {one_sequence(w->config().vocab_size)};
  CudaRunner asked(*w, kPoolBlocks, 16, {.persistent_decode = 1});
  CudaRunner kernels(*w, kPoolBlocks, 16, {.persistent_decode = 0});
  const Diff d = run_both(asked, kernels, seqs);
  EXPECT_EQ(asked.persistent_steps(), 0);
  EXPECT_LT(d.rel(), 1e-6);  // the same kernels
}

INSTANTIATE_TEST_SUITE_P(Models, CudaPersistent,
                         ::testing::Values("initrandom_small", "gqa4_hd128",
                                           "initrandom_small_fp8_e4m3", "initrandom_small_fp8_e5m2",
                                           "fp8_e4m3"));

}  // namespace
}  // namespace qwen3::cuda::test
