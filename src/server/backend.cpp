#include "server/backend.h"

namespace qwen3::server {
namespace {

class EngineBackend final : public GenerationBackend {
 public:
  explicit EngineBackend(std::unique_ptr<AsyncEngine> engine) : engine_(std::move(engine)) {}
  uint64_t submit(EngineRequest request, OutputFn on_output) override {
    return engine_->submit(std::move(request), std::move(on_output));
  }
  void abort(uint64_t request_id) override { engine_->abort(request_id); }
  EngineStats stats() const override { return engine_->stats(); }
  void shutdown(bool drain) override { engine_->shutdown(drain); }

 private:
  std::unique_ptr<AsyncEngine> engine_;
};

}  // namespace

std::unique_ptr<GenerationBackend> make_engine_backend(std::unique_ptr<AsyncEngine> engine) {
  return std::make_unique<EngineBackend>(std::move(engine));
}

}  // namespace qwen3::server
