#include "engine/async_engine.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "engine/engine.h"

namespace qwen3 {

struct AsyncEngine::State {
  std::unique_ptr<ModelRunner> runner;
  std::unique_ptr<Engine> engine;

  mutable std::mutex mu;
  std::condition_variable cv;  // work arrived / engine went idle
  std::deque<std::pair<uint64_t, EngineRequest>> submitted;
  std::vector<uint64_t> aborts;
  std::unordered_map<uint64_t, OutputFn> callbacks;  // id -> callback
  uint64_t next_id = 1;
  int64_t queued = 0;  // submitted + engine's waiting, refreshed each step
  bool accepting = true;
  bool stop = false;
  bool drain = false;
  bool idle = true;
  EngineStats stats;
  std::thread thread;

  void run();
  void deliver(std::vector<RequestOutput>& outs);
  bool take_work(std::deque<std::pair<uint64_t, EngineRequest>>& reqs, std::vector<uint64_t>& ab);
};

AsyncEngine::AsyncEngine(const EngineConfig& config, std::unique_ptr<ModelRunner> runner,
                         const text::Tokenizer* tokenizer, const ModelConfig& model)
    : state_(std::make_unique<State>()) {
  state_->runner = std::move(runner);
  state_->engine = std::make_unique<Engine>(config, model, *state_->runner, tokenizer);
  state_->stats = state_->engine->stats();
  state_->thread = std::thread([s = state_.get()] { s->run(); });
}

AsyncEngine::~AsyncEngine() { shutdown(false); }

const EngineConfig& AsyncEngine::config() const { return state_->engine->config(); }

uint64_t AsyncEngine::submit(EngineRequest request, OutputFn on_output) {
  state_->engine->validate(request);  // immutable state only
  std::lock_guard lock(state_->mu);
  if (!state_->accepting) {
    QWEN3_THROW(ErrorCode::kUnavailable, "the server is shutting down");
  }
  if (state_->queued >= state_->engine->config().max_queued_requests) {
    ++state_->stats.requests_rejected_total;
    QWEN3_THROW(ErrorCode::kOverloaded,
                "too many requests waiting ({}, --max-queued-requests); retry later",
                state_->queued);
  }
  const uint64_t id = state_->next_id++;
  state_->callbacks.emplace(id, std::move(on_output));
  state_->submitted.emplace_back(id, std::move(request));
  ++state_->queued;
  state_->cv.notify_all();
  return id;
}

void AsyncEngine::abort(uint64_t request_id) {
  std::lock_guard lock(state_->mu);
  state_->aborts.push_back(request_id);
  state_->cv.notify_all();
}

EngineStats AsyncEngine::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

void AsyncEngine::shutdown(bool drain) {
  {
    std::lock_guard lock(state_->mu);
    if (!state_->thread.joinable()) return;
    state_->accepting = false;
    state_->stop = true;
    state_->drain = drain;
    state_->cv.notify_all();
  }
  state_->thread.join();
}

bool AsyncEngine::State::take_work(std::deque<std::pair<uint64_t, EngineRequest>>& reqs,
                                   std::vector<uint64_t>& ab) {
  std::unique_lock lock(mu);
  idle = !engine->has_work();
  cv.notify_all();
  cv.wait(lock,
          [&] { return !submitted.empty() || !aborts.empty() || engine->has_work() || stop; });
  if (stop && !drain) {
    // Abort everything still known, queued or running.
    for (auto& [id, r] : submitted) aborts.push_back(id);
    for (const auto& [id, fn] : callbacks) aborts.push_back(id);
  }
  reqs.swap(submitted);
  ab.swap(aborts);
  queued = stats.waiting;  // the taken requests are counted again after the step
  idle = false;
  return !(stop && reqs.empty() && ab.empty() && !engine->has_work());
}

void AsyncEngine::State::deliver(std::vector<RequestOutput>& outs) {
  for (RequestOutput& o : outs) {
    OutputFn fn;
    {
      std::lock_guard lock(mu);
      auto it = callbacks.find(o.request_id);
      if (it == callbacks.end()) continue;
      fn = o.finished ? std::move(it->second) : it->second;
      if (o.finished) callbacks.erase(it);
    }
    if (fn) fn(std::move(o));
  }
}

void AsyncEngine::State::run() {
  std::deque<std::pair<uint64_t, EngineRequest>> reqs;
  std::vector<uint64_t> ab;
  while (take_work(reqs, ab)) {
    std::vector<RequestOutput> outs;
    for (auto& [id, r] : reqs) {
      if (stop && !drain) {
        RequestOutput o;
        o.request_id = id;
        o.finished = true;
        o.choices.emplace_back().finish_reason = FinishReason::kAbort;
        outs.push_back(std::move(o));
        continue;
      }
      engine->add(id, std::move(r));
    }
    reqs.clear();
    for (uint64_t id : ab) {
      if (auto o = engine->abort(id)) outs.push_back(std::move(*o));
    }
    ab.clear();
    try {
      if (engine->has_work()) {
        auto step_outs = engine->step();
        for (auto& o : step_outs) outs.push_back(std::move(o));
      }
    } catch (const Error& e) {
      for (auto& o : engine->fail_all(e)) outs.push_back(std::move(o));
    } catch (const std::exception& e) {
      for (auto& o : engine->fail_all(Error(ErrorCode::kInternal, e.what()))) {
        outs.push_back(std::move(o));
      }
    }
    {
      std::lock_guard lock(mu);
      EngineStats s = engine->stats();
      s.requests_rejected_total = stats.requests_rejected_total;
      stats = s;
      queued = static_cast<int64_t>(submitted.size()) + s.waiting;
    }
    deliver(outs);
  }
}

}  // namespace qwen3
