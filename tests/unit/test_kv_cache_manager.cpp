#include <gtest/gtest.h>

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

}  // namespace
}  // namespace qwen3
