// Scripted steps for the CUDA runner tests: sequences (tokens + block table) and steps
// made of parts of them, as the scheduler would hand them over.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "sched/batch.h"

namespace qwen3::cuda::test {

// A sequence of a scripted scenario: its tokens and its KV blocks.
struct ScriptSeq {
  std::vector<int32_t> tokens;
  std::vector<int32_t> table;
};

// Steps as (sequence, first token, token count, want_logits).
struct Part {
  int seq;
  int64_t begin, count;
  bool want;
};

inline SchedulerOutput make_step(const std::vector<ScriptSeq>& seqs,
                                 const std::vector<Part>& parts) {
  SchedulerOutput out;
  for (const Part& p : parts) {
    ScheduledSeq s;
    s.seq_id = static_cast<uint64_t>(p.seq);
    s.tokens.assign(seqs[p.seq].tokens.begin() + p.begin,
                    seqs[p.seq].tokens.begin() + p.begin + p.count);
    s.start_pos = p.begin;
    s.block_table = seqs[p.seq].table;
    s.want_logits = p.want;
    out.total_tokens += p.count;
    out.seqs.push_back(std::move(s));
  }
  return out;
}

}  // namespace qwen3::cuda::test
