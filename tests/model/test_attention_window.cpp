// Sliding-window attention with sinks on the CPU backend: paged_attention against a
// float64 softmax over exactly the positions AttentionWindow::sees, with the blocks no
// query of the step sees swapped for the null block 0 and that block filled with NaN
// (one read of it would poison the output); and a window wider than the context gives
// the full attention's bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/cpu_attention.h"
#include "backends/cpu/cpu_batch.h"
#include "model/config.h"

namespace qwen3::test {
namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 16;

ModelConfig attention_config() {
  ModelConfig c;
  c.num_hidden_layers = 1;
  c.num_attention_heads = kHeads;
  c.num_key_value_heads = kKvHeads;
  c.head_dim = kHeadDim;
  return c;
}

struct Case {
  AttentionWindow window;
  int64_t block_size;
};

// One sequence of `len` positions in shuffled blocks 1.., queries at [first, len).
class WindowedAttention {
 public:
  WindowedAttention(const Case& c, int64_t len, int64_t first)
      : c_(c),
        len_(len),
        first_(first),
        pool_(attention_config(), 1 + (len + c.block_size - 1) / c.block_size, c.block_size) {
    const int64_t blocks = pool_.num_blocks() - 1, kv_dim = pool_.kv_dim();
    table_.resize(static_cast<size_t>(blocks));
    std::iota(table_.begin(), table_.end(), 1);
    std::mt19937 rng(static_cast<uint32_t>(len * 131 + c.block_size));
    std::shuffle(table_.begin(), table_.end(), rng);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int64_t b = 0; b < pool_.num_blocks(); ++b)
      for (int64_t s = 0; s < c.block_size; ++s)
        for (int64_t i = 0; i < kv_dim; ++i) {
          pool_.k(0, b, s)[i] = b == 0 ? nan : 2.0f * u(rng);
          pool_.v(0, b, s)[i] = b == 0 ? nan : u(rng);
        }
    // What the scheduler releases before this step: blocks outside the sinks that no
    // query at >= first sees.
    for (int64_t b = 0; b < blocks; ++b) {
      bool seen = false;
      for (int64_t j = b * c.block_size; j < (b + 1) * c.block_size; ++j)
        seen = seen || c.window.sees(first, j);
      if (!seen) table_[static_cast<size_t>(b)] = 0;
    }
    q_.resize(static_cast<size_t>((len - first) * kHeads * kHeadDim));
    for (float& v : q_) v = u(rng);
  }

  std::vector<float> run(const AttentionWindow& w) const {
    cpu::BatchPlan plan;
    for (int64_t p = first_; p < len_; ++p) {
      plan.row_pos.push_back(p);
      plan.row_table.push_back(table_);
    }
    plan.max_context = len_;
    plan.window = w;
    std::vector<float> out(q_.size());
    cpu::paged_attention(q_.data(), pool_, 0, plan, {kHeads, kKvHeads, kHeadDim}, out.data());
    return out;
  }

  // float64 softmax(q . k / sqrt(d)) . v over the positions the window sees.
  std::vector<double> reference() const {
    std::vector<double> out(q_.size());
    const int64_t bs = c_.block_size;
    for (int64_t p = first_; p < len_; ++p)
      for (int64_t h = 0; h < kHeads; ++h) {
        const float* q = q_.data() + ((p - first_) * kHeads + h) * kHeadDim;
        const int64_t off = (h / (kHeads / kKvHeads)) * kHeadDim;
        std::vector<double> score;
        std::vector<int64_t> pos;
        for (int64_t j = 0; j <= p; ++j) {
          if (!c_.window.sees(p, j)) continue;
          const float* k = pool_.k(0, table_[static_cast<size_t>(j / bs)], j % bs) + off;
          double s = 0;
          for (int64_t i = 0; i < kHeadDim; ++i) s += static_cast<double>(q[i]) * k[i];
          score.push_back(s / std::sqrt(static_cast<double>(kHeadDim)));
          pos.push_back(j);
        }
        const double mx = *std::max_element(score.begin(), score.end());
        double sum = 0;
        for (double& s : score) sum += s = std::exp(s - mx);
        double* o = out.data() + ((p - first_) * kHeads + h) * kHeadDim;
        for (size_t n = 0; n < pos.size(); ++n) {
          const float* v = pool_.v(0, table_[static_cast<size_t>(pos[n] / bs)], pos[n] % bs) + off;
          for (int64_t i = 0; i < kHeadDim; ++i) o[i] += score[n] / sum * v[i];
        }
      }
    return out;
  }

 private:
  Case c_;
  int64_t len_, first_;
  cpu::PagedKvPool pool_;
  std::vector<int32_t> table_;
  std::vector<float> q_;
};

TEST(AttentionWindow, PagedAttentionReadsOnlyWhatTheWindowSees) {
  const std::vector<Case> cases = {{{1, 0}, 4},   {{5, 0}, 4},  {{8, 4}, 4}, {{7, 6}, 4},
                                   {{13, 1}, 5},  {{4, 9}, 5},  {{1, 3}, 3}, {{16, 16}, 4},
                                   {{30, 2}, 16}, {{200, 4}, 4}};
  for (const Case& c : cases) {
    for (const int64_t first : {0, 1, 17, 40}) {
      const WindowedAttention a(c, 45, first);
      const auto got = a.run(c.window);
      const auto ref = a.reference();
      double worst = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        ASSERT_TRUE(std::isfinite(got[i])) << "read a released block: window " << c.window.window;
        worst = std::max(worst, std::abs(got[i] - ref[i]));
      }
      EXPECT_LT(worst, 1e-5) << "window " << c.window.window << " sinks " << c.window.sinks
                             << " block " << c.block_size << " first query " << first;
    }
  }
}

// A window wider than every query's context (sinks or not) is the full attention, bit
// for bit: the same positions in the same order.
TEST(AttentionWindow, WiderThanTheContextIsTheFullAttention) {
  for (const int64_t sinks : {0, 4}) {
    const Case c{{45, sinks}, 4};
    const WindowedAttention a(c, 45, 3);
    const auto windowed = a.run(c.window);
    const auto full = a.run(AttentionWindow{});
    ASSERT_EQ(windowed.size(), full.size());
    EXPECT_EQ(0, std::memcmp(windowed.data(), full.data(), full.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace qwen3::test
