#include "server/openai_handlers.h"

#include <fmt/core.h>

#include <algorithm>

#include "server/chat_job.h"
#include "server/completion_job.h"

namespace qwen3::server {
namespace {

JobContext job_context(const HandlerEnv& env) {
  return {env.model.backend.get(), env.model.tokenizer.get(), &env.state.metrics};
}

ResponseMeta response_meta(const HandlerEnv& env, std::string_view prefix) {
  return {make_request_id(prefix), unix_now(), env.state.model_name()};
}

void check_prompt_ids(const ServedModel& m, const std::vector<int32_t>& ids,
                      std::string_view param) {
  if (ids.empty()) throw bad_request(std::string(param), "the prompt is empty after tokenization");
  for (const int32_t id : ids) {
    if (id >= m.vocab_size) {
      throw bad_request(
          std::string(param),
          fmt::format("token id {} is outside the vocabulary [0, {})", id, m.vocab_size));
    }
  }
}

// Layers generation_config.json < preset < request, then fits max_tokens to the context:
// an explicit max_tokens that does not fit is a 400 with the numbers (never truncated);
// without one, chat gets the rest of the context and completions 16 tokens (OpenAI's
// default), both capped by the context.
SamplingParams sampling_for(const ServedModel& m, const GenerationRequest& r, int64_t prompt_len,
                            bool chat, std::string_view prompt_param) {
  SamplingParams p;
  try {
    p = resolve_sampling(m.generation, r.preset, r.sampling);
  } catch (const Error& e) {
    throw api_error_from(e, "preset");
  }
  const int64_t limit = m.max_model_len;
  if (prompt_len >= limit) {
    throw ApiError(400, "invalid_request_error", "context_length_exceeded",
                   fmt::format("This model's maximum context length is {} tokens. However, your "
                               "request has {} input tokens. Please reduce the length of the "
                               "input.",
                               limit, prompt_len),
                   std::string(prompt_param));
  }
  if (r.sampling.max_tokens) {
    if (prompt_len + p.max_tokens > limit) {
      throw ApiError(400, "invalid_request_error", "context_length_exceeded",
                     fmt::format("This model's maximum context length is {} tokens. However, you "
                                 "requested {} tokens ({} in the input, {} in the completion). "
                                 "Please reduce the length of the input or completion.",
                                 limit, prompt_len + p.max_tokens, prompt_len, p.max_tokens),
                     chat ? "max_completion_tokens" : "max_tokens");
    }
  } else {
    p.max_tokens = chat ? limit - prompt_len : std::min<int64_t>(16, limit - prompt_len);
  }
  return p;
}

std::string forced_tool_prefix(const ChatRequest& r, ReasoningMode mode) {
  std::string prefix;
  if (r.tool_choice == ToolChoice::kRequired) {
    prefix = "<tool_call>\n{\"name\": \"";
  } else if (r.tool_choice == ToolChoice::kNamed) {
    prefix = "<tool_call>\n{\"name\": " + Json(r.tool_name).dump() + ", \"arguments\": ";
  } else {
    return "";
  }
  // A prompt that opened <think> is closed first: a forced call skips the reasoning.
  return mode == ReasoningMode::kOpen ? "</think>\n\n" + prefix : prefix;
}

}  // namespace

void check_model_name(const ServerState& state, const std::string& name) {
  const auto& names = state.options.served_model_names;
  if (name.empty() || std::find(names.begin(), names.end(), name) != names.end()) return;
  ApiError e = not_found(fmt::format("The model `{}` does not exist.", name), "model_not_found");
  throw ApiError(e.status(), e.type(), e.code(), e.what(), "model");
}

std::string render_chat_prompt(const ServedModel& m, const Json& messages, const Json& tools,
                               bool add_generation_prompt, bool continue_final_message,
                               const Json& kwargs) {
  if (!m.chat_template) {
    throw bad_request("messages",
                      "this model has no chat template; start the server with --chat-template");
  }
  std::string prompt;
  try {
    prompt = m.chat_template->render(messages, tools, add_generation_prompt, kwargs);
  } catch (const Error& e) {
    throw api_error_from(e, "messages");
  }
  if (!continue_final_message) return prompt;
  const Json& last = messages.back();
  const Json content = last.contains("content") ? last["content"] : Json();
  if (last.value("role", "") != "assistant" || !content.is_string() ||
      content.get<std::string>().empty()) {
    throw bad_request("continue_final_message",
                      "'continue_final_message' needs a final assistant message with text");
  }
  const size_t at = prompt.rfind(content.get<std::string>());
  if (at == std::string::npos) {
    throw bad_request("continue_final_message",
                      "the chat template does not reproduce the final message's text");
  }
  return prompt.substr(0, at + content.get<std::string>().size());
}

std::shared_ptr<GenerationJob> handle_completions(const HandlerEnv& env, std::string_view body) {
  const CompletionRequest r = parse_completion_request(parse_json_body(body));
  check_model_name(env.state, r.common.model);
  const ServedModel& m = env.model;
  std::vector<EngineRequest> requests;
  std::vector<std::string> echoes;
  for (const PromptInput& prompt : r.prompts) {
    EngineRequest e;
    e.prompt = prompt.is_ids ? prompt.ids : m.tokenizer->encode(prompt.text);
    check_prompt_ids(m, e.prompt, "prompt");
    e.params = sampling_for(m, r.common, static_cast<int64_t>(e.prompt.size()), false, "prompt");
    e.priority = r.common.priority;
    echoes.push_back(!r.echo ? "" : prompt.is_ids ? m.tokenizer->decode(prompt.ids) : prompt.text);
    requests.push_back(std::move(e));
  }
  auto job =
      std::make_shared<CompletionJob>(job_context(env), response_meta(env, "cmpl"), r,
                                      std::move(echoes), r.common.sampling.n.value_or(1), env.sink);
  job->start(std::move(requests), env.post);
  return job;
}

std::shared_ptr<GenerationJob> handle_chat(const HandlerEnv& env, std::string_view body) {
  const ChatRequest r = parse_chat_request(parse_json_body(body));
  check_model_name(env.state, r.common.model);
  const ServedModel& m = env.model;
  const bool tools_on = !r.tools.is_null() && r.tool_choice != ToolChoice::kNone;
  std::string prompt =
      render_chat_prompt(m, r.messages, tools_on ? r.tools : Json(), r.add_generation_prompt,
                         r.continue_final_message, r.chat_template_kwargs);
  ChatJobOptions o;
  o.reasoning = reasoning_mode_of_prompt(prompt);
  o.parse_tool_calls = tools_on;
  o.include_reasoning = r.include_reasoning;
  o.logprobs = r.logprobs;
  o.named_tool_choice = r.tool_choice == ToolChoice::kNamed;
  o.forced_prefix = forced_tool_prefix(r, o.reasoning);
  prompt += o.forced_prefix;
  EngineRequest e;
  e.prompt = m.tokenizer->encode(prompt);
  check_prompt_ids(m, e.prompt, "messages");
  e.params = sampling_for(m, r.common, static_cast<int64_t>(e.prompt.size()), true, "messages");
  e.priority = r.common.priority;
  auto job = std::make_shared<ChatJob>(job_context(env), response_meta(env, "chatcmpl"), r,
                                       std::move(o), env.sink);
  std::vector<EngineRequest> requests;
  requests.push_back(std::move(e));
  job->start(std::move(requests), env.post);
  return job;
}

}  // namespace qwen3::server
