#include "backends/cpu/cpu_runner.h"

#include "core/error.h"

namespace qwen3::cpu {

CpuRunner::CpuRunner(const Qwen3Weights& weights, int64_t num_blocks, int64_t block_size)
    : model_(weights), pool_(weights.config(), num_blocks, block_size) {}

RunnerOutput CpuRunner::execute(const SchedulerOutput& step) {
  // The batch's rows: every sequence's new tokens, concatenated in batch order.
  std::vector<int32_t> tokens;
  tokens.reserve(static_cast<size_t>(std::max<int64_t>(step.total_tokens, 0)));
  BatchMeta meta;
  meta.window = window_;
  meta.seqs.reserve(step.seqs.size());
  for (const ScheduledSeq& s : step.seqs) {
    QWEN3_CHECK(!s.tokens.empty());
    meta.seqs.push_back({.token_offset = static_cast<int64_t>(tokens.size()),
                         .num_tokens = static_cast<int64_t>(s.tokens.size()),
                         .start_pos = s.start_pos,
                         .block_table = s.block_table,
                         .want_logits = s.want_logits});
    tokens.insert(tokens.end(), s.tokens.begin(), s.tokens.end());
  }
  QWEN3_CHECK(static_cast<int64_t>(tokens.size()) == step.total_tokens);
  meta.tokens = tokens;

  RunnerOutput out;
  out.vocab = model_.config().vocab_size;
  if (meta.seqs.empty()) return out;
  // forward_batch checks the block tables against the pool (kInternal: a scheduler bug)
  // and the token ids against the vocabulary (kInvalidArgument) before running anything.
  out.logits = model_.forward_batch(meta, pool_);
  out.rows = static_cast<int64_t>(out.logits.size()) / out.vocab;
  return out;
}

}  // namespace qwen3::cpu
