// The scheduler driven with hand-made "runner outputs" (no model): vLLM v1's cpu tests.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "sched/scheduler.h"

namespace qwen3 {
namespace {

Sequence make_seq(uint64_t id, int64_t prompt_len, int64_t max_new, int32_t base = 0) {
  Sequence s;
  s.id = id;
  for (int64_t i = 0; i < prompt_len; ++i) s.tokens.push_back(base + static_cast<int32_t>(i));
  s.prompt_len = prompt_len;
  s.max_len = prompt_len + max_new;
  s.arrival = id;
  return s;
}

// Executes a step the way the engine does: KV written, then a token for each want_logits.
void complete(Scheduler& sch, const SchedulerOutput& out, int32_t token = 5) {
  sch.on_executed(out);
  for (const auto& q : out.seqs) {
    if (q.want_logits) sch.append_token(q.seq_id, token);
  }
}

const ScheduledSeq* find(const SchedulerOutput& out, uint64_t id) {
  for (const auto& q : out.seqs) {
    if (q.seq_id == id) return &q;
  }
  return nullptr;
}

SchedulerConfig config(int64_t blocks, int64_t bs, int64_t budget, int64_t seqs = 4) {
  SchedulerConfig c;
  c.num_blocks = blocks;
  c.block_size = bs;
  c.max_num_batched_tokens = budget;
  c.max_num_seqs = seqs;
  return c;
}

TEST(Scheduler, LongPromptIsChunkedByTheTokenBudget) {
  Scheduler sch(config(64, 4, 10));
  sch.add(make_seq(1, 25, 4));
  std::vector<int64_t> chunks;
  for (int i = 0; i < 3; ++i) {
    auto out = sch.schedule();
    ASSERT_EQ(out.seqs.size(), 1u);
    chunks.push_back(static_cast<int64_t>(out.seqs[0].tokens.size()));
    EXPECT_EQ(out.seqs[0].start_pos, 10 * i);
    EXPECT_EQ(out.seqs[0].want_logits, i == 2);
    EXPECT_GE(static_cast<int64_t>(out.seqs[0].block_table.size()) * 4,
              out.seqs[0].start_pos + static_cast<int64_t>(out.seqs[0].tokens.size()));
    complete(sch, out);
  }
  EXPECT_EQ(chunks, (std::vector<int64_t>{10, 10, 5}));
  auto out = sch.schedule();  // now a decode of one token
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].tokens.size(), 1u);
  EXPECT_EQ(out.seqs[0].start_pos, 25);
}

TEST(Scheduler, PrefillChunkLeavesRoomForRunningDecodes) {
  Scheduler sch(config(128, 4, 8));
  // Two short sequences start decoding, then a long prompt arrives.
  sch.add(make_seq(1, 3, 50));
  sch.add(make_seq(2, 3, 50));
  complete(sch, sch.schedule());
  sch.add(make_seq(3, 100, 4));
  for (int step = 0; step < 5; ++step) {
    auto out = sch.schedule();
    ASSERT_NE(find(out, 1), nullptr);
    ASSERT_NE(find(out, 2), nullptr);
    EXPECT_EQ(find(out, 1)->tokens.size(), 1u);
    ASSERT_NE(find(out, 3), nullptr);
    EXPECT_EQ(find(out, 3)->tokens.size(), 6u);  // budget 8 minus two decodes
    EXPECT_LE(out.total_tokens, 8);
    complete(sch, out);
  }
}

TEST(Scheduler, RespectsMaxNumSeqs) {
  Scheduler sch(config(128, 4, 64, 2));
  for (uint64_t id = 1; id <= 5; ++id) sch.add(make_seq(id, 4, 10));
  auto out = sch.schedule();
  EXPECT_EQ(out.seqs.size(), 2u);
  EXPECT_EQ(sch.num_running(), 2);
  EXPECT_EQ(sch.num_waiting(), 3);
}

TEST(Scheduler, PreemptsNewestWhenThePoolRunsDryAndRecomputesLater) {
  // 6 usable blocks of 2 tokens. Two sequences of 4 prompt tokens grow until full.
  Scheduler sch(config(7, 2, 64));
  sch.add(make_seq(1, 4, 20));
  sch.add(make_seq(2, 4, 20, 100));
  complete(sch, sch.schedule());  // 2 + 2 blocks; 5 tokens each
  complete(sch, sch.schedule());  // 3 + 3 blocks: the pool is full; 6 tokens each
  complete(sch, sch.schedule());  // 7 tokens each
  auto out = sch.schedule();      // both need a 4th block: seq 2 (newest) is preempted
  EXPECT_EQ(sch.num_preemptions(), 1);
  ASSERT_NE(find(out, 1), nullptr);
  EXPECT_EQ(find(out, 2), nullptr);
  EXPECT_EQ(out.finished_seq_ids, (std::vector<uint64_t>{2}));
  EXPECT_EQ(sch.find(2)->status, SeqStatus::kWaiting);
  EXPECT_EQ(sch.find(2)->num_computed, 0);
  EXPECT_EQ(sch.find(2)->tokens.size(), 7u);  // its generated tokens are kept
  complete(sch, out);
  // Once seq 1 is gone, seq 2 is recomputed from the start (prompt + its outputs).
  sch.remove(1);
  out = sch.schedule();
  const ScheduledSeq* q = find(out, 2);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(q->want_logits);
  EXPECT_EQ(q->start_pos + static_cast<int64_t>(q->tokens.size()), 7);
  EXPECT_EQ(q->start_pos, 4);  // its first two blocks were still cached
  sch.kv().pool().check_integrity();
}

TEST(Scheduler, SecondRequestWithSamePromptSkipsCachedBlocks) {
  Scheduler sch(config(64, 4, 64));
  sch.add(make_seq(1, 18, 4));
  complete(sch, sch.schedule());
  sch.add(make_seq(2, 18, 4));
  auto out = sch.schedule();
  const ScheduledSeq* q = find(out, 2);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->start_pos, 16);  // 4 full blocks cached
  EXPECT_EQ(q->tokens.size(), 2u);
  EXPECT_EQ(sch.find(2)->cached_prompt_tokens, 16);
  EXPECT_EQ(sch.kv().prefix_queries(), 36);
  EXPECT_EQ(sch.kv().prefix_hits(), 16);
}

TEST(Scheduler, SiblingWaitsForLeaderPromptThenSharesIt) {
  Scheduler sch(config(64, 4, 8));
  sch.add(make_seq(1, 12, 4));
  Sequence sib = make_seq(2, 12, 4);
  sib.wait_for = 1;
  sch.add(std::move(sib));
  auto out = sch.schedule();  // leader prefills 8; sibling must not start yet
  EXPECT_EQ(find(out, 2), nullptr);
  complete(sch, out);
  out = sch.schedule();  // leader's last 4 tokens
  EXPECT_EQ(find(out, 2), nullptr);
  complete(sch, out);
  out = sch.schedule();
  const ScheduledSeq* q = find(out, 2);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->start_pos, 8);  // two full blocks shared (the last token always runs)
  EXPECT_EQ(q->block_table[0], sch.kv().block_table(1)[0]);
}

TEST(Scheduler, PriorityOrdersTheWaitingQueue) {
  Scheduler sch(config(64, 4, 64, 1));
  Sequence a = make_seq(1, 4, 4), b = make_seq(2, 4, 4);
  b.priority = -1;
  sch.add(std::move(a));
  sch.add(std::move(b));
  auto out = sch.schedule();
  ASSERT_EQ(out.seqs.size(), 1u);
  EXPECT_EQ(out.seqs[0].seq_id, 2u);
}

TEST(Scheduler, RemoveFreesBlocksImmediately) {
  Scheduler sch(config(16, 4, 64));
  sch.add(make_seq(1, 30, 4));
  complete(sch, sch.schedule());
  EXPECT_LT(sch.kv().pool().num_free(), 15);
  EXPECT_TRUE(sch.remove(1));
  EXPECT_EQ(sch.kv().pool().num_free(), 15);
  EXPECT_FALSE(sch.remove(1));
  EXPECT_FALSE(sch.has_work());
}

TEST(Scheduler, RejectsBudgetBelowSeqCap) { EXPECT_ANY_THROW(Scheduler(config(16, 4, 4, 8))); }

// A random workload under a tight pool: every sequence finishes, invariants hold, no
// step exceeds the budget or the sequence cap.
TEST(Scheduler, RandomWorkloadAlwaysCompletes) {
  std::mt19937 rng(11);
  Scheduler sch(config(40, 4, 32, 8));
  uint64_t next = 1;
  int64_t finished = 0;
  for (int step = 0; step < 4000 && (next <= 60 || sch.has_work()); ++step) {
    if (next <= 60 && rng() % 3 == 0) {
      sch.add(make_seq(next, 1 + rng() % 40, 1 + rng() % 30, static_cast<int32_t>(rng() % 3)));
      ++next;
    }
    auto out = sch.schedule();
    EXPECT_LE(out.total_tokens, 32);
    EXPECT_LE(static_cast<int64_t>(out.seqs.size()), 8);
    complete(sch, out, static_cast<int32_t>(rng() % 4));
    for (const auto& q : out.seqs) {
      Sequence* s = sch.find(q.seq_id);
      if (s != nullptr && static_cast<int64_t>(s->tokens.size()) >= s->max_len &&
          s->num_computed + 1 >= s->max_len) {
        sch.remove(q.seq_id);
        ++finished;
      }
    }
    sch.kv().pool().check_integrity();
  }
  EXPECT_EQ(finished, 60);
  EXPECT_EQ(sch.kv().pool().num_free(), sch.kv().pool().num_usable());
}

}  // namespace
}  // namespace qwen3
