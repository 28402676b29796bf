// Tensor parallelism on real GPUs (TpCudaRunner: NCCL all-reduce, one thread per rank):
// logits of TP = 2 against the one-GPU CudaRunner on the same scheduler steps (prefill on
// cuBLAS, decode on the GEMV path replayed from CUDA graphs), and greedy tokens through
// the engine (GPU sampling on rank 0) against the HF transformers fixtures. Needs 2 GPUs
// and an NCCL build; skips otherwise. The refusals of --tensor-parallel-size are CPU
// tests (tests/model/test_tensor_parallel.cpp).
#include <fmt/core.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "backends/cuda/cuda_runner.h"
#include "cuda/cuda_test_util.h"
#include "cuda/engine_test_util.h"
#include "cuda/runner_script.h"
#include "engine/engine.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"
#ifdef QWEN3_HAVE_NCCL
#include "backends/cuda/tp_runner.h"
#endif

namespace qwen3::cuda::test {
namespace {

using qwen3::test::compare;
using qwen3::test::Diff;
using qwen3::test::fixture_model;
using qwen3::test::fixtures_dir;

#ifdef QWEN3_HAVE_NCCL
#define QWEN3_SKIP_WITHOUT_TWO_GPUS()                                                              \
  do {                                                                                             \
    if (cuda_device_count() < 2) GTEST_SKIP() << cuda_device_count() << " GPU(s); TP = 2 needs 2"; \
  } while (0)

// Fixtures by name, or "fp8_hd128": a block-128 FP8 random model whose q / KV rows and
// o / down columns split into whole scale blocks at TP = 2.
std::unique_ptr<Qwen3Weights> load_model(const std::string& name, qwen3::test::TempDir& tmp) {
  if (name != "fp8_hd128") return Qwen3Weights::load(fixture_model(name));
  InitRandomOptions o = qwen3::test::small_init_random(tmp.str() + "/m", 11);
  o.fp8 = true;
  o.config.head_dim = 128;
  o.config.hidden_size = 256;
  o.config.intermediate_size = 512;
  init_random_checkpoint(o);
  return Qwen3Weights::load(o.out_dir);
}

struct TpCase {
  std::string model;
  KvDtype kv;
};

class CudaTp : public ::testing::TestWithParam<TpCase> {};

// Three sequences: a mixed prefill step (cuBLAS), chunks, then 24 decode steps of one
// shape (the GEMV path; the graph is captured at the second and replayed after).
TEST_P(CudaTp, LogitsEqualOneGpu) {
  QWEN3_SKIP_WITHOUT_TWO_GPUS();
  const TpCase tc = GetParam();
  qwen3::test::TempDir tmp;
  const auto w = load_model(tc.model, tmp);
  constexpr int64_t kPool = 64;
  std::vector<ScriptSeq> seqs(3);
  for (int i = 0; i < 3; ++i) {
    for (int t = 0; t < 300; ++t)
      seqs[i].tokens.push_back(
          static_cast<int32_t>((t * 37 + i * 101 + 5) % w->config().vocab_size));
    for (int b = 0; b < 20; ++b) seqs[i].table.push_back(1 + i * 20 + b);
  }
  std::vector<std::vector<Part>> steps = {
      {{0, 0, 7, true}, {1, 0, 200, true}, {2, 0, 3, false}},
      {{0, 7, 1, true}, {1, 200, 1, true}, {2, 3, 90, true}},
  };
  for (int64_t t = 0; t < 24; ++t)
    steps.push_back({{0, 8 + t, 1, true}, {1, 201 + t, 1, true}, {2, 93 + t, 1, true}});
  CudaRunner one(*w, kPool, 16, {.kv_dtype = tc.kv});
  TpCudaRunner two(*w, 2, kPool, 16, {.kv_dtype = tc.kv});
  Diff worst;
  size_t argmax_differs = 0;
  const int64_t V = w->config().vocab_size;
  for (const auto& parts : steps) {
    const SchedulerOutput step = make_step(seqs, parts);
    const RunnerOutput a = two.execute(step);
    const RunnerOutput b = one.execute(step);
    ASSERT_EQ(a.rows, b.rows);
    ASSERT_EQ(a.logits.size(), b.logits.size());
    const Diff d = compare(a.logits.data(), b.logits.data(), a.logits.size());
    if (!(d.rel() <= worst.rel())) worst = d;
    for (int64_t r = 0; r < a.rows; ++r) {
      const float* ra = a.logits.data() + r * V;
      const float* rb = b.logits.data() + r * V;
      argmax_differs += std::max_element(ra, ra + V) - ra != std::max_element(rb, rb + V) - rb;
    }
  }
  EXPECT_GE(two.rank(0).graphs_captured(), 1);
  EXPECT_GE(two.rank(1).graphs_captured(), 1);
  std::printf("[%s kv %s] TP=2 vs 1 GPU: max|d| %.3g rel %.3g, argmax differs in %zu rows\n",
              tc.model.c_str(), kv_dtype_name(tc.kv), worst.max_abs, worst.rel(), argmax_differs);
  // The ranks' partial sums change the summation order only, but the cuBLAS prefill
  // rounds activations to BF16 (and a BF16 / FP8 KV cache its K and V), where an order
  // change can flip a rounding; a wrong or missing all-reduce is off by ~1.
  EXPECT_LT(worst.rel(), tc.kv == KvDtype::kF32 ? 5e-3 : 2e-2);
}

INSTANTIATE_TEST_SUITE_P(Models, CudaTp,
                         ::testing::Values(TpCase{"yarn_untied", KvDtype::kF32},
                                           TpCase{"yarn_untied", KvDtype::kBF16},
                                           TpCase{"gqa4_hd128", KvDtype::kF32},
                                           TpCase{"fp8_hd128", KvDtype::kF32},
                                           TpCase{"fp8_hd128", KvDtype::kFp8E4M3}),
                         [](const ::testing::TestParamInfo<TpCase>& p) {
                           return fmt::format("{}_kv_{}", p.param.model, kv_dtype_name(p.param.kv));
                         });

// The engine over TP = 2 (chunked prefill of 3 tokens a step, GPU sampling on rank 0)
// gives HF transformers' greedy tokens, for 2 requests side by side.
TEST(CudaTpEngine, GreedyTokensMatchTransformers) {
  QWEN3_SKIP_WITHOUT_TWO_GPUS();
  for (const char* model : {"yarn_untied", "gqa4_hd128"}) {
    const auto ref =
        qwen3::test::read_reference(fixtures_dir() + "/" + model + ".expected.safetensors");
    const auto w = Qwen3Weights::load(fixture_model(model));
    const auto& prompt = ref.at("prompt_ids").i64;
    const auto& greedy = ref.at("greedy_ids").i64;
    TpCudaRunner runner(*w, 2, 64, 16, {.kv_dtype = KvDtype::kF32});
    EngineConfig ec;
    ec.max_num_batched_tokens = 3;
    ec.max_num_seqs = 3;
    Engine engine(ec, w->config(), runner, nullptr);
    for (uint64_t id : {1u, 2u})
      engine.add(id, greedy_request(prompt, static_cast<int64_t>(greedy.size())));
    std::map<uint64_t, std::vector<int64_t>> tokens = run_to_completion(engine);
    for (uint64_t id : {1u, 2u}) {
      EXPECT_EQ(tokens[id], std::vector<int64_t>(greedy.begin(), greedy.end()))
          << model << " request " << id;
    }
  }
}
#else
TEST(CudaTp, NeedsNccl) { GTEST_SKIP() << "built without NCCL: tensor parallelism is off"; }
#endif  // QWEN3_HAVE_NCCL

}  // namespace
}  // namespace qwen3::cuda::test
