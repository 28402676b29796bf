// Request bodies of /v1/completions and /v1/chat/completions, parsed and validated into
// plain structs. Every malformed field is a 400 naming it (ApiError); what depends on
// the model (prompt length, token ids in the vocabulary) is checked later, when the
// request is tokenized.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sched/sampling_params.h"
#include "server/json_fields.h"

namespace qwen3::server {

struct StreamOptions {
  bool include_usage = false;           // a last chunk with usage and no choices
  bool continuous_usage_stats = false;  // usage in every chunk (vLLM extension)
};

// Fields both endpoints share.
struct GenerationRequest {
  std::string model;   // "" = the served model
  std::string preset;  // sampling preset extension: math, code, creative, summarize
  SamplingOverrides sampling;
  bool stream = false;
  StreamOptions stream_options;
  int64_t priority = 0;  // vLLM extension; lower runs first
};

// One prompt of a completion request: text, or token ids when is_ids.
struct PromptInput {
  std::string text;
  std::vector<int32_t> ids;
  bool is_ids = false;
};

struct CompletionRequest {
  GenerationRequest common;
  std::vector<PromptInput> prompts;  // a batch: choices index = prompt * n + i
  bool echo = false;                 // prepend the prompt to each choice's text
};

enum class ToolChoice { kAuto, kNone, kRequired, kNamed };

struct ChatRequest {
  GenerationRequest common;
  Json messages;  // array of {role, content, ...}; "developer" is passed on as "system"
  Json tools;     // array of {"type":"function","function":{...}}, or null
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_name;      // kNamed: the function to call
  Json chat_template_kwargs;  // object or null, e.g. {"enable_thinking": false}
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool include_reasoning = true;
  bool logprobs = false;
};

// Limits that keep a single request from taking the server down.
inline constexpr int64_t kMaxN = 128;
inline constexpr int64_t kMaxLogprobs = 20;
inline constexpr size_t kMaxStop = 16;
inline constexpr size_t kMaxBatchPrompts = 256;

CompletionRequest parse_completion_request(const Json& body);
ChatRequest parse_chat_request(const Json& body);

}  // namespace qwen3::server
