// Sliding-window attention with sinks on the CUDA backend: every row runs on the decode
// attention kernel over the positions it sees. The plan is checked on the host (no GPU
// needed): each row's splits tile exactly the positions AttentionWindow::sees, in order,
// the last one holding the row's own position. On a GPU: the engine's greedy tokens with
// a window, over a pool smaller than the requests (blocks released as they go), equal the
// CPU backend's.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "backends/cpu/cpu_runner.h"
#include "backends/cuda/attention_plan.h"
#include "backends/cuda/cuda_runner.h"
#include "cuda/cuda_test_util.h"
#include "cuda/engine_test_util.h"
#include "engine/engine.h"
#include "model/fixture.h"
#include "model/weights.h"

namespace qwen3::cuda::test {
namespace {

TEST(AttentionPlanWindow, SplitsTileExactlyWhatEachRowSees) {
  const std::vector<AttentionWindow> windows = {{1, 0},   {7, 0},     {64, 4},  {200, 3},
                                                {128, 0}, {1000, 16}, {5, 300}, {0, 0}};
  // A prefill chunk mid-sequence, a first chunk, decode rows at short and long contexts.
  const std::vector<AttnSeq> seqs = {{0, 37, 290}, {37, 20, 0},   {57, 1, 5},
                                     {58, 1, 700}, {59, 1, 4000}, {60, 3, 130}};
  for (const AttentionWindow& w : windows) {
    for (const int sms : {1, 132}) {
      const AttentionPlan plan = plan_attention(seqs, 4, 8, sms, kDecodeSplitTokens, 0, w);
      EXPECT_FALSE(plan.decode_only);
      EXPECT_EQ(plan.items.empty(), w.on()) << "window " << w.window;
      // Decode items by batch row.
      std::map<int32_t, std::vector<AttnDecodeItem>> by_row;
      for (const AttnDecodeItem& d : plan.decode) by_row[d.row].push_back(d);
      std::set<int32_t> partials, counters;
      for (int32_t si = 0; si < static_cast<int32_t>(seqs.size()); ++si) {
        const AttnSeq& s = seqs[si];
        for (int32_t r = 0; r < s.num_rows; ++r) {
          const int32_t row = s.row_begin + r, pos = s.start_pos + r;
          if (!w.on() && s.num_rows != 1) {
            EXPECT_FALSE(by_row.contains(row));  // a prefill item's row
            continue;
          }
          const auto& items = by_row[row];
          ASSERT_FALSE(items.empty()) << "row " << row;
          std::vector<int32_t> covered;
          for (size_t k = 0; k < items.size(); ++k) {
            const AttnDecodeItem& d = items[k];
            EXPECT_EQ(d.seq, si);
            EXPECT_EQ(d.split, static_cast<int32_t>(k));
            EXPECT_EQ(d.num_splits, static_cast<int32_t>(items.size()));
            EXPECT_LT(d.kv_begin, d.kv_end);
            if (items.size() > 1) {
              EXPECT_EQ(d.first_partial, items[0].first_partial);
              EXPECT_EQ(d.counter, items[0].counter);
              EXPECT_TRUE(partials.insert(d.first_partial + d.split).second);
            }
            for (int32_t j = d.kv_begin; j < d.kv_end; ++j) covered.push_back(j);
          }
          if (items.size() > 1) {
            EXPECT_TRUE(counters.insert(items[0].counter).second);
          }
          EXPECT_EQ(items.back().kv_end, pos + 1) << "the last split holds the row itself";
          std::vector<int32_t> seen;
          for (int32_t j = 0; j <= pos; ++j)
            if (w.sees(pos, j)) seen.push_back(j);
          EXPECT_EQ(covered, seen) << "window " << w.window << "+" << w.sinks << " row " << row;
        }
      }
      EXPECT_EQ(static_cast<int32_t>(partials.size()), plan.num_partials);
      EXPECT_EQ(static_cast<int32_t>(counters.size()), plan.num_split_rows);
    }
  }
  // Decode rows only: the decode kernel may apply RoPE and write the new K/V.
  const std::vector<AttnSeq> decodes = {{0, 1, 10}, {1, 1, 900}};
  EXPECT_TRUE(plan_attention(decodes, 4, 8, 132, kDecodeSplitTokens, 0, {16, 4}).decode_only);
}

std::map<uint64_t, std::vector<int64_t>> run_windowed(const Qwen3Weights& w, ModelRunner& runner,
                                                      const AttentionWindow& window) {
  EngineConfig ec;
  ec.max_num_batched_tokens = 24;  // prefill chunks of up to 24 rows, decode-shaped steps
  ec.max_num_seqs = 3;
  ec.attention_window = window;
  Engine engine(ec, w.config(), runner, nullptr);
  std::mt19937_64 rng(29);
  for (uint64_t i = 0; i < 3; ++i) {
    std::vector<int64_t> prompt(90 + 40 * i);
    for (auto& t : prompt) t = static_cast<int64_t>(rng() % w.config().vocab_size);
    engine.add(i, greedy_request(prompt, 60));
  }
  return run_to_completion(engine);
}

// Requests of 150-230 tokens in a pool of 20 blocks of 16 tokens (fewer than one request
// needs without the window), float32 KV: the CUDA backend's greedy tokens equal the CPU's.
TEST(CudaWindow, EngineGreedyEqualsTheCpuBackend) {
  QWEN3_SKIP_WITHOUT_GPU();
  const auto w = Qwen3Weights::load(qwen3::test::fixture_model("gqa4_hd128"));
  for (const AttentionWindow window : {AttentionWindow{48, 4}, AttentionWindow{100, 0}}) {
    cpu::CpuRunner cpu_runner(*w, 21, 16);
    CudaRunner gpu_runner(*w, 21, 16, {.kv_dtype = KvDtype::kF32});
    EXPECT_EQ(run_windowed(*w, gpu_runner, window), run_windowed(*w, cpu_runner, window))
        << "window " << window.window << " + " << window.sinks;
  }
}

}  // namespace
}  // namespace qwen3::cuda::test
