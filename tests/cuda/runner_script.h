// Scripted steps for the CUDA runner tests: sequences (tokens + block table) and steps
// made of parts of them, as the scheduler would hand them over; the models they run on and
// the comparison of two runners over a script.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/fixture.h"
#include "model/init_random.h"
#include "model/weights.h"
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

// Runs the steps on runners a and b; returns the worst step's difference of their logits
// (row counts and sizes checked with gtest).
inline qwen3::test::Diff worst_logits_diff(ModelRunner& a, ModelRunner& b,
                                           const std::vector<ScriptSeq>& seqs,
                                           const std::vector<std::vector<Part>>& steps) {
  qwen3::test::Diff worst;
  for (const auto& parts : steps) {
    const SchedulerOutput step = make_step(seqs, parts);
    const RunnerOutput x = a.execute(step);
    const RunnerOutput y = b.execute(step);
    EXPECT_EQ(x.rows, y.rows);
    EXPECT_EQ(x.logits.size(), y.logits.size());
    if (x.logits.size() != y.logits.size()) return {1e30, 1};
    const qwen3::test::Diff d =
        qwen3::test::compare(x.logits.data(), y.logits.data(), x.logits.size());
    if (!(d.rel() <= worst.rel())) worst = d;
  }
  return worst;
}

// A fixture model by name, or "initrandom_small[_fp8_e4m3|_fp8_e5m2][_lm_head]": the small
// random geometry written by init-random into tmp.
inline std::unique_ptr<Qwen3Weights> load_test_model(const std::string& name,
                                                     qwen3::test::TempDir& tmp) {
  if (name.rfind("initrandom_small", 0) != 0)
    return Qwen3Weights::load(qwen3::test::fixture_model(name));
  InitRandomOptions o;
  o.config = config_from_like(qwen3::test::test_data("initrandom_small.json"));
  o.seed = 7;
  // "initrandom_small_fp8_e4m3" / "_e5m2": block-128 FP8 linears (hidden 192 and
  // intermediate 320 leave partial scale blocks).
  // "..._lm_head": the lm_head in FP8 too (init-random --quantize-lm-head).
  o.fp8 = name.find("fp8") != std::string::npos;
  o.fp8_dtype = name.find("e5m2") != std::string::npos ? DType::kF8E5M2 : DType::kF8E4M3;
  o.fp8_lm_head = name.ends_with("_lm_head");
  o.out_dir = tmp.str() + "/m";
  init_random_checkpoint(o);
  return Qwen3Weights::load(o.out_dir);
}

}  // namespace qwen3::cuda::test
