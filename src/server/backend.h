// What the HTTP layer needs from the engine, as a narrow interface: the real
// AsyncEngine in production, a scripted fake in tests (tests/server/).
#pragma once

#include <cstdint>
#include <memory>

#include "engine/async_engine.h"

namespace qwen3::server {

class GenerationBackend {
 public:
  virtual ~GenerationBackend() = default;
  // AsyncEngine::submit's contract: validates, queues, throws Error; `on_output` runs on
  // the engine thread, in order, the last call with finished = true.
  virtual uint64_t submit(EngineRequest request, OutputFn on_output) = 0;
  virtual void abort(uint64_t request_id) = 0;
  virtual EngineStats stats() const = 0;
  // drain: finish everything accepted, then stop; blocks until stopped.
  virtual void shutdown(bool drain) = 0;
};

std::unique_ptr<GenerationBackend> make_engine_backend(std::unique_ptr<AsyncEngine> engine);

}  // namespace qwen3::server
