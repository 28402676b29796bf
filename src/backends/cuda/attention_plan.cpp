#include "backends/cuda/attention_plan.h"

#include <algorithm>

namespace qwen3::cuda {

AttentionPlan plan_attention(std::span<const AttnSeq> seqs, int group, int kv_heads, int num_sms,
                             int min_split_tokens) {
  AttentionPlan plan;
  int64_t decodes = 0;
  for (const AttnSeq& s : seqs) decodes += s.num_rows == 1 ? 1 : 0;
  // Splits per decode row so that decode CTAs fill about two waves of the GPU.
  const int64_t target_ctas = 2LL * std::max(num_sms, 1);
  const int64_t max_splits =
      decodes > 0 ? std::max<int64_t>(1, target_ctas / std::max<int64_t>(decodes * kv_heads, 1))
                  : 1;
  const int rows_per_item = std::max(1, kAttnMaxQueries / std::max(group, 1));

  for (int32_t si = 0; si < static_cast<int32_t>(seqs.size()); ++si) {
    const AttnSeq& s = seqs[si];
    const int32_t kv_end = s.start_pos + s.num_rows;
    if (s.num_rows == 1) {
      const int64_t by_length = (kv_end + min_split_tokens - 1) / min_split_tokens;
      const int64_t splits = std::clamp<int64_t>(by_length, 1, max_splits);
      if (splits > 1) {
        int64_t chunk = (kv_end + splits - 1) / splits;
        chunk = (chunk + kAttnTile - 1) / kAttnTile * kAttnTile;
        const int32_t first = plan.num_partials;
        int32_t n = 0;
        for (int64_t b = 0; b < kv_end; b += chunk, ++n) {
          plan.items.push_back({si, s.row_begin, 1, static_cast<int32_t>(b),
                                static_cast<int32_t>(std::min<int64_t>(kv_end, b + chunk)),
                                first + n});
        }
        plan.num_partials += n;
        plan.combine.push_back({s.row_begin, first, n});
        continue;
      }
    }
    for (int32_t r = 0; r < s.num_rows; r += rows_per_item) {
      const int32_t n = std::min(rows_per_item, s.num_rows - r);
      plan.items.push_back({si, s.row_begin + r, n, 0, s.start_pos + r + n, -1});
    }
  }
  return plan;
}

}  // namespace qwen3::cuda
