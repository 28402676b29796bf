#include "backends/cuda/attention_plan.h"

#include <algorithm>

namespace qwen3::cuda {

AttentionPlan plan_attention(std::span<const AttnSeq> seqs, int group, int kv_heads, int num_sms,
                             int min_split_tokens, int heads_per_cta) {
  AttentionPlan plan;
  int64_t decodes = 0, decode_tokens = 0;
  for (const AttnSeq& s : seqs) {
    if (s.num_rows != 1) continue;
    ++decodes;
    decode_tokens += s.start_pos + 1;
  }
  plan.decode_heads_per_cta =
      heads_per_cta > 0 ? heads_per_cta
                        : (decode_tokens <= kDecodeNarrowMaxTokens ? 1 : kDecodeHeadsPerCta);
  // Each decode CTA is short (one split, a KV head, 1 or 4 query heads): aim at four waves.
  const int64_t target_ctas = 4LL * std::max(num_sms, 1);
  const int64_t ctas_per_split =
      int64_t{std::max(kv_heads, 1)} * decode_attention_quads(group, plan.decode_heads_per_cta);
  const int64_t max_splits =
      decodes > 0 ? std::max<int64_t>(1, target_ctas / (decodes * ctas_per_split)) : 1;
  const int64_t unit = (std::max(min_split_tokens, 1) + kDecodeSplitTokens - 1) /
                       kDecodeSplitTokens * kDecodeSplitTokens;
  const int rows_per_item = std::max(1, kAttnMaxQueries / std::max(group, 1));

  for (int32_t si = 0; si < static_cast<int32_t>(seqs.size()); ++si) {
    const AttnSeq& s = seqs[si];
    const int32_t kv_end = s.start_pos + s.num_rows;
    if (s.num_rows == 1) {
      const int64_t by_length = (kv_end + unit - 1) / unit;
      const int64_t splits = std::clamp<int64_t>(by_length, 1, max_splits);
      int64_t chunk = (kv_end + splits - 1) / splits;
      chunk = (chunk + kDecodeSplitTokens - 1) / kDecodeSplitTokens * kDecodeSplitTokens;
      const auto n = static_cast<int32_t>((kv_end + chunk - 1) / chunk);
      for (int32_t k = 0; k < n; ++k) {
        plan.decode.push_back({si, s.row_begin, static_cast<int32_t>(k * chunk),
                               static_cast<int32_t>(std::min<int64_t>(kv_end, (k + 1) * chunk)), k,
                               n, n > 1 ? plan.num_partials : 0, n > 1 ? plan.num_split_rows : 0});
      }
      if (n > 1) {
        plan.num_partials += n;
        ++plan.num_split_rows;
      }
      continue;
    }
    for (int32_t r = 0; r < s.num_rows; r += rows_per_item) {
      const int32_t n = std::min(rows_per_item, s.num_rows - r);
      plan.items.push_back({si, s.row_begin + r, n, s.start_pos + r + n});
    }
  }
  return plan;
}

}  // namespace qwen3::cuda
