// What every connection shares: options, metrics, the serving phase and, once loaded,
// the model. The model is published before the phase turns kServing (release/acquire)
// and never changes afterwards, so handlers read it without locks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/config.h"
#include "server/backend.h"
#include "server/metrics.h"
#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::server {

struct ServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8000;
  std::string api_key;                               // empty: no authentication
  std::vector<std::string> served_model_names;       // reported names; [0] in responses
  size_t max_body_bytes = 16u << 20;                 // larger bodies get 413
  std::chrono::milliseconds request_timeout{30000};  // read a whole request / keep-alive idle
  std::chrono::milliseconds write_timeout{60000};    // a client that stops reading
  int http_threads = 2;
};

// The loaded model as handlers see it. Members are destroyed bottom-up: the backend
// (engine thread) before the weights it runs on.
struct ServedModel {
  std::shared_ptr<const void> owned;  // weights and whatever else the backend borrows
  std::string root;                   // model folder
  std::shared_ptr<const text::Tokenizer> tokenizer;
  std::optional<ChatTemplate> chat_template;  // none: chat requests are refused (400)
  GenerationConfig generation;
  int64_t max_model_len = 0;
  int64_t vocab_size = 0;
  int64_t created = 0;  // unix seconds, for /v1/models
  std::unique_ptr<GenerationBackend> backend;
};

enum class ServerPhase { kLoading, kServing, kDraining, kFailed };

struct ServerState {
  explicit ServerState(ServerOptions o) : options(std::move(o)) {}

  const ServerOptions options;
  ServerMetrics metrics;
  std::atomic<ServerPhase> phase{ServerPhase::kLoading};
  std::shared_ptr<ServedModel> model;  // set once, before phase = kServing
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> active_jobs{0};

  const std::string& model_name() const { return options.served_model_names.front(); }
  // The model, or null while loading / after a failed load.
  ServedModel* serving_model() const {
    const ServerPhase p = phase.load(std::memory_order_acquire);
    return p == ServerPhase::kServing || p == ServerPhase::kDraining ? model.get() : nullptr;
  }
};

}  // namespace qwen3::server
