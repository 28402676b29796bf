// Host-side planning of one step's attention (FlashInfer's plan/run split): work items
// for the paged-attention kernel and the split-KV merges, computed once per step and
// shared by every layer.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "backends/cuda/kernels/attention.h"
#include "sched/batch.h"

namespace qwen3::cuda {

struct AttnSeq {
  int32_t row_begin = 0;  // first batch row
  int32_t num_rows = 0;   // its new tokens
  int32_t start_pos = 0;  // tokens already in the cache before this step
};

struct AttentionPlan {
  std::vector<AttnWorkItem> items;                // prefill chunks
  std::vector<AttnDecodeItem> decode;             // rows with one new token, by split
  int32_t num_partials = 0;                       // partial slots of the split rows
  int32_t num_split_rows = 0;                     // decode rows of more than one split
  int decode_heads_per_cta = kDecodeHeadsPerCta;  // PagedAttentionParams' field
  // Every sequence has one new row: the decode kernel may apply q/k-norm + RoPE and write
  // the new K/V itself (a row of a prefill chunk must see its chunk's earlier K/V first).
  bool decode_only = true;
};

// Prefill chunks: items of up to kAttnMaxQueries / group rows over KV [0, last + 1).
// Decode rows (one new token): split over the context when the batch alone would leave
// SMs idle, into chunks of >= min_split_tokens positions (multiples of
// kDecodeSplitTokens), so that the decode CTAs fill about four waves of the GPU. Query heads
// per decode CTA: heads_per_cta when set (1 or kDecodeHeadsPerCta), else 1 when the decode
// rows hold at most kDecodeNarrowMaxTokens positions in all. A row of at most short_context
// visible positions keeps its splits within about two waves instead: at such lengths the
// last CTA's merge of many splits costs more than the extra CTAs bring.
// With an attention window every row, prefill ones included, is planned as a decode row
// over the positions it sees (AttentionWindow::sees): the sink range and the window,
// each cut into splits (the decode kernel takes any [kv_begin, kv_end); the split holding
// the row's own position comes last), so no item reads a released block.
AttentionPlan plan_attention(std::span<const AttnSeq> seqs, int group, int kv_heads, int num_sms,
                             int min_split_tokens = kDecodeSplitTokens, int heads_per_cta = 0,
                             const AttentionWindow& window = {},
                             int64_t short_context = kDecodeShortContext);

}  // namespace qwen3::cuda
