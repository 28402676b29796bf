// `qwen3 serve`: the HTTP server's lifecycle. It listens first and answers /health with
// 503 while the model loads in the background, then serves; SIGINT/SIGTERM stop
// accepting, let the engine finish what it accepted, write the last responses, and exit
// (a second signal aborts what is left).
#pragma once

#include <functional>
#include <memory>

#include "server/server_state.h"

namespace qwen3::server {

// Builds the served model (weights, tokenizer, template, engine); runs on its own thread.
// Throws Error to report a failed load (the server then exits with that error).
using ModelLoader = std::function<std::shared_ptr<ServedModel>()>;

// Serves until a signal; returns the process exit code. Throws Error(kIo) when it cannot
// listen on the address.
int run_server(const ServerOptions& options, const ModelLoader& load);

// "qwen3 serve: " + message on stderr, with a timestamp.
void log_line(std::string_view message);

}  // namespace qwen3::server
