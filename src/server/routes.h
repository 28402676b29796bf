// Request routing: method + path -> handler, API-key check, serving-phase gates, and the
// mapping of every failure to an OpenAI-shaped error response.
#pragma once

#include <memory>
#include <string>

#include "server/generation_job.h"
#include "server/server_state.h"

namespace qwen3::server {

// One parsed HTTP request, as the router needs it.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path with optional query
  std::string authorization;
  std::string body;
};

// Answers `request` on `sink`. Returns the job when the response continues
// asynchronously (the connection cancels it if the client goes away), else null: the
// response was written before returning. Never throws for bad input.
std::shared_ptr<GenerationJob> route_request(ServerState& state, const HttpRequest& request,
                                             std::shared_ptr<ResponseSink> sink, PostFn post);

}  // namespace qwen3::server
