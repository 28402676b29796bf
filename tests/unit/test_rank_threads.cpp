// RankThreads and SpinBarrier (parallel/rank_threads.h): every rank runs once per run(),
// all at the same time, rank 0 on the caller's thread and each other rank on the same
// thread of its own from run to run; the lowest failing rank's exception comes back (a
// failure's consequences in other ranks do not mask it) and the threads stay usable.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "parallel/rank_threads.h"

namespace qwen3::test {
namespace {

TEST(RankThreads, RanksRunConcurrentlyOnTheirOwnThreads) {
  constexpr int kRanks = 4;
  RankThreads threads(kRanks);
  std::vector<std::thread::id> first(kRanks), second(kRanks);
  std::vector<int> calls(kRanks, 0);
  for (auto* ids : {&first, &second}) {
    std::atomic<int> arrived{0};
    std::atomic<bool> all_met{true};
    threads.run([&](int r) {
      (*ids)[static_cast<size_t>(r)] = std::this_thread::get_id();
      ++calls[static_cast<size_t>(r)];
      // Every rank waits (bounded) for all the others: only concurrent ranks all meet.
      ++arrived;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (arrived.load() < kRanks && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      if (arrived.load() < kRanks) all_met = false;
    });
    EXPECT_TRUE(all_met.load());
  }
  EXPECT_EQ(first[0], std::this_thread::get_id());
  EXPECT_EQ(std::set<std::thread::id>(first.begin(), first.end()).size(), size_t{kRanks});
  EXPECT_EQ(first, second);
  EXPECT_EQ(calls, std::vector<int>(kRanks, 2));
}

TEST(RankThreads, LowestFailingRankIsRethrownAndThreadsStayUsable) {
  RankThreads threads(3);
  try {
    threads.run([](int r) {
      if (r >= 1) throw std::runtime_error("rank " + std::to_string(r));
    });
    FAIL() << "run() returned normally";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "rank 1");
  }
  std::atomic<int> sum{0};
  threads.run([&](int r) { sum += r + 1; });
  EXPECT_EQ(sum.load(), 6);
}

// Over many rounds no thread leaves a round before every thread has entered it: each
// writes its round number, then after the barrier every thread must see all of them.
TEST(SpinBarrier, NoThreadLeavesARoundEarly) {
  constexpr int kThreads = 3, kRounds = 2000;
  SpinBarrier barrier(kThreads);
  std::vector<std::atomic<int>> seen(kThreads);
  std::atomic<int> early{0};
  RankThreads threads(kThreads);
  threads.run([&](int r) {
    for (int round = 1; round <= kRounds; ++round) {
      seen[static_cast<size_t>(r)].store(round);
      barrier.arrive_and_wait();
      for (const auto& s : seen) early += s.load() < round;
      barrier.arrive_and_wait();  // nobody writes round + 1 before all have checked
    }
  });
  EXPECT_EQ(early.load(), 0);
}

// A rank that fails before the barrier aborts it: the others stop waiting and the
// failure itself (not the others' BarrierAborted) comes back; after reset() the barrier
// works again.
TEST(SpinBarrier, AbortReleasesWaitersAndTheCauseIsRethrown) {
  RankThreads threads(3);
  SpinBarrier barrier(3);
  try {
    threads.run([&](int r) {
      try {
        if (r == 2) throw std::runtime_error("rank 2 failed");
        barrier.arrive_and_wait();  // would wait forever for rank 2
      } catch (...) {
        barrier.abort();
        throw;
      }
    });
    FAIL() << "run() returned normally";
  } catch (const BarrierAborted&) {
    FAIL() << "the consequence was rethrown instead of the cause";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "rank 2 failed");
  }
  barrier.reset();
  std::atomic<int> met{0};
  threads.run([&](int) {
    barrier.arrive_and_wait();
    ++met;
  });
  EXPECT_EQ(met.load(), 3);
}

TEST(RankThreads, OneRankRunsOnTheCaller) {
  RankThreads threads(1);
  std::thread::id id;
  threads.run([&](int r) {
    EXPECT_EQ(r, 0);
    id = std::this_thread::get_id();
  });
  EXPECT_EQ(id, std::this_thread::get_id());
  EXPECT_THROW(RankThreads(0), std::exception);
}

}  // namespace
}  // namespace qwen3::test
