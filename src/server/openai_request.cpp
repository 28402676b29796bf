#include "server/openai_request.h"

#include <fmt/core.h>

#include <charconv>
#include <limits>

namespace qwen3::server {
namespace {

std::vector<std::string> parse_stop(const Json& body) {
  const Json* v = opt_field(body, "stop");
  std::vector<std::string> out;
  if (v == nullptr) return out;
  if (v->is_string()) {
    out.push_back(v->get<std::string>());
  } else if (v->is_array()) {
    if (v->size() > kMaxStop) {
      throw bad_request("stop", fmt::format("'stop' may hold at most {} strings", kMaxStop));
    }
    for (const Json& s : *v) {
      if (!s.is_string()) throw bad_request("stop", "'stop' must be a string or a list of strings");
      out.push_back(s.get<std::string>());
    }
  } else {
    throw bad_request("stop", "'stop' must be a string or a list of strings");
  }
  for (const std::string& s : out) {
    if (s.empty()) throw bad_request("stop", "'stop' strings must not be empty");
  }
  return out;
}

std::vector<int64_t> parse_int_list(const Json& body, std::string_view key) {
  const Json* v = opt_field(body, key);
  std::vector<int64_t> out;
  if (v == nullptr) return out;
  if (!v->is_array()) throw bad_request(std::string(key), fmt::format("'{}' must be a list", key));
  for (const Json& x : *v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0) {
      throw bad_request(std::string(key), fmt::format("'{}' must hold non-negative integers", key));
    }
    out.push_back(x.get<int64_t>());
  }
  return out;
}

std::vector<std::pair<int32_t, float>> parse_logit_bias(const Json& v) {
  if (!v.is_object()) throw bad_request("logit_bias", "'logit_bias' must be an object");
  std::vector<std::pair<int32_t, float>> out;
  for (const auto& [key, bias] : v.items()) {
    int64_t id = -1;
    const auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || p != key.data() + key.size() || id < 0 ||
        id > std::numeric_limits<int32_t>::max()) {
      throw bad_request("logit_bias",
                        fmt::format("'logit_bias' keys must be token ids, got '{}'", key));
    }
    if (!bias.is_number() || bias.get<double>() < -100 || bias.get<double>() > 100) {
      throw bad_request("logit_bias", "'logit_bias' values must be numbers in [-100, 100]");
    }
    out.emplace_back(static_cast<int32_t>(id), bias.get<float>());
  }
  return out;
}

// Fields that would change the result and that we do not implement: refused, not ignored.
void refuse_unsupported(const Json& body) {
  for (const char* key :
       {"functions", "function_call", "guided_json", "guided_regex", "guided_choice",
        "guided_grammar", "structured_outputs", "prompt_logprobs", "chat_template", "suffix"}) {
    const Json* v = opt_field(body, key);
    if (v != nullptr && !(v->is_string() && v->get<std::string>().empty())) {
      throw unsupported(key, fmt::format("'{}' is not supported by this server", key));
    }
  }
  if (opt_bool(body, "use_beam_search").value_or(false)) {
    throw unsupported("use_beam_search", "beam search is not supported");
  }
  if (const Json* rf = opt_field(body, "response_format")) {
    const std::string type = rf->is_object() && rf->contains("type") && (*rf)["type"].is_string()
                                 ? (*rf)["type"].get<std::string>()
                                 : "";
    if (type == "json_object" || type == "json_schema") {
      throw unsupported("response_format",
                        fmt::format("response_format type '{}' is not supported: this server has "
                                    "no constrained decoding (ask for JSON in the prompt instead)",
                                    type));
    }
    if (type != "text") {
      throw bad_request("response_format",
                        "'response_format' must be an object with type 'text', 'json_object' "
                        "or 'json_schema'");
    }
  }
}

void parse_stream(const Json& body, GenerationRequest& r) {
  r.stream = opt_bool(body, "stream").value_or(false);
  const Json* so = opt_field(body, "stream_options");
  if (so == nullptr) return;
  if (!so->is_object()) throw bad_request("stream_options", "'stream_options' must be an object");
  if (!r.stream) throw bad_request("stream_options", "'stream_options' needs 'stream': true");
  r.stream_options.include_usage = opt_bool(*so, "include_usage").value_or(false);
  r.stream_options.continuous_usage_stats = opt_bool(*so, "continuous_usage_stats").value_or(false);
}

void parse_sampling(const Json& body, SamplingOverrides& s) {
  if (auto v = opt_number(body, "temperature"))
    s.temperature = check_range("temperature", *v, 0, 2);
  if (auto v = opt_number(body, "top_p")) s.top_p = check_range("top_p", *v, 1e-9, 1);
  if (auto v = opt_int(body, "top_k")) s.top_k = check_range("top_k", *v, -1, 1 << 20);
  if (auto v = opt_number(body, "min_p")) s.min_p = check_range("min_p", *v, 0, 1);
  if (auto v = opt_number(body, "repetition_penalty")) {
    s.repetition_penalty = check_range("repetition_penalty", *v, 1e-6, 1e6);
  }
  if (auto v = opt_number(body, "presence_penalty")) {
    s.presence_penalty = check_range("presence_penalty", *v, -2, 2);
  }
  if (auto v = opt_number(body, "frequency_penalty")) {
    s.frequency_penalty = check_range("frequency_penalty", *v, -2, 2);
  }
  if (const Json* v = opt_field(body, "logit_bias")) s.logit_bias = parse_logit_bias(*v);
  if (auto v = opt_int(body, "seed")) s.seed = static_cast<uint64_t>(*v);
  if (opt_field(body, "stop") != nullptr) s.stop = parse_stop(body);
  if (opt_field(body, "stop_token_ids") != nullptr) {
    s.stop_token_ids = parse_int_list(body, "stop_token_ids");
  }
  if (auto v = opt_bool(body, "ignore_eos")) s.ignore_eos = *v;
  if (auto v = opt_int(body, "min_tokens"))
    s.min_tokens = check_range("min_tokens", *v, 0, 1 << 30);
  if (auto v = opt_int(body, "n")) s.n = check_range("n", *v, 1, kMaxN);
  if (auto v = opt_int(body, "best_of"); v && *v != s.n.value_or(1)) {
    throw unsupported("best_of", "'best_of' different from 'n' is not supported");
  }
  if (auto v = opt_bool(body, "skip_special_tokens")) s.skip_special_tokens = *v;
  if (auto v = opt_bool(body, "include_stop_str_in_output")) s.include_stop_str_in_output = *v;
}

GenerationRequest parse_common(const Json& body, const char* max_tokens_key) {
  refuse_unsupported(body);
  GenerationRequest r;
  r.model = opt_string(body, "model").value_or("");
  r.preset = opt_string(body, "preset").value_or("");
  parse_sampling(body, r.sampling);
  if (auto v = opt_int(body, max_tokens_key)) {
    r.sampling.max_tokens = check_range(max_tokens_key, *v, 1, std::numeric_limits<int32_t>::max());
  }
  parse_stream(body, r);
  if (auto v = opt_int(body, "priority")) r.priority = *v;
  return r;
}

std::vector<int32_t> token_ids(const Json& v) {
  std::vector<int32_t> ids;
  for (const Json& x : v) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
        x.get<int64_t>() > std::numeric_limits<int32_t>::max()) {
      throw bad_request("prompt", "token id prompts must hold non-negative integers");
    }
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
  }
  return ids;
}

PromptInput one_prompt(const Json& v) {
  PromptInput p;
  if (v.is_string()) {
    p.text = v.get<std::string>();
    if (p.text.empty()) throw bad_request("prompt", "'prompt' must not be empty");
  } else if (v.is_array() && !v.empty() && v.front().is_number()) {
    p.ids = token_ids(v);
    p.is_ids = true;
  } else {
    throw bad_request("prompt",
                      "'prompt' must be a string, a list of strings, a list of token ids or a "
                      "list of token id lists, none empty");
  }
  return p;
}

void check_content(const Json& content, size_t i, bool may_be_null) {
  const std::string param = fmt::format("messages[{}].content", i);
  if (content.is_null()) {
    if (!may_be_null) throw bad_request(param, fmt::format("'{}' is required", param));
    return;
  }
  if (content.is_string()) return;
  if (!content.is_array()) {
    throw bad_request(param, fmt::format("'{}' must be a string or a list of parts", param));
  }
  for (const Json& part : content) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text") {
      throw unsupported(param, "only text content parts ({\"type\": \"text\"}) are supported");
    }
    if (!part.contains("text") || !part["text"].is_string()) {
      throw bad_request(param, "a text part needs a string 'text'");
    }
  }
}

void check_tool_calls(const Json& calls, size_t i) {
  const std::string param = fmt::format("messages[{}].tool_calls", i);
  if (!calls.is_array()) throw bad_request(param, fmt::format("'{}' must be a list", param));
  for (const Json& c : calls) {
    const Json* f = c.is_object() ? opt_field(c, "function") : nullptr;
    if (f == nullptr || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
      throw bad_request(param, "each tool call needs a 'function' with a string 'name'");
    }
  }
}

Json parse_messages(const Json& body) {
  const Json* v = opt_field(body, "messages");
  if (v == nullptr) throw bad_request("messages", "'messages' is required");
  if (!v->is_array() || v->empty()) {
    throw bad_request("messages", "'messages' must be a non-empty list");
  }
  Json messages = *v;
  for (size_t i = 0; i < messages.size(); ++i) {
    Json& m = messages[i];
    const std::string param = fmt::format("messages[{}]", i);
    if (!m.is_object()) throw bad_request(param, fmt::format("'{}' must be an object", param));
    const std::optional<std::string> role = opt_string(m, "role");
    if (!role) throw bad_request(param + ".role", fmt::format("'{}.role' is required", param));
    if (*role == "developer") m["role"] = "system";
    if (*role != "system" && *role != "developer" && *role != "user" && *role != "assistant" &&
        *role != "tool") {
      throw bad_request(param + ".role",
                        fmt::format("'{}.role' must be system, developer, user, assistant or "
                                    "tool, got '{}'",
                                    param, *role));
    }
    const bool has_calls = opt_field(m, "tool_calls") != nullptr;
    if (has_calls) check_tool_calls(m["tool_calls"], i);
    check_content(m.contains("content") ? m["content"] : Json(), i,
                  *role == "assistant" && (has_calls || i + 1 == messages.size()));
  }
  return messages;
}

Json parse_tools(const Json& body) {
  const Json* v = opt_field(body, "tools");
  if (v == nullptr) return nullptr;
  if (!v->is_array()) throw bad_request("tools", "'tools' must be a list");
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& t = (*v)[i];
    const Json* f = t.is_object() ? opt_field(t, "function") : nullptr;
    const bool ok = t.is_object() && t.value("type", "") == "function" && f != nullptr &&
                    f->is_object() && f->contains("name") && (*f)["name"].is_string() &&
                    !(*f)["name"].get<std::string>().empty();
    if (!ok) {
      throw bad_request(
          fmt::format("tools[{}]", i),
          "each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }
    if (const Json* p = opt_field(*f, "parameters"); p != nullptr && !p->is_object()) {
      throw bad_request(fmt::format("tools[{}].function.parameters", i),
                        "'parameters' must be a JSON Schema object");
    }
  }
  return v->empty() ? Json() : *v;
}

void parse_tool_choice(const Json& body, ChatRequest& r) {
  const Json* v = opt_field(body, "tool_choice");
  if (v == nullptr) return;
  if (v->is_string()) {
    const std::string s = v->get<std::string>();
    if (s == "auto")
      r.tool_choice = ToolChoice::kAuto;
    else if (s == "none")
      r.tool_choice = ToolChoice::kNone;
    else if (s == "required")
      r.tool_choice = ToolChoice::kRequired;
    else
      throw bad_request("tool_choice", "'tool_choice' must be auto, none, required or an object");
  } else {
    const Json* f = v->is_object() ? opt_field(*v, "function") : nullptr;
    if (f == nullptr || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string()) {
      throw bad_request("tool_choice",
                        "a named 'tool_choice' is {\"type\": \"function\", \"function\": "
                        "{\"name\": ...}}");
    }
    r.tool_choice = ToolChoice::kNamed;
    r.tool_name = (*f)["name"].get<std::string>();
  }
  if (r.tool_choice == ToolChoice::kAuto || r.tool_choice == ToolChoice::kNone) return;
  if (r.tools.is_null()) {
    throw bad_request("tool_choice", "'tool_choice' required or named needs 'tools'");
  }
  if (r.tool_choice == ToolChoice::kNamed) {
    for (const Json& t : r.tools) {
      if (t["function"]["name"] == r.tool_name) return;
    }
    throw bad_request("tool_choice", fmt::format("no tool named '{}' in 'tools'", r.tool_name));
  }
}

}  // namespace

CompletionRequest parse_completion_request(const Json& body) {
  CompletionRequest r;
  r.common = parse_common(body, "max_tokens");
  const Json* prompt = opt_field(body, "prompt");
  if (prompt == nullptr) throw bad_request("prompt", "'prompt' is required");
  if (prompt->is_array() && !prompt->empty() && !prompt->front().is_number()) {
    if (prompt->size() > kMaxBatchPrompts) {
      throw bad_request("prompt", fmt::format("at most {} prompts per request", kMaxBatchPrompts));
    }
    for (const Json& p : *prompt) r.prompts.push_back(one_prompt(p));
  } else {
    r.prompts.push_back(one_prompt(*prompt));
  }
  r.echo = opt_bool(body, "echo").value_or(false);
  if (auto k = opt_int(body, "logprobs")) {
    r.common.sampling.logprobs = check_range("logprobs", *k, 0, kMaxLogprobs);
    if (r.echo)
      throw unsupported("echo", "'echo' with 'logprobs' (prompt logprobs) is not supported");
  }
  return r;
}

ChatRequest parse_chat_request(const Json& body) {
  ChatRequest r;
  r.common = parse_common(body, "max_tokens");
  if (auto v = opt_int(body, "max_completion_tokens")) {
    r.common.sampling.max_tokens =
        check_range("max_completion_tokens", *v, 1, std::numeric_limits<int32_t>::max());
  }
  r.messages = parse_messages(body);
  r.tools = parse_tools(body);
  parse_tool_choice(body, r);
  if (const Json* k = opt_field(body, "chat_template_kwargs")) {
    if (!k->is_object()) {
      throw bad_request("chat_template_kwargs", "'chat_template_kwargs' must be an object");
    }
    r.chat_template_kwargs = *k;
  }
  r.add_generation_prompt = opt_bool(body, "add_generation_prompt").value_or(true);
  r.continue_final_message = opt_bool(body, "continue_final_message").value_or(false);
  if (r.add_generation_prompt && r.continue_final_message) {
    throw bad_request("continue_final_message",
                      "'continue_final_message' and 'add_generation_prompt' cannot both be true");
  }
  r.include_reasoning = opt_bool(body, "include_reasoning").value_or(true);
  r.logprobs = opt_bool(body, "logprobs").value_or(false);
  const std::optional<int64_t> top = opt_int(body, "top_logprobs");
  if (top && !r.logprobs) {
    throw bad_request("top_logprobs", "'top_logprobs' needs 'logprobs': true");
  }
  if (r.logprobs) {
    r.common.sampling.logprobs = check_range("top_logprobs", top.value_or(0), 0, kMaxLogprobs);
  }
  return r;
}

}  // namespace qwen3::server
