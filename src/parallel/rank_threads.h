// The threads of tensor-parallel ranks in one process: rank 0 runs on the caller's
// thread, ranks 1..N-1 on threads of their own that live as long as this object, so a
// rank keeps its thread (and the GPU context bound to it) from step to step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/error.h"

namespace qwen3 {

// What SpinBarrier::arrive_and_wait() throws after abort(): the consequence of another
// rank's failure, not a cause.
class BarrierAborted : public Error {
 public:
  BarrierAborted() : Error(ErrorCode::kInternal, "another tensor-parallel rank failed") {}
};

// A barrier the ranks' threads spin on (yielding after a while): they meet at it often
// (around every collective a step enqueues), so a sleep and wake-up per meeting costs too
// much. Reusable: every arrive_and_wait() waits for the n-th arrival of its round.
// abort() (a rank failed and will not arrive) makes every waiting and later
// arrive_and_wait() throw BarrierAborted until reset(), which only a caller that knows
// no thread is at the barrier may call.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void arrive_and_wait();
  void abort() { aborted_.store(true, std::memory_order_release); }
  void reset();

 private:
  const int n_;
  std::atomic<int> arrived_{0};
  std::atomic<uint32_t> round_{0};
  std::atomic<bool> aborted_{false};
};

class RankThreads {
 public:
  explicit RankThreads(int ranks);
  ~RankThreads();
  RankThreads(const RankThreads&) = delete;
  RankThreads& operator=(const RankThreads&) = delete;

  int ranks() const { return ranks_; }
  // Runs fn(r) for every rank at once and returns when all have returned; then rethrows
  // the lowest rank's exception that is not a BarrierAborted (those follow from another
  // rank's failure), else the lowest rank's. Not reentrant: one run() at a time.
  void run(const std::function<void(int rank)>& fn);

 private:
  void worker(int rank);

  int ranks_;
  std::mutex mu_;
  std::condition_variable start_;
  std::condition_variable done_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;  // one per run(); a worker runs each generation once
  int pending_ = 0;          // workers still running the current generation
  bool stop_ = false;
  std::vector<std::exception_ptr> errors_;  // [ranks] of the current generation
  std::vector<std::thread> threads_;
};

}  // namespace qwen3
