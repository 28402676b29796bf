// The OpenAI streaming wire format as `qwen3 bench serve` speaks it: request bodies for
// /v1/completions and /v1/chat/completions, and the meaning of each SSE `data:` chunk.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qwen3::bench {

class HttpClient;

enum class ApiKind { kCompletions, kChat };

// "/v1/chat/completions" (any path ending in "chat/completions") -> kChat; otherwise
// kCompletions.
ApiKind api_kind_for_endpoint(std::string_view endpoint);
const char* api_kind_backend_name(ApiKind kind);  // "openai", "openai-chat" (vLLM's names)

struct RequestSpec {
  ApiKind api = ApiKind::kCompletions;
  std::string model;
  bool ignore_eos = false;  // sent as vLLM's extension field "ignore_eos"
};

// Greedy (temperature 0), stream: true, stream_options.include_usage: true; chat sends one
// user message.
std::string build_request_body(const RequestSpec& spec, std::string_view prompt,
                               int64_t max_tokens);

// What one `data:` payload carried.
struct StreamChunk {
  bool done = false;  // the "[DONE]" sentinel
  std::string text;   // generated text: completions `text`; chat content, reasoning
                      // and tool-call deltas
  std::optional<int64_t> completion_tokens;  // from `usage`, when present
  std::optional<int64_t> prompt_tokens;
  std::string error;  // non-empty: an error object in the stream, or a payload not JSON
};

StreamChunk parse_stream_chunk(ApiKind api, std::string_view data);

// The model to name in requests: `flag`, else the first id of GET /v1/models. Also the
// reachability check: connection refused throws Error(kUnavailable) naming the URL.
std::string resolve_served_model(HttpClient& client, const std::string& flag);

}  // namespace qwen3::bench
