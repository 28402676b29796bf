// Shared by the paged-attention tests: a step's paged layout (shuffled blocks), the float64
// reference over it, and the step's attention plan on the device: the prefill and decode
// items, split-KV partials (poisoned, so a merge that reads an unwritten slot fails) and
// zeroed arrival counters, and the PagedAttentionParams fields that point at them.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "cuda/cuda_test_util.h"
#include "model/config.h"

namespace qwen3::cuda::test {

// Attention geometry for the q/k-norm + RoPE kernels: theta 1e6 over 4,096 positions,
// with YaRN (factor 4 over 1,024 positions) unless `yarn` is false.
inline ModelConfig attention_config(int64_t heads, int64_t kv_heads, int64_t head_dim,
                                    bool yarn = true) {
  ModelConfig c;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = head_dim;
  c.max_position_embeddings = 4096;
  c.rope.theta = 1000000.0;
  if (yarn) {
    c.rope.type = RopeType::kYarn;
    c.rope.factor = 4.0;
    c.rope.original_max_position_embeddings = 1024;
  }
  return c;
}

// (new tokens, tokens already cached) per sequence, rows laid out in order.
using SeqSpec = std::vector<std::pair<int32_t, int32_t>>;

// One step over a pool of shuffled blocks (block 0 stays unused: the null block; 5 spare).
struct PagedStep {
  std::vector<AttnSeq> seqs;
  std::vector<int32_t> tables;   // [seqs, max_blocks]
  std::vector<int32_t> row_pos;  // [rows]
  int32_t max_blocks = 1;
  int64_t rows = 0;
  int64_t num_blocks = 0;
  int64_t block_size = 0;
};

inline PagedStep make_paged_step(const SeqSpec& spec, int64_t block_size, uint64_t seed) {
  PagedStep p;
  p.block_size = block_size;
  const int64_t bs = block_size;
  int64_t blocks_needed = 0;
  for (const auto& [n, start] : spec) {
    p.seqs.push_back({static_cast<int32_t>(p.rows), n, start});
    p.rows += n;
    const int32_t need = static_cast<int32_t>((start + n + bs - 1) / bs);
    blocks_needed += need;
    p.max_blocks = std::max(p.max_blocks, need);
  }
  p.num_blocks = blocks_needed + 5;
  std::vector<int32_t> perm(p.num_blocks - 1);
  std::iota(perm.begin(), perm.end(), 1);
  std::shuffle(perm.begin(), perm.end(), std::mt19937(static_cast<uint32_t>(seed)));
  p.tables.assign(p.seqs.size() * p.max_blocks, 0);
  size_t next = 0;
  for (size_t i = 0; i < p.seqs.size(); ++i) {
    const AttnSeq& s = p.seqs[i];
    const int32_t need = static_cast<int32_t>((s.start_pos + s.num_rows + bs - 1) / bs);
    for (int32_t b = 0; b < need; ++b) p.tables[i * p.max_blocks + b] = perm[next++];
    for (int32_t t = 0; t < s.num_rows; ++t) p.row_pos.push_back(s.start_pos + t);
  }
  return p;
}

// One checked output element: its index in `out` [rows, heads * head_dim], the float64
// value, and whether its row is a decode row (one new token).
struct RefElement {
  int64_t index;
  double value;
  bool decode;
};

// Float64 causal attention over the pool `k` / `v` (float or double, pool layout) for the
// checked rows: every row of a sequence of <= 64 new tokens, else the first and last 4 and
// every 11th (to keep the reference cheap).
template <typename T>
std::vector<RefElement> reference_attention(const PagedStep& p, const std::vector<float>& q,
                                            const std::vector<T>& k, const std::vector<T>& v,
                                            int heads, int kv_heads, int hd) {
  const int group = heads / kv_heads;
  const int64_t bs = p.block_size, kv_dim = int64_t{kv_heads} * hd, q_dim = int64_t{heads} * hd;
  std::vector<RefElement> ref;
  std::vector<double> sc;
  for (size_t si = 0; si < p.seqs.size(); ++si) {
    const int32_t n = p.seqs[si].num_rows;
    for (int32_t t = 0; t < n; ++t) {
      if (n > 64 && t >= 4 && t + 4 < n && t % 11 != 0) continue;
      const int64_t r = p.seqs[si].row_begin + t;
      const int64_t pos = p.row_pos[r];
      for (int h = 0; h < heads; ++h) {
        const int kvh = h / group;
        sc.assign(pos + 1, 0.0);
        double mx = -1e300;
        for (int64_t j = 0; j <= pos; ++j) {
          const int64_t slot = int64_t{p.tables[si * p.max_blocks + j / bs]} * bs + j % bs;
          double s = 0;
          for (int d = 0; d < hd; ++d) {
            s += double(q[r * q_dim + h * hd + d]) * double(k[slot * kv_dim + kvh * hd + d]);
          }
          sc[j] = s / std::sqrt(double(hd));
          mx = std::max(mx, sc[j]);
        }
        double sum = 0;
        for (auto& s : sc) sum += (s = std::exp(s - mx));
        std::vector<double> o(hd, 0.0);
        for (int64_t j = 0; j <= pos; ++j) {
          const int64_t slot = int64_t{p.tables[si * p.max_blocks + j / bs]} * bs + j % bs;
          for (int d = 0; d < hd; ++d) o[d] += sc[j] * double(v[slot * kv_dim + kvh * hd + d]);
        }
        for (int d = 0; d < hd; ++d) ref.push_back({r * q_dim + h * hd + d, o[d] / sum, n == 1});
      }
    }
  }
  return ref;
}

struct DeviceAttentionPlan {
  DeviceAttentionPlan(const AttentionPlan& plan, int heads, int kv_heads, int head_dim)
      : plan_(plan),
        items_(to_device(plan.items)),
        decode_(to_device(plan.decode)),
        partial_o_(poisoned<float>(size_t(std::max(plan.num_partials, 1)) * heads * head_dim)),
        partial_lse_(poisoned<float>(size_t(std::max(plan.num_partials, 1)) * heads)),
        num_counters_(size_t(std::max(plan.num_split_rows, 1)) * kv_heads *
                      decode_attention_quads(heads / kv_heads, plan.decode_heads_per_cta)),
        counters_(to_device(std::vector<int>(num_counters_, 0))) {}

  // Points `p`'s item lists and split-KV scratch at this plan.
  void fill(PagedAttentionParams& p) const {
    p.items = items_.as<AttnWorkItem>();
    p.num_items = static_cast<int>(plan_.items.size());
    p.decode_items = decode_.as<AttnDecodeItem>();
    p.num_decode_items = static_cast<int>(plan_.decode.size());
    p.partial_o = partial_o_.as<float>();
    p.partial_lse = partial_lse_.as<float>();
    p.decode_counters = counters_.as<int>();
    p.decode_heads_per_cta = plan_.decode_heads_per_cta;
  }
  // The counters are back at zero after every launch.
  std::vector<int> counters() const { return to_host<int>(counters_, num_counters_); }

 private:
  const AttentionPlan& plan_;
  DeviceBuffer items_, decode_, partial_o_, partial_lse_;
  size_t num_counters_;
  DeviceBuffer counters_;
};

}  // namespace qwen3::cuda::test
