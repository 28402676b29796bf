#include "backends/cuda/attention_plan.h"

#include <algorithm>

namespace qwen3::cuda {

AttentionPlan plan_attention(std::span<const AttnSeq> seqs, int group, int kv_heads, int num_sms,
                             int min_split_tokens, int heads_per_cta, const AttentionWindow& window,
                             int64_t short_context) {
  AttentionPlan plan;
  const bool windowed = window.on();
  int64_t decodes = 0, decode_tokens = 0;
  for (const AttnSeq& s : seqs) {
    plan.decode_only = plan.decode_only && s.num_rows == 1;
    if (s.num_rows != 1 && !windowed) continue;
    for (int32_t r = 0; r < s.num_rows; ++r) {
      ++decodes;
      decode_tokens += visible_keys(s.start_pos + r, window).count();
    }
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
  // Short rows: about two waves (H200, batch 1 at 8,192 positions: 64 splits 268.7 tok/s,
  // 32 splits 284.2; at 2,048 and 4,096 the four-wave count is 16 / 32 anyway).
  const int64_t short_max_splits =
      decodes > 0 ? std::max<int64_t>(1, 2LL * std::max(num_sms, 1) / (decodes * ctas_per_split))
                  : 1;
  const int64_t unit = (std::max(min_split_tokens, 1) + kDecodeSplitTokens - 1) /
                       kDecodeSplitTokens * kDecodeSplitTokens;
  const int rows_per_item = std::max(1, kAttnMaxQueries / std::max(group, 1));

  // One decode row at `pos`: its visible ranges cut into splits of `chunk` positions.
  auto plan_row = [&](int32_t si, int32_t row, int32_t pos) {
    const KeyRanges kr = visible_keys(pos, window);
    const int64_t visible = kr.count();
    const int64_t by_length = (visible + unit - 1) / unit;
    const int64_t cap =
        visible <= short_context ? std::min(max_splits, short_max_splits) : max_splits;
    const int64_t splits = std::clamp<int64_t>(by_length, 1, cap);
    int64_t chunk = (visible + splits - 1) / splits;
    chunk = (chunk + kDecodeSplitTokens - 1) / kDecodeSplitTokens * kDecodeSplitTokens;
    int32_t n = 0;
    for (int i = 0; i < kr.n; ++i)
      n += static_cast<int32_t>((kr.hi[i] - kr.lo[i] + chunk - 1) / chunk);
    const int32_t first_partial = n > 1 ? plan.num_partials : 0;
    const int32_t counter = n > 1 ? plan.num_split_rows : 0;
    int32_t k = 0;
    for (int i = 0; i < kr.n; ++i) {
      for (int64_t b = kr.lo[i]; b < kr.hi[i]; b += chunk, ++k) {
        plan.decode.push_back({si, row, static_cast<int32_t>(b),
                               static_cast<int32_t>(std::min<int64_t>(kr.hi[i], b + chunk)), k, n,
                               first_partial, counter});
      }
    }
    if (n > 1) {
      plan.num_partials += n;
      ++plan.num_split_rows;
    }
  };

  for (int32_t si = 0; si < static_cast<int32_t>(seqs.size()); ++si) {
    const AttnSeq& s = seqs[si];
    if (s.num_rows == 1 || windowed) {
      for (int32_t r = 0; r < s.num_rows; ++r) plan_row(si, s.row_begin + r, s.start_pos + r);
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
