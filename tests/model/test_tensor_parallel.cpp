// Tensor parallelism on the CPU (parallel/tensor_parallel.h): N simulated ranks, each a
// CpuModel over its own shard of the weights and its own KV cache in its own thread,
// joined by an all-reduce that sums the ranks' buffers in rank order, against the
// unsharded model on the same tokens (a 7-token prompt, then 3 decode steps): logits
// equal within float32 summation-order tolerance, and bit-identical across ranks.
#include <gtest/gtest.h>

#include <barrier>
#include <thread>
#include <vector>

#include "backends/cpu/cpu_model.h"
#include "backends/runner_factory.h"
#include "core/error.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "parallel/tensor_parallel.h"

namespace qwen3::test {
namespace {

// Sum over the ranks in rank order, written back to every rank's buffer.
class SimAllReduce {
 public:
  explicit SimAllReduce(int ranks) : barrier_(ranks), buffers_(static_cast<size_t>(ranks)) {}
  cpu::AllReduceFn for_rank(int rank) {
    return [this, rank](float* data, int64_t count) {
      buffers_[static_cast<size_t>(rank)] = data;
      barrier_.arrive_and_wait();  // every rank's partial is in place
      std::vector<float> sum(static_cast<size_t>(count), 0.0f);
      for (const float* b : buffers_)
        for (int64_t i = 0; i < count; ++i) sum[static_cast<size_t>(i)] += b[i];
      barrier_.arrive_and_wait();  // every rank has read them
      std::copy(sum.begin(), sum.end(), data);
    };
  }

 private:
  std::barrier<> barrier_;
  std::vector<float*> buffers_;
};

const std::vector<int32_t> kPrompt = {5, 17, 3, 99, 42, 7, 11};
const std::vector<int32_t> kDecode = {8, 120, 64};

// Logits of the prompt (every row), then of each decode token.
std::vector<std::vector<float>> run_steps(const cpu::CpuModel& model, const ModelConfig& c) {
  cpu::KvCache cache(c, 64);
  std::vector<std::vector<float>> out;
  out.push_back(model.forward(kPrompt, cache, cpu::LogitsMode::kAll));
  for (int32_t t : kDecode) out.push_back(model.forward({&t, 1}, cache, cpu::LogitsMode::kLast));
  return out;
}

void expect_tp_matches(const Qwen3Weights& full, int size, const std::string& what) {
  const std::vector<std::vector<float>> ref = run_steps(cpu::CpuModel(full), full.config());
  std::vector<std::unique_ptr<Qwen3Weights>> shards;
  for (int r = 0; r < size; ++r)
    shards.push_back(tp_shard_weights(full, tp_shard(full.config(), r, size)));
  SimAllReduce all_reduce(size);
  std::vector<std::vector<std::vector<float>>> got(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int r = 0; r < size; ++r) {
    threads.emplace_back([&, r] {
      const cpu::CpuModel model(*shards[static_cast<size_t>(r)], all_reduce.for_rank(r));
      got[static_cast<size_t>(r)] = run_steps(model, shards[static_cast<size_t>(r)]->config());
    });
  }
  for (auto& t : threads) t.join();
  for (size_t step = 0; step < ref.size(); ++step) {
    const Diff d = compare(got[0][step].data(), ref[step].data(), ref[step].size());
    EXPECT_LT(d.rel(), 1e-5) << what << " TP=" << size << " step " << step << " max|diff| "
                             << d.max_abs;
    for (int r = 1; r < size; ++r)
      EXPECT_EQ(got[static_cast<size_t>(r)][step], got[0][step]) << what << " rank " << r;
  }
}

TEST(TensorParallel, ShardPlanSplitsHeadsAndReplicatesKvHeadsWhenFewer) {
  ModelConfig c;
  c.num_attention_heads = 32;
  c.num_key_value_heads = 8;
  c.intermediate_size = 9728;
  const TpShard s = tp_shard(c, 1, 2);
  EXPECT_EQ(s.q_head_begin, 16);
  EXPECT_EQ(s.q_heads, 16);
  EXPECT_EQ(s.kv_head_begin, 4);
  EXPECT_EQ(s.kv_heads, 4);
  EXPECT_EQ(s.inter_begin, 4864);
  // 16 ranks over 8 KV heads: each KV head on two ranks, with its own query heads.
  for (int r = 0; r < 16; ++r) {
    const TpShard t = tp_shard(c, r, 16);
    EXPECT_EQ(t.kv_heads, 1);
    EXPECT_EQ(t.kv_head_begin, r / 2);
    EXPECT_EQ(t.q_head_begin / 4, t.kv_head_begin);  // group 4: heads 4k..4k+3 read KV head k
  }
  auto expect_refused = [&](int size, const char* field) {
    try {
      tp_shard(c, 0, size);
      ADD_FAILURE() << "TP=" << size << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("--tensor-parallel-size"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_refused(3, "num_attention_heads");
  c.num_key_value_heads = 6;
  c.num_attention_heads = 48;
  expect_refused(4, "num_key_value_heads");  // 4 neither divides 6 nor is a multiple of it
  c.num_key_value_heads = 8;
  c.intermediate_size = 100;
  expect_refused(8, "intermediate_size");
}

TEST(TensorParallel, SimulatedRanksEqualTheUnshardedForward) {
  const auto yarn = Qwen3Weights::load(fixture_model("yarn_untied"));  // 4 q / 2 KV heads
  for (int size : {1, 2, 4}) expect_tp_matches(*yarn, size, "yarn_untied");
  const auto gqa = Qwen3Weights::load(fixture_model("gqa4_hd128"));  // one KV head: replicated
  for (int size : {2, 4}) expect_tp_matches(*gqa, size, "gqa4_hd128");
}

TEST(TensorParallel, Fp8ShardsAtScaleBlocksAndRefusesCutsInsideThem) {
  TempDir dir;
  InitRandomOptions o = small_init_random(dir.str() + "/m", 5);
  o.fp8 = true;
  o.config.head_dim = 128;  // q / KV rows and o columns in whole 128-blocks per rank
  o.config.hidden_size = 256;
  o.config.intermediate_size = 512;
  init_random_checkpoint(o);
  const auto w = Qwen3Weights::load(o.out_dir);
  ASSERT_TRUE(w->layers()[0].q_proj.is_fp8());
  for (int size : {2, 4}) expect_tp_matches(*w, size, "fp8 head_dim 128");
  // The fixture's head_dim 64: one KV head per rank is half a scale block.
  const auto fx = Qwen3Weights::load(fixture_model("fp8_e4m3"));
  try {
    tp_shard_weights(*fx, tp_shard(fx->config(), 1, 2));
    ADD_FAILURE() << "an FP8 cut inside a scale block was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("k_proj"), std::string::npos) << e.what();
  }
}

// --tensor-parallel-size: sizes that cannot run are refused by name before anything is
// uploaded, and the KV / weight sizes the budget divides by are one GPU's share.
TEST(TensorParallel, FlagRefusesSizesThatCannotRunAndSizesAreOneGpusShare) {
  const auto w = Qwen3Weights::load(fixture_model("yarn_untied"));  // 4 heads, 2 KV heads
  auto refused = [&](Device device, int tp) -> ErrorCode {
    try {
      check_tensor_parallel(device, tp, &w->config());
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--tensor-parallel-size"), std::string::npos)
          << e.what();
      return e.code();
    }
    ADD_FAILURE() << "TP=" << tp << " accepted";
    return ErrorCode::kInternal;
  };
  EXPECT_NO_THROW(check_tensor_parallel(Device::kCpu, 1, &w->config()));
  EXPECT_EQ(refused(Device::kCpu, 2), ErrorCode::kUnsupported);  // a GPU feature
  EXPECT_EQ(refused(Device::kCuda, 0), ErrorCode::kInvalidArgument);
#ifdef QWEN3_HAVE_NCCL
  EXPECT_EQ(refused(Device::kCuda, 4096), ErrorCode::kUnavailable);  // more than the GPUs
#else
  EXPECT_EQ(refused(Device::kCuda, 2), ErrorCode::kUnsupported);  // no NCCL in this build
#endif
  // KV bytes per block: each GPU holds half the KV heads at TP = 2.
  const ModelConfig& c = w->config();
  EXPECT_EQ(kv_bytes_per_block(Device::kCpu, c, 16, KvCacheDtype::kAuto, 2) * 2,
            kv_bytes_per_block(Device::kCpu, c, 16));
  // Weights on one GPU: the layers' matrices halve, the embedding and lm_head do not.
  int64_t layers = 0;
  for (const LayerWeights& l : w->layers()) {
    for (const WeightMatrix* m :
         {&l.q_proj, &l.k_proj, &l.v_proj, &l.o_proj, &l.gate_proj, &l.up_proj, &l.down_proj})
      layers += m->rows * m->cols * 2;
  }
  EXPECT_EQ(device_weight_bytes(Device::kCuda, *w, 1) - device_weight_bytes(Device::kCuda, *w, 2),
            layers / 2);
}

}  // namespace
}  // namespace qwen3::test
