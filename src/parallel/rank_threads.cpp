#include "parallel/rank_threads.h"

#include <algorithm>

namespace qwen3 {

void SpinBarrier::arrive_and_wait() {
  if (aborted_.load(std::memory_order_acquire)) throw BarrierAborted();
  const uint32_t round = round_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
    arrived_.store(0, std::memory_order_relaxed);  // before the round opens: no one is past it
    round_.fetch_add(1, std::memory_order_release);
    return;
  }
  for (int spins = 0; round_.load(std::memory_order_acquire) == round; ++spins) {
    if (aborted_.load(std::memory_order_acquire)) throw BarrierAborted();
    if (spins > 4096) std::this_thread::yield();
  }
}

void SpinBarrier::reset() {
  arrived_.store(0, std::memory_order_relaxed);
  aborted_.store(false, std::memory_order_release);
}

RankThreads::RankThreads(int ranks)
    : ranks_(ranks), errors_(static_cast<size_t>(std::max(ranks, 0))) {
  if (ranks < 1) QWEN3_THROW(ErrorCode::kInvalidArgument, "{} ranks: need at least 1", ranks);
  threads_.reserve(static_cast<size_t>(ranks - 1));
  for (int r = 1; r < ranks; ++r) threads_.emplace_back([this, r] { worker(r); });
}

RankThreads::~RankThreads() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void RankThreads::worker(int rank) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int)>* job = nullptr;
    {
      std::unique_lock lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
    }
    std::exception_ptr error;
    try {
      (*job)(rank);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      errors_[static_cast<size_t>(rank)] = error;
      --pending_;
    }
    done_.notify_one();
  }
}

void RankThreads::run(const std::function<void(int)>& fn) {
  {
    std::lock_guard lock(mu_);
    job_ = &fn;
    pending_ = ranks_ - 1;
    for (auto& e : errors_) e = nullptr;
    ++generation_;
  }
  start_.notify_all();
  std::exception_ptr mine;
  try {
    fn(0);
  } catch (...) {
    mine = std::current_exception();
  }
  std::unique_lock lock(mu_);
  done_.wait(lock, [&] { return pending_ == 0; });
  job_ = nullptr;
  errors_[0] = mine;
  std::exception_ptr consequence;
  for (const std::exception_ptr& e : errors_) {
    if (!e) continue;
    try {
      std::rethrow_exception(e);
    } catch (const BarrierAborted&) {
      if (!consequence) consequence = e;
    } catch (...) {
      throw;  // the lowest rank's own failure
    }
  }
  if (consequence) std::rethrow_exception(consequence);
}

}  // namespace qwen3
