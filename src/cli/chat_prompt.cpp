#include "cli/chat_prompt.h"

#include <fmt/core.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "tokenizer/jinja/chat_template.h"

namespace qwen3::cli {

ChatTemplate load_chat_template(const std::string& model_dir, const std::string& template_file) {
  namespace fs = std::filesystem;
  return template_file.empty()
             ? ChatTemplate::from_model_dir(model_dir)
             : ChatTemplate::from_file(
                   template_file,
                   ChatTemplate::read_special_tokens(fs::path(model_dir) / "tokenizer_config.json"));
}

RenderedChat render_chat(const ChatTemplate& tmpl, const std::string& system,
                         const std::string& user, const std::string& kwargs_json) {
  nlohmann::ordered_json kwargs = nullptr;
  if (!kwargs_json.empty()) {
    kwargs = nlohmann::ordered_json::parse(kwargs_json, nullptr, /*allow_exceptions=*/false);
    if (kwargs.is_discarded() || !kwargs.is_object()) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "--chat-template-kwargs: '{}' is not a JSON object",
                  kwargs_json);
    }
  }
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
  messages.push_back({{"role", "user"}, {"content", user}});
  RenderedChat out;
  out.prompt = tmpl.render(messages, nullptr, /*add_generation_prompt=*/true, kwargs);
  // Thinking templates end the generation prompt inside an open <think> block.
  const size_t open = out.prompt.rfind("<think>");
  out.starts_in_reasoning =
      open != std::string::npos && out.prompt.find("</think>", open) == std::string::npos;
  return out;
}

RenderedChat render_chat(const ChatRequest& r) {
  return render_chat(load_chat_template(r.model_dir, r.template_file), r.system, r.user,
                     r.kwargs_json);
}

void ChatPrinter::print(const ChatDelta& delta) {
  if (!delta.reasoning.empty()) {
    if (!in_reasoning_) fmt::print(stderr, "[reasoning] ");
    in_reasoning_ = true;
    fmt::print(stderr, "{}", delta.reasoning);
  }
  for (const ToolCallEvent& e : delta.events) {
    if (e.kind == ToolCallEventKind::kContent) {
      if (in_reasoning_) fmt::print(stderr, "\n");
      in_reasoning_ = false;
      fmt::print("{}", e.text);
    }
  }
  apply_chat_delta(delta, message_);
  for (size_t i = printed_calls_; i < message_.tool_calls.size(); ++i) {
    const ToolCall& c = message_.tool_calls[i];
    fmt::print("\n[tool_call] {{\"name\": {}, \"arguments\": {}}}\n", nlohmann::json(c.name).dump(),
               c.arguments_json);
  }
  printed_calls_ = message_.tool_calls.size();
  std::fflush(stdout);
  std::fflush(stderr);
}

}  // namespace qwen3::cli
