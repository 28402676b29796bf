// A step's attention plan on the device for the attention tests: the prefill and decode
// items, split-KV partials (poisoned, so a merge that reads an unwritten slot fails) and
// zeroed arrival counters, and the PagedAttentionParams fields that point at them.
#pragma once

#include <algorithm>
#include <vector>

#include "backends/cuda/attention_plan.h"
#include "backends/cuda/kernels/attention.h"
#include "cuda/cuda_test_util.h"

namespace qwen3::cuda::test {

struct DeviceAttentionPlan {
  DeviceAttentionPlan(const AttentionPlan& plan, int heads, int kv_heads, int head_dim)
      : plan_(plan),
        items_(to_device(plan.items)),
        decode_(to_device(plan.decode)),
        partial_o_(poisoned<float>(size_t(std::max(plan.num_partials, 1)) * heads * head_dim)),
        partial_lse_(poisoned<float>(size_t(std::max(plan.num_partials, 1)) * heads)),
        num_counters_(size_t(std::max(plan.num_split_rows, 1)) * kv_heads *
                      decode_attention_quads(heads / kv_heads)),
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
