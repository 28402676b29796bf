#include "bench/openai_stream.h"

#include <nlohmann/json.hpp>

#include "bench/http_client.h"
#include "core/error.h"

namespace qwen3::bench {

using nlohmann::json;

ApiKind api_kind_for_endpoint(std::string_view endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  return endpoint.ends_with("chat/completions") ? ApiKind::kChat : ApiKind::kCompletions;
}

const char* api_kind_backend_name(ApiKind kind) {
  return kind == ApiKind::kChat ? "openai-chat" : "openai";
}

std::string build_request_body(const RequestSpec& spec, std::string_view prompt,
                               int64_t max_tokens) {
  json body = {{"model", spec.model},
               {"temperature", 0.0},
               {"max_tokens", max_tokens},
               {"stream", true},
               {"stream_options", {{"include_usage", true}}}};
  if (spec.api == ApiKind::kChat) {
    body["messages"] = json::array({{{"role", "user"}, {"content", prompt}}});
  } else {
    body["prompt"] = prompt;
  }
  if (spec.ignore_eos) body["ignore_eos"] = true;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

void append_string(const json& obj, const char* key, std::string& out) {
  const auto it = obj.find(key);
  if (it != obj.end() && it->is_string()) out += it->get_ref<const std::string&>();
}

// A chat delta's generated text: content, reasoning (vLLM sends the same text as both
// "reasoning_content" and "reasoning"; counted once) and tool-call names/arguments.
void append_chat_delta(const json& delta, std::string& out) {
  append_string(delta, "content", out);
  if (delta.contains("reasoning_content")) {
    append_string(delta, "reasoning_content", out);
  } else {
    append_string(delta, "reasoning", out);
  }
  const auto calls = delta.find("tool_calls");
  if (calls == delta.end() || !calls->is_array()) return;
  for (const json& call : *calls) {
    const auto fn = call.find("function");
    if (fn == call.end() || !fn->is_object()) continue;
    append_string(*fn, "name", out);
    append_string(*fn, "arguments", out);
  }
}

std::string error_text(const json& err) {
  if (err.is_object() && err.contains("message") && err["message"].is_string()) {
    return err["message"].get<std::string>();
  }
  return err.dump();
}

}  // namespace

StreamChunk parse_stream_chunk(ApiKind api, std::string_view data) {
  StreamChunk c;
  if (data == "[DONE]") {
    c.done = true;
    return c;
  }
  const json j = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    c.error = "stream chunk is not a JSON object: " + std::string(data.substr(0, 200));
    return c;
  }
  if (j.contains("error")) {
    c.error = error_text(j["error"]);
    return c;
  }
  const auto choices = j.find("choices");
  if (choices != j.end() && choices->is_array() && !choices->empty()) {
    const json& choice = choices->front();
    if (api == ApiKind::kChat) {
      const auto delta = choice.find("delta");
      if (delta != choice.end() && delta->is_object()) append_chat_delta(*delta, c.text);
    } else {
      append_string(choice, "text", c.text);
    }
  }
  const auto usage = j.find("usage");
  if (usage != j.end() && usage->is_object()) {
    const auto ct = usage->find("completion_tokens");
    if (ct != usage->end() && ct->is_number_integer()) c.completion_tokens = ct->get<int64_t>();
    const auto pt = usage->find("prompt_tokens");
    if (pt != usage->end() && pt->is_number_integer()) c.prompt_tokens = pt->get<int64_t>();
  }
  return c;
}

std::string resolve_served_model(HttpClient& client, const std::string& flag) {
  const auto [status, body] = client.get("/v1/models");
  if (!flag.empty()) return flag;
  const json j = json::parse(body, nullptr, false);
  if (status == 200 && j.is_object() && j.contains("data") && j["data"].is_array() &&
      !j["data"].empty() && j["data"][0].is_object() && j["data"][0].contains("id") &&
      j["data"][0]["id"].is_string()) {
    return j["data"][0]["id"].get<std::string>();
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument,
              "GET {}/v1/models gave HTTP {} without a model id; pass --model NAME",
              client.url().text, status);
}

}  // namespace qwen3::bench
