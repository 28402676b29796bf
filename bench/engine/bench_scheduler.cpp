// Host time per scheduler step (schedule + bookkeeping after the runner), so the GPU never
// waits for the CPU: the goal is well under 1 ms with 256 running sequences.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "sched/scheduler.h"

namespace {

using qwen3::Scheduler;
using qwen3::SchedulerConfig;
using qwen3::Sequence;

// `seqs` sequences with `context` prompt tokens each, decoding steadily; distinct prompts
// (no prefix sharing) so every filled block is hashed and indexed.
void BM_SchedulerDecodeStep(benchmark::State& state) {
  const int64_t seqs = state.range(0);
  const int64_t context = state.range(1);
  SchedulerConfig c;
  c.max_num_seqs = seqs;
  c.max_num_batched_tokens = 8192;
  c.block_size = 16;
  c.num_blocks = seqs * (context + 4096) / 16 + 1;
  Scheduler sch(c);
  for (int64_t i = 0; i < seqs; ++i) {
    Sequence s;
    s.id = static_cast<uint64_t>(i + 1);
    for (int64_t t = 0; t < context; ++t)
      s.tokens.push_back(static_cast<int32_t>((t * 31 + i) % 151000));
    s.prompt_len = context;
    s.max_len = context + 1000000;
    s.arrival = s.id;
    sch.add(std::move(s));
  }
  // Prefill everything first (not timed).
  while (true) {
    auto out = sch.schedule();
    sch.on_executed(out);
    bool all_decoding = true;
    for (const auto& q : out.seqs) {
      if (q.want_logits) sch.append_token(q.seq_id, 7);
      all_decoding &= q.tokens.size() == 1;
    }
    if (all_decoding && static_cast<int64_t>(out.seqs.size()) == seqs) break;
  }
  int32_t tok = 1;
  for (auto _ : state) {
    auto out = sch.schedule();
    sch.on_executed(out);
    for (const auto& q : out.seqs) sch.append_token(q.seq_id, tok);
    tok = (tok + 1) % 1000;
    benchmark::DoNotOptimize(out.total_tokens);
  }
  state.counters["seqs"] = static_cast<double>(seqs);
}
BENCHMARK(BM_SchedulerDecodeStep)
    ->Args({256, 512})
    ->Args({256, 2048})
    ->Args({64, 8192})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
