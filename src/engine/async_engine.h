// The thread-safe face of the engine: a background thread runs the step loop
// (schedule -> run -> sample -> detokenize) and calls each request's callback with its
// deltas. The server and the CLI submit here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "engine/engine_types.h"
#include "model/config.h"
#include "sched/batch.h"

namespace qwen3 {
namespace text {
class Tokenizer;
}

class Engine;

// Called on the engine thread with each RequestOutput, in order; the last one has
// finished = true. Must not block (post the work elsewhere) and must not throw.
using OutputFn = std::function<void(RequestOutput)>;

class AsyncEngine {
 public:
  // tokenizer may be null: then outputs carry token ids only and stop strings are refused.
  AsyncEngine(const EngineConfig& config, std::unique_ptr<ModelRunner> runner,
              const text::Tokenizer* tokenizer, const ModelConfig& model);
  ~AsyncEngine();  // shutdown(false)

  // Validates and queues. Throws Error: kInvalidArgument (bad parameter),
  // kContextLength (prompt + max_tokens over max_model_len or the KV pool; the message
  // has the numbers), kOverloaded (queue full), kUnavailable (shutting down).
  uint64_t submit(EngineRequest request, OutputFn on_output);
  // Stops the request and frees its KV blocks at the next step; its callback gets a
  // final output with FinishReason::kAbort. Unknown or finished ids are ignored.
  void abort(uint64_t request_id);

  EngineStats stats() const;
  const EngineConfig& config() const;  // max_model_len resolved
  // drain = true: stop accepting, finish what is queued/running, then stop the thread.
  // drain = false: abort everything, then stop.
  void shutdown(bool drain);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Aborts its request when destroyed unless release()d: a client that goes away
// frees its KV blocks (RAII, like llama.cpp's server_response_reader).
class RequestGuard {
 public:
  RequestGuard() = default;
  RequestGuard(AsyncEngine* engine, uint64_t id) : engine_(engine), id_(id) {}
  RequestGuard(RequestGuard&& o) noexcept : engine_(o.engine_), id_(o.id_) { o.engine_ = nullptr; }
  RequestGuard& operator=(RequestGuard&& o) noexcept {
    reset();
    engine_ = o.engine_;
    id_ = o.id_;
    o.engine_ = nullptr;
    return *this;
  }
  ~RequestGuard() { reset(); }
  void release() { engine_ = nullptr; }
  uint64_t id() const { return id_; }

 private:
  void reset() {
    if (engine_ != nullptr) engine_->abort(id_);
    engine_ = nullptr;
  }
  AsyncEngine* engine_ = nullptr;
  uint64_t id_ = 0;
};

}  // namespace qwen3
