// The CPU backend's batched forward over the paged KV pool is batch-invariant: a
// sequence's logits are bit-identical alone (forward() with a contiguous KvCache) or in
// a batch of mixed prefill chunks and decodes with shuffled, non-contiguous blocks, and
// whatever the chunking of its prompt. Plus CpuRunner::execute end to end and its
// rejection of bad steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <random>

#include "backends/cpu/cpu_batch.h"
#include "backends/cpu/cpu_model.h"
#include "backends/cpu/cpu_runner.h"
#include "core/error.h"
#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"

namespace qwen3::test {
namespace {

// A fixture model by name, or "random_bf16" / "random_fp8": init-random with odd sizes
// (hidden 72, head_dim 24, intermediate 100, vocab 301) so every SIMD tail, tile edge
// and leftover micro-block row is exercised.
class TestModel {
 public:
  explicit TestModel(const std::string& name) {
    std::string dir = fixture_model(name);
    if (name.starts_with("random_")) {
      InitRandomOptions o;
      o.config = config_from_like(test_data("initrandom_small.json"));
      o.config.hidden_size = 72;
      o.config.num_attention_heads = 3;
      o.config.num_key_value_heads = 1;
      o.config.head_dim = 24;
      o.config.intermediate_size = 100;
      o.config.vocab_size = 301;
      o.fp8 = name == "random_fp8";
      o.seed = 5;
      o.out_dir = tmp_.str() + "/m";
      init_random_checkpoint(o);
      dir = o.out_dir;
    }
    weights_ = Qwen3Weights::load(dir);
    model_ = std::make_unique<cpu::CpuModel>(*weights_);
  }
  const Qwen3Weights& weights() const { return *weights_; }
  const cpu::CpuModel& model() const { return *model_; }
  const ModelConfig& config() const { return weights_->config(); }

 private:
  TempDir tmp_;
  std::unique_ptr<Qwen3Weights> weights_;
  std::unique_ptr<cpu::CpuModel> model_;
};

std::vector<int32_t> random_tokens(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, static_cast<int32_t>(vocab - 1));
  std::vector<int32_t> out(static_cast<size_t>(n));
  for (auto& t : out) t = dist(rng);
  return out;
}

// Logits of token end - 1 of `tokens`, one sequence alone: [0, start) prefilled in one
// piece, then [start, end).
std::vector<float> alone(const cpu::CpuModel& m, const std::vector<int32_t>& tokens, int64_t start,
                         int64_t end) {
  cpu::KvCache cache(m.config(), end);
  const std::span<const int32_t> all(tokens);
  if (start > 0) m.forward(all.first(static_cast<size_t>(start)), cache, cpu::LogitsMode::kLast);
  return m.forward(all.subspan(static_cast<size_t>(start), static_cast<size_t>(end - start)), cache,
                   cpu::LogitsMode::kLast);
}

// Bitwise equality, naming the first differing element.
void expect_same_bits(const float* got, const float* want, size_t n, const std::string& what) {
  if (std::memcmp(got, want, n * sizeof(float)) == 0) return;
  size_t i = 0;
  while (std::memcmp(got + i, want + i, sizeof(float)) == 0) ++i;
  ADD_FAILURE() << what << ": element " << i << " is " << got[i] << ", expected " << want[i];
}

// Shuffled, non-contiguous block ids: sequence i gets blocks[i] (enough for lens[i]).
std::vector<std::vector<int32_t>> random_block_tables(const std::vector<int64_t>& lens,
                                                      int64_t block_size, int64_t num_blocks,
                                                      uint32_t seed) {
  std::vector<int32_t> ids(static_cast<size_t>(num_blocks));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  std::vector<std::vector<int32_t>> tables;
  size_t next = 0;
  for (const int64_t len : lens) {
    const auto need = static_cast<size_t>((len + block_size - 1) / block_size);
    tables.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(next),
                        ids.begin() + static_cast<std::ptrdiff_t>(next + need));
    next += need;
  }
  return tables;
}

int64_t blocks_for(const std::vector<int64_t>& lens, int64_t block_size) {
  int64_t n = 0;
  for (const int64_t len : lens) n += (len + block_size - 1) / block_size;
  return n;
}

// One sequence's part of a step: tokens [start, end) of `tokens`.
struct Part {
  size_t seq;
  int64_t start;
  int64_t end;
  bool want_logits;
};

std::vector<float> run_step(const cpu::CpuModel& m, cpu::PagedKvPool& pool,
                            const std::vector<std::vector<int32_t>>& tokens,
                            const std::vector<std::vector<int32_t>>& tables,
                            const std::vector<Part>& parts) {
  std::vector<int32_t> flat;
  cpu::BatchMeta meta;
  for (const Part& p : parts) {
    meta.seqs.push_back({.token_offset = static_cast<int64_t>(flat.size()),
                         .num_tokens = p.end - p.start,
                         .start_pos = p.start,
                         .block_table = tables[p.seq],
                         .want_logits = p.want_logits});
    flat.insert(flat.end(), tokens[p.seq].begin() + p.start, tokens[p.seq].begin() + p.end);
  }
  meta.tokens = flat;
  return m.forward_batch(meta, pool);
}

// Checks a step's logits row by row against each sequence alone.
void expect_step_matches_alone(const cpu::CpuModel& m, const std::vector<float>& logits,
                               const std::vector<std::vector<int32_t>>& tokens,
                               const std::vector<Part>& parts, const std::string& what) {
  const int64_t V = m.config().vocab_size;
  size_t row = 0;
  for (const Part& p : parts) {
    if (!p.want_logits) continue;
    ASSERT_LE((row + 1) * static_cast<size_t>(V), logits.size()) << what;
    const auto ref = alone(m, tokens[p.seq], p.start, p.end);
    expect_same_bits(logits.data() + row * V, ref.data(), ref.size(),
                     what + " seq " + std::to_string(p.seq));
    ++row;
  }
  EXPECT_EQ(logits.size(), row * static_cast<size_t>(V)) << what;
}

class BatchInvariance
    : public ::testing::TestWithParam<std::tuple<std::string, int64_t /*block_size*/>> {};

// Step A mixes full prefills, a mid-prompt chunk without logits and decodes over
// prefixes written by an earlier batch; step B decodes every sequence one token.
TEST_P(BatchInvariance, BatchedLogitsEqualEachSequenceAlone) {
  const auto& [name, block_size] = GetParam();
  const TestModel tm(name);
  const cpu::CpuModel& m = tm.model();
  const std::vector<int64_t> prefix = {0, 30, 12, 5, 0};  // in the pool before step A
  const std::vector<int64_t> end_a = {23, 31, 21, 6, 40};
  std::vector<std::vector<int32_t>> tokens;
  std::vector<int64_t> lens;
  for (size_t i = 0; i < prefix.size(); ++i) {
    lens.push_back(end_a[i] + 1);
    tokens.push_back(random_tokens(lens.back(), tm.config().vocab_size, 100 + i));
  }
  const int64_t num_blocks = blocks_for(lens, block_size) + 3;
  cpu::PagedKvPool pool(tm.config(), num_blocks, block_size);
  const auto tables = random_block_tables(lens, block_size, num_blocks, 7);

  // The prefixes, as one batch that wants no logits.
  std::vector<Part> before;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] > 0) before.push_back({i, 0, prefix[i], false});
  }
  EXPECT_TRUE(run_step(m, pool, tokens, tables, before).empty());

  std::vector<Part> step_a, step_b;
  for (size_t i = 0; i < prefix.size(); ++i) {
    step_a.push_back({i, prefix[i], end_a[i], i != 2});
    step_b.push_back({i, end_a[i], end_a[i] + 1, true});
  }
  const std::string what = name + " block_size " + std::to_string(block_size);
  expect_step_matches_alone(m, run_step(m, pool, tokens, tables, step_a), tokens, step_a,
                            what + " step A");
  expect_step_matches_alone(m, run_step(m, pool, tokens, tables, step_b), tokens, step_b,
                            what + " step B");
}

INSTANTIATE_TEST_SUITE_P(Models, BatchInvariance,
                         ::testing::Combine(::testing::Values("gqa4_hd128", "fp8_e4m3",
                                                              "random_bf16", "random_fp8"),
                                            ::testing::Values(16, 1, 7)));

class ChunkInvariance : public ::testing::TestWithParam<std::string> {};

// Prefill in chunks of 1, 5 and 16 tokens gives the one-piece prefill's logits bit for
// bit, through forward() (every row) and through forward_batch on 7-token pages.
TEST_P(ChunkInvariance, ChunkedPrefillEqualsOnePiece) {
  const TestModel tm(GetParam());
  const cpu::CpuModel& m = tm.model();
  const int64_t V = tm.config().vocab_size;
  const int64_t n = 37;
  const auto seq = random_tokens(n, V, 3);
  cpu::KvCache full_cache(tm.config(), n);
  const auto full = m.forward(seq, full_cache, cpu::LogitsMode::kAll);
  cpu::KvCache last_cache(tm.config(), n);
  const auto last = m.forward(seq, last_cache, cpu::LogitsMode::kLast);
  expect_same_bits(last.data(), full.data() + (n - 1) * V, V, "kLast vs kAll");

  for (const int64_t chunk : {1, 5, 16}) {
    const std::string what = GetParam() + " chunk " + std::to_string(chunk);
    cpu::KvCache cache(tm.config(), n);
    std::vector<float> got;
    for (int64_t pos = 0; pos < n; pos += chunk) {
      const auto len = static_cast<size_t>(std::min(chunk, n - pos));
      const auto part = m.forward(std::span(seq).subspan(static_cast<size_t>(pos), len), cache,
                                  cpu::LogitsMode::kAll);
      got.insert(got.end(), part.begin(), part.end());
    }
    ASSERT_EQ(got.size(), full.size());
    expect_same_bits(got.data(), full.data(), full.size(), what + " forward()");

    cpu::PagedKvPool pool(tm.config(), (n + 6) / 7, 7);
    const auto tables = random_block_tables({n}, 7, (n + 6) / 7, 9);
    for (int64_t pos = 0; pos < n; pos += chunk) {
      const int64_t end = std::min(pos + chunk, n);
      const auto row = run_step(m, pool, {seq}, tables, {{0, pos, end, true}});
      expect_same_bits(row.data(), full.data() + (end - 1) * V, V,
                       what + " paged, row " + std::to_string(end - 1));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ChunkInvariance,
                         ::testing::Values("gqa4_hd128", "fp8_e4m3", "random_bf16", "random_fp8"));

ScheduledSeq scheduled(uint64_t id, const std::vector<int32_t>& tokens, int64_t start, int64_t end,
                       std::vector<int32_t> table, bool want_logits) {
  ScheduledSeq s;
  s.seq_id = id;
  s.tokens.assign(tokens.begin() + start, tokens.begin() + end);
  s.start_pos = start;
  s.block_table = std::move(table);
  s.want_logits = want_logits;
  return s;
}

SchedulerOutput make_step(std::vector<ScheduledSeq> seqs) {
  SchedulerOutput out;
  for (const auto& s : seqs) out.total_tokens += static_cast<int64_t>(s.tokens.size());
  out.seqs = std::move(seqs);
  return out;
}

// Two scheduler steps through CpuRunner: step 1 prefills A, the first chunk of B (no
// logits) and C; step 2 decodes A and C and finishes B's prompt.
TEST(CpuRunner, ExecuteMatchesEachSequenceAlone) {
  const TestModel tm("gqa4_hd128");
  const cpu::CpuModel& m = tm.model();
  const int64_t V = tm.config().vocab_size;
  cpu::CpuRunner runner(tm.weights(), 16, 4);
  EXPECT_EQ(runner.num_kv_blocks(), 16);
  EXPECT_EQ(runner.block_size(), 4);
  EXPECT_STREQ(runner.name(), "cpu");
  const auto a = random_tokens(11, V, 1), b = random_tokens(13, V, 2), c = random_tokens(4, V, 3);
  const std::vector<int32_t> ta = {9, 2, 14}, tb = {0, 15, 7, 3}, tc = {11, 5};

  const RunnerOutput r1 =
      runner.execute(make_step({scheduled(1, a, 0, 10, ta, true), scheduled(2, b, 0, 8, tb, false),
                                scheduled(3, c, 0, 3, tc, true)}));
  ASSERT_EQ(r1.rows, 2);
  ASSERT_EQ(r1.vocab, V);
  ASSERT_EQ(r1.logits.size(), static_cast<size_t>(2 * V));
  expect_same_bits(r1.logits.data(), alone(m, a, 0, 10).data(), V, "step 1 A");
  expect_same_bits(r1.logits.data() + V, alone(m, c, 0, 3).data(), V, "step 1 C");

  SchedulerOutput s2 =
      make_step({scheduled(1, a, 10, 11, ta, true), scheduled(2, b, 8, 13, tb, true),
                 scheduled(3, c, 3, 4, tc, true)});
  s2.finished_seq_ids = {42};  // nothing to free on the CPU runner: ignored
  const RunnerOutput r2 = runner.execute(s2);
  ASSERT_EQ(r2.rows, 3);
  expect_same_bits(r2.logits.data(), alone(m, a, 10, 11).data(), V, "step 2 A");
  expect_same_bits(r2.logits.data() + V, alone(m, b, 8, 13).data(), V, "step 2 B");
  expect_same_bits(r2.logits.data() + 2 * V, alone(m, c, 3, 4).data(), V, "step 2 C");

  const RunnerOutput empty = runner.execute(SchedulerOutput{});
  EXPECT_EQ(empty.rows, 0);
  EXPECT_TRUE(empty.logits.empty());
}

std::optional<ErrorCode> error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return std::nullopt;
}

// Bad steps are typed errors raised before anything runs: the runner still gives the
// right logits afterwards.
TEST(CpuRunner, RejectsBadSteps) {
  const TestModel tm("gqa4_hd128");
  const int64_t V = tm.config().vocab_size;
  cpu::CpuRunner runner(tm.weights(), 8, 4);
  const auto a = random_tokens(10, V, 4);
  auto run = [&](std::vector<int32_t> table, int64_t start, int64_t end) {
    return error_of([&] { runner.execute(make_step({scheduled(1, a, start, end, table, true)})); });
  };
  EXPECT_EQ(run({0, 1, 2}, 0, 10), std::nullopt);          // covered
  EXPECT_EQ(run({0, 1, 2}, 8, 10), std::nullopt);          // positions 8, 9 again
  EXPECT_EQ(run({0, 1}, 0, 10), ErrorCode::kInternal);     // 10 tokens need 3 blocks
  EXPECT_EQ(run({0, 1}, 8, 10), ErrorCode::kInternal);     // position 9 needs block 2
  EXPECT_EQ(run({0, 8, 2}, 0, 10), ErrorCode::kInternal);  // block id past the pool
  EXPECT_EQ(run({0, -1, 2}, 0, 10), ErrorCode::kInternal);

  ScheduledSeq negative = scheduled(1, a, 0, 9, {0, 1, 2}, true);
  negative.start_pos = -1;  // a negative start
  EXPECT_EQ(error_of([&] { runner.execute(make_step({negative})); }), ErrorCode::kInternal);

  auto bad_token = a;
  bad_token[3] = static_cast<int32_t>(V);
  EXPECT_EQ(error_of([&] {
              runner.execute(make_step({scheduled(1, bad_token, 0, 10, {0, 1, 2}, true)}));
            }),
            ErrorCode::kInvalidArgument);
  SchedulerOutput wrong_total = make_step({scheduled(1, a, 0, 10, {0, 1, 2}, true)});
  wrong_total.total_tokens = 9;
  EXPECT_EQ(error_of([&] { runner.execute(wrong_total); }), ErrorCode::kInternal);
  EXPECT_EQ(error_of([&] { runner.execute(make_step({scheduled(1, a, 0, 0, {0}, true)})); }),
            ErrorCode::kInternal);  // no tokens

  const RunnerOutput ok = runner.execute(make_step({scheduled(1, a, 0, 10, {5, 0, 3}, true)}));
  expect_same_bits(ok.logits.data(), alone(tm.model(), a, 0, 10).data(), V, "after errors");
}

TEST(PagedKvPool, SizesAndOutOfMemory) {
  const ModelConfig c = config_from_like(test_data("initrandom_small.json"));
  // K and V, 2 layers, 2 kv heads x 64, float32, 16 tokens.
  EXPECT_EQ(cpu::PagedKvPool::bytes_per_block(c, 16), 2 * 2 * 128 * 4 * 16);
  const cpu::PagedKvPool pool(c, 3, 16);
  EXPECT_EQ(pool.num_blocks(), 3);
  EXPECT_EQ(pool.block_size(), 16);
  EXPECT_EQ(pool.k(1, 2, 15) + c.kv_dim(), pool.k(0, 0, 0) + 2 * 3 * 16 * c.kv_dim());

  try {
    cpu::PagedKvPool huge(c, int64_t{1} << 50, 16);
    ADD_FAILURE() << "a 2^50-block pool was allocated";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("--kv-cache-memory"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--num-gpu-blocks-override"), std::string::npos);
  }
  EXPECT_EQ(error_of([&] { (void)cpu::PagedKvPool(c, 0, 16); }), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_of([&] { (void)cpu::PagedKvPool(c, 4, 0); }), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace qwen3::test
