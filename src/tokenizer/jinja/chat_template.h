// ChatTemplate: a model's Hugging Face chat template, ready to render OpenAI-style
// conversations into a prompt string, the way transformers' apply_chat_template does.
//
// Loading (from a model folder): `chat_template.jinja` if present, else
// tokenizer_config.json's "chat_template" — a string, or a list of {"name","template"}
// where "default" is used, and "tool_use" (when present) is used for requests with
// tools. bos_token/eos_token come from tokenizer_config.json (a string or an
// {"content": ...} object; absent or null tokens stay undefined in the template).
//
// Rendering passes the template what transformers passes: messages, tools (none when
// absent), add_generation_prompt, bos_token/eos_token, then the extra kwargs (which may
// override the special tokens, as in transformers). Message content given as a list of
// {"type":"text","text":...} parts is joined with "\n" into one string first (what
// vLLM does for string-content templates such as Qwen3's); other part types are
// rejected. Everything else (reasoning_content, tool_calls, tool_call_id, name) is
// passed through unchanged, key order preserved.
//
// Thread safety: render() is const and keeps all state on its own stack, so one
// ChatTemplate may be rendered from many threads at once.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "tokenizer/jinja/template.h"

namespace qwen3 {

struct SpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

class ChatTemplate {
 public:
  // Model folder: chat_template.jinja or tokenizer_config.json (see above).
  static ChatTemplate from_model_dir(const std::filesystem::path& dir);
  // An explicit template file (`--chat-template FILE`); tokens usually come from
  // read_special_tokens(model_dir / "tokenizer_config.json").
  static ChatTemplate from_file(const std::filesystem::path& file, SpecialTokens tokens = {});
  static ChatTemplate from_string(std::string source, std::string name, SpecialTokens tokens = {});
  // bos/eos from a tokenizer_config.json; a missing file gives no tokens.
  static SpecialTokens read_special_tokens(const std::filesystem::path& tokenizer_config);

  // messages: array of {role, content, ...}; tools: array or null; extra_kwargs: object
  // or null (e.g. {"enable_thinking": false}). Throws Error(kInvalidArgument) on bad
  // input or a template error (raise_exception's message included).
  std::string render(const nlohmann::ordered_json& messages, const nlohmann::ordered_json& tools,
                     bool add_generation_prompt,
                     const nlohmann::ordered_json& extra_kwargs = nullptr) const;

  const std::string& name() const { return default_->name(); }
  bool has_tool_use_template() const { return tool_use_ != nullptr; }
  void set_limits(const jinja::RenderLimits& limits) { limits_ = limits; }
  void set_clock(jinja::Clock clock) { clock_ = std::move(clock); }  // strftime_now()

 private:
  ChatTemplate() = default;

  std::shared_ptr<const jinja::Template> default_;
  std::shared_ptr<const jinja::Template> tool_use_;  // may be null
  SpecialTokens tokens_;
  jinja::RenderLimits limits_;
  jinja::Clock clock_ = jinja::local_now;
};

}  // namespace qwen3
