// POST /v1/completions, /v1/chat/completions, /tokenize and /detokenize: request JSON ->
// prompt token ids -> engine requests -> a GenerationJob writing the response.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "server/generation_job.h"
#include "server/server_state.h"

namespace qwen3::server {

struct HandlerEnv {
  ServerState& state;
  ServedModel& model;
  std::shared_ptr<ResponseSink> sink;
  PostFn post;  // runs a task on the connection's executor
};

// Each throws ApiError for bad input (nothing written then); on success the job owns
// the response.
std::shared_ptr<GenerationJob> handle_completions(const HandlerEnv& env, std::string_view body);
std::shared_ptr<GenerationJob> handle_chat(const HandlerEnv& env, std::string_view body);
void handle_tokenize(const HandlerEnv& env, std::string_view body);
void handle_detokenize(const HandlerEnv& env, std::string_view body);

// The chat template applied as transformers' apply_chat_template does; with
// continue_final_message the prompt ends right after the last (assistant) message's text.
std::string render_chat_prompt(const ServedModel& model, const Json& messages, const Json& tools,
                               bool add_generation_prompt, bool continue_final_message,
                               const Json& kwargs);

// 404 model_not_found unless `name` is empty or one of the served names.
void check_model_name(const ServerState& state, const std::string& name);

}  // namespace qwen3::server
