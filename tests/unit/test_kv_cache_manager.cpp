#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kv/kv_cache_manager.h"

namespace qwen3 {
namespace {

std::vector<int32_t> seq(int32_t start, int64_t n) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(start + static_cast<int32_t>(i));
  return t;
}

TEST(KvCacheManager, AllocatesCeilOfTokensOverBlockSize) {
  KvCacheManager kv(11, 4, true);
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 9));
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  ASSERT_TRUE(kv.allocate(1, nullptr, 9, 3));  // 12 tokens: still 3 blocks
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  ASSERT_TRUE(kv.allocate(1, nullptr, 12, 1));
  EXPECT_EQ(kv.block_table(1).size(), 4u);
  EXPECT_FALSE(kv.allocate(2, nullptr, 0, 25));  // 7 blocks > 6 free
  EXPECT_FALSE(kv.has(2));
  kv.free(1);
  EXPECT_EQ(kv.pool().num_free(), 10);
  kv.pool().check_integrity();
}

TEST(KvCacheManager, SecondRequestWithSamePrefixHitsFullBlocksOnly) {
  KvCacheManager kv(20, 4, true);
  auto a = seq(100, 10);  // 2 full blocks + 2 tokens
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 10));
  kv.commit(1, a, 10);
  auto b = a;
  b.push_back(7);
  b.push_back(8);  // same 10 tokens, then more
  const PrefixHit hit = kv.find_prefix(b);
  ASSERT_EQ(hit.num_blocks(), 2);
  EXPECT_EQ(hit.blocks[0], kv.block_table(1)[0]);
  EXPECT_EQ(hit.blocks[1], kv.block_table(1)[1]);
  ASSERT_TRUE(kv.allocate(2, &hit, 8, 4));
  EXPECT_EQ(kv.block_table(2).size(), 3u);
  EXPECT_EQ(kv.pool().ref_count(hit.blocks[0]), 2);
  EXPECT_NE(kv.block_table(2)[2], kv.block_table(1)[2]);  // partial blocks are private
  kv.pool().check_integrity();
}

TEST(KvCacheManager, NeverHitsTheWholePrompt) {
  KvCacheManager kv(20, 4, true);
  auto a = seq(0, 8);
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 8));
  kv.commit(1, a, 8);
  // The same 8 tokens: the last one must run to give logits, so only 1 block hits.
  EXPECT_EQ(kv.find_prefix(a).num_blocks(), 1);
}

TEST(KvCacheManager, DifferentEarlierBlockMeansNoHit) {
  KvCacheManager kv(20, 4, true);
  auto a = seq(0, 9);
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 9));
  kv.commit(1, a, 9);
  auto b = a;
  b[1] = 999;  // differs in block 0: block 1 (same tokens) must not hit either
  EXPECT_EQ(kv.find_prefix(b).num_blocks(), 0);
}

TEST(KvCacheManager, FreedPrefixStaysCachedUntilEvicted) {
  KvCacheManager kv(4, 2, true);  // 3 usable blocks
  auto a = seq(0, 5);
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 5));
  kv.commit(1, a, 5);
  kv.free(1);
  EXPECT_EQ(kv.find_prefix(a).num_blocks(), 2);
  // Hits that sit on the free list count against the free blocks.
  const PrefixHit hit = kv.find_prefix(a);
  ASSERT_TRUE(kv.allocate(2, &hit, 4, 1));
  EXPECT_EQ(kv.pool().num_free(), 0);
  kv.free(2);
  // A different sequence takes every block: the old prefix is gone.
  ASSERT_TRUE(kv.allocate(3, nullptr, 0, 6));
  kv.commit(3, seq(50, 6), 6);
  EXPECT_EQ(kv.find_prefix(a).num_blocks(), 0);
  kv.pool().check_integrity();
}

TEST(KvCacheManager, CachingOffFindsNothing) {
  KvCacheManager kv(20, 4, false);
  auto a = seq(0, 9);
  ASSERT_TRUE(kv.allocate(1, nullptr, 0, 9));
  kv.commit(1, a, 9);
  EXPECT_EQ(kv.find_prefix(a).num_blocks(), 0);
  EXPECT_EQ(kv.pool().num_cached(), 0);
}

// With an attention window, after each step a block leaves the table (null entry, back
// in the pool) exactly when it lies outside the sink blocks and no query at or after
// num_computed sees any of its positions (AttentionWindow::sees); with prefix caching
// the last indexed block stays one block longer. Freeing then returns the rest.
TEST(KvCacheManager, WindowReleasesTheBlocksNoLaterQuerySees) {
  const int64_t bs = 4;
  for (const bool caching : {false, true}) {
    for (const AttentionWindow w : {AttentionWindow{8, 0}, AttentionWindow{8, 4},
                                    AttentionWindow{5, 6}, AttentionWindow{1, 1}}) {
      KvCacheManager kv(64, bs, caching, w);
      const auto tokens = seq(7, 61);
      int64_t done = 0;
      for (const int64_t n : {9, 1, 1, 13, 2, 1, 1, 20, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
        ASSERT_TRUE(kv.allocate(1, nullptr, done, n));
        const int64_t bound = kv_tokens_held(int64_t{1} << 40, 20, bs, w);  // steps <= 20
        EXPECT_LE((63 - kv.pool().num_free()) * bs, bound) << "at the step's peak";
        done += n;
        kv.commit(1, tokens, done);
        const auto& table = kv.block_table(1);
        const int64_t indexed = caching ? done / bs : 0;
        int64_t live = 0;
        for (int64_t b = 0; b < static_cast<int64_t>(table.size()); ++b) {
          bool seen = false;  // by some query at p >= done, or a sink
          for (int64_t j = b * bs; j < (b + 1) * bs; ++j) seen = seen || w.sees(done, j);
          const bool parent = caching && b == indexed - 1;
          const bool kept = seen || parent;
          EXPECT_EQ(table[b] != 0, kept) << "caching " << caching << " window " << w.window << "+"
                                         << w.sinks << " after " << done << " block " << b;
          live += table[b] != 0;
        }
        EXPECT_EQ(kv.pool().num_free(), 63 - live);
        kv.pool().check_integrity();
      }
      kv.free(1);
      EXPECT_EQ(kv.pool().num_free(), 63);
      kv.pool().check_integrity();
    }
  }
}

// A window over a pool far smaller than the sequence: it never runs dry, and after a
// preemption-style free the recomputation's prefix hit takes the cached blocks again.
TEST(KvCacheManager, WindowRunsALongSequenceInASmallPool) {
  const AttentionWindow w{16, 4};
  const int64_t bs = 4, chunk = 8;
  KvCacheManager kv(1 + kv_tokens_held(1000, chunk, bs, w) / bs, bs, true, w);
  const auto tokens = seq(3, 400);
  int64_t done = 0;
  while (done < 400) {
    const int64_t n = std::min<int64_t>(chunk, 400 - done);
    ASSERT_TRUE(kv.allocate(1, nullptr, done, n)) << done;
    done += n;
    kv.commit(1, tokens, done);
  }
  EXPECT_EQ(kv.block_table(1).size(), 100u);
  kv.free(1);
  kv.pool().check_integrity();
  const PrefixHit hit = kv.find_prefix(tokens);
  EXPECT_GE(hit.num_blocks(), 1);  // the sink block at least is still cached
  ASSERT_TRUE(kv.allocate(2, &hit, hit.num_blocks() * bs, 1));
  kv.commit(2, tokens, hit.num_blocks() * bs + 1);
  kv.free(2);
  kv.pool().check_integrity();
}

// A prefix hit longer than the pool allows: with a window only its sink blocks and the
// blocks the next queries see are taken (the rest are null entries, still cached), so the
// sequence runs instead of waiting for blocks that can never all be free at once.
TEST(KvCacheManager, WindowTakesOnlyTheSeenBlocksOfAPrefixHit) {
  const AttentionWindow w{8, 4};
  const int64_t bs = 4;
  KvCacheManager kv(13, bs, true, w);  // 12 usable blocks
  const auto a = seq(40, 44);          // 11 blocks
  for (int64_t done = 0; done < 44; done += 4) {
    ASSERT_TRUE(kv.allocate(1, nullptr, done, 4));
    kv.commit(1, a, done + 4);
  }
  kv.free(1);
  auto b = a;
  for (int32_t t = 0; t < 5; ++t) b.push_back(900 + t);
  const PrefixHit hit = kv.find_prefix(b);
  ASSERT_EQ(hit.num_blocks(), 11);           // every block of `a` is still cached
  ASSERT_TRUE(kv.allocate(2, &hit, 44, 5));  // 11 hit + 2 new blocks > 12 without the window
  const auto& table = kv.block_table(2);
  ASSERT_EQ(table.size(), 13u);
  for (int64_t blk = 0; blk < 11; ++blk) {
    bool seen = false;
    for (int64_t j = blk * bs; j < (blk + 1) * bs; ++j) seen = seen || w.sees(44, j);
    const bool parent = blk == 10;  // the last indexed block
    EXPECT_EQ(table[blk] != 0, seen || parent) << "block " << blk;
    if (table[blk] != 0) {
      EXPECT_EQ(table[blk], hit.blocks[blk]) << "block " << blk;
    }
  }
  kv.commit(2, b, 49);
  kv.pool().check_integrity();
  kv.free(2);
  EXPECT_EQ(kv.pool().num_free(), 12);
  kv.pool().check_integrity();
}

TEST(KvCacheManager, TokensHeldWithoutAWindowIsTheLength) {
  EXPECT_EQ(kv_tokens_held(1000, 64, 16, AttentionWindow{}), 1000);
  // sinks 4 -> 1 block, window 100 + chunk 64 -> 11 blocks, 2 of slack: 14 blocks.
  EXPECT_EQ(kv_tokens_held(100000, 64, 16, AttentionWindow{100, 4}), 14 * 16);
  EXPECT_EQ(kv_tokens_held(50, 64, 16, AttentionWindow{100, 4}), 50);
}

}  // namespace
}  // namespace qwen3
