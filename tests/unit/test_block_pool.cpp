#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "core/error.h"
#include "kv/block_pool.h"

namespace qwen3 {
namespace {

std::vector<int32_t> toks(int32_t start, int64_t n) {
  std::vector<int32_t> t;
  for (int64_t i = 0; i < n; ++i) t.push_back(start + static_cast<int32_t>(i));
  return t;
}

TEST(BlockPool, NullBlockIsNeverHandedOut) {
  BlockPool pool(5, 4);
  EXPECT_EQ(pool.num_usable(), 4);
  EXPECT_EQ(pool.num_free(), 4);
  std::vector<int32_t> got;
  ASSERT_TRUE(pool.allocate(4, got));
  for (int32_t id : got) EXPECT_GT(id, 0);
  EXPECT_FALSE(pool.allocate(1, got));
  EXPECT_EQ(got.size(), 4u);  // a failed allocation changes nothing
  EXPECT_DOUBLE_EQ(pool.usage(), 1.0);
  pool.check_integrity();
}

TEST(BlockPool, FreedBlocksAreReusedLeastRecentlyFreedFirst) {
  BlockPool pool(4, 2);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(3, a));
  pool.release(std::vector<int32_t>{a[2]});
  pool.release(std::vector<int32_t>{a[0]});
  std::vector<int32_t> b;
  ASSERT_TRUE(pool.allocate(1, b));
  EXPECT_EQ(b[0], a[2]);
  pool.check_integrity();
}

TEST(BlockPool, CachedBlockSurvivesReleaseUntilEvicted) {
  BlockPool pool(3, 2);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(2, a));
  const auto t0 = toks(10, 2), t1 = toks(20, 2);
  pool.insert(a[0], 111, 0, t0);
  pool.insert(a[1], 222, a[0], t1);
  pool.release(a);
  EXPECT_EQ(pool.num_free(), 2);
  ASSERT_EQ(pool.lookup(111, 0, t0), a[0]);
  ASSERT_EQ(pool.lookup(222, a[0], t1), a[1]);
  // Re-using the first block hits: it leaves the free list without being evicted.
  pool.acquire(std::vector<int32_t>{a[0]});
  EXPECT_EQ(pool.num_free(), 1);
  EXPECT_EQ(pool.ref_count(a[0]), 1);
  // Allocating the last free block evicts the child it held.
  std::vector<int32_t> b;
  ASSERT_TRUE(pool.allocate(1, b));
  EXPECT_EQ(b[0], a[1]);
  EXPECT_FALSE(pool.lookup(222, a[0], t1).has_value());
  EXPECT_EQ(pool.num_cached(), 1);
  pool.check_integrity();
}

TEST(BlockPool, LookupVerifiesTokensAndParent) {
  BlockPool pool(4, 2);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(2, a));
  pool.insert(a[0], 7, 0, toks(1, 2));
  // Same hash, other tokens (a collision) or other parent: a miss, never wrong KV.
  EXPECT_FALSE(pool.lookup(7, 0, toks(2, 2)).has_value());
  EXPECT_FALSE(pool.lookup(7, a[1], toks(1, 2)).has_value());
  EXPECT_TRUE(pool.lookup(7, 0, toks(1, 2)).has_value());
}

TEST(BlockPool, ChildOfEvictedParentIsNotFound) {
  BlockPool pool(3, 1);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(2, a));
  pool.insert(a[0], 1, 0, toks(5, 1));
  pool.insert(a[1], 2, a[0], toks(6, 1));
  // Free the parent first so it is evicted first, then refill it with other content.
  pool.release(std::vector<int32_t>{a[0]});
  pool.release(std::vector<int32_t>{a[1]});
  std::vector<int32_t> b;
  ASSERT_TRUE(pool.allocate(1, b));
  ASSERT_EQ(b[0], a[0]);
  pool.insert(b[0], 99, 0, toks(9, 1));
  EXPECT_FALSE(pool.lookup(2, a[0], toks(6, 1)).has_value());
  pool.check_integrity();
}

TEST(BlockPool, RandomOperationsKeepInvariants) {
  BlockPool pool(33, 4);
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> owned;
  for (int step = 0; step < 3000; ++step) {
    const int op = static_cast<int>(rng() % 3);
    if (op == 0) {
      std::vector<int32_t> got;
      if (pool.allocate(1 + rng() % 4, got)) {
        for (int32_t id : got) {
          if (rng() % 2) pool.insert(id, rng(), 0, toks(static_cast<int32_t>(rng() % 50), 4));
        }
        owned.push_back(got);
      }
    } else if (op == 1 && !owned.empty()) {
      const size_t i = rng() % owned.size();
      pool.release(owned[i]);
      owned.erase(owned.begin() + static_cast<int64_t>(i));
    } else if (!owned.empty()) {
      const auto& o = owned[rng() % owned.size()];
      pool.acquire(o);
      owned.push_back(o);
    }
    pool.check_integrity();
  }
  for (const auto& o : owned) pool.release(o);
  pool.check_integrity();
  EXPECT_EQ(pool.num_free(), pool.num_usable());
}

TEST(BlockPool, DoubleReleaseIsCaught) {
  BlockPool pool(3, 2);
  std::vector<int32_t> a;
  ASSERT_TRUE(pool.allocate(1, a));
  pool.release(a);
  EXPECT_THROW(pool.release(a), Error);
}

}  // namespace
}  // namespace qwen3
