#include "tokenizer/jinja/chat_template.h"

#include <fstream>
#include <sstream>

#include "core/error.h"

namespace qwen3 {
namespace {

using nlohmann::ordered_json;

std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) QWEN3_THROW(ErrorCode::kIo, "{}: cannot open chat template file", file.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ordered_json read_json(const std::filesystem::path& file) {
  const std::string text = read_text(file);
  try {
    return ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: malformed JSON: {}", file.string(), e.what());
  }
}

// A token written as "text", {"content": "text", ...} or null.
std::optional<std::string> token_text(const ordered_json& config, const char* key) {
  if (!config.contains(key)) return std::nullopt;
  const ordered_json& v = config.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v.at("content").is_string()) {
    return v.at("content").get<std::string>();
  }
  return std::nullopt;
}

// "content": [{"type":"text","text":...}, ...] -> one string joined with "\n".
ordered_json flatten_content(const ordered_json& parts, size_t index) {
  std::string text;
  bool first = true;
  for (const ordered_json& part : parts) {
    const bool is_text = part.is_object() && part.value("type", "") == "text" &&
                         part.contains("text") && part.at("text").is_string();
    if (!is_text) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "messages[{}].content: only {{\"type\": \"text\"}} parts are supported", index);
    }
    if (!first) text += "\n";
    first = false;
    text += part.at("text").get<std::string>();
  }
  return text;
}

ordered_json normalize_messages(const ordered_json& messages) {
  if (!messages.is_array()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "messages must be a JSON array");
  }
  ordered_json out = messages;
  for (size_t k = 0; k < out.size(); ++k) {
    ordered_json& m = out[k];
    if (!m.is_object() || !m.contains("role") || !m.at("role").is_string()) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "messages[{}] must be an object with a string 'role'",
                  k);
    }
    if (m.contains("content") && m.at("content").is_array()) {
      m["content"] = flatten_content(m.at("content"), k);
    } else if (m.contains("content") && m.at("content").is_null()) {
      m["content"] = "";  // OpenAI sends null next to tool_calls; templates expect a string
    }
  }
  return out;
}

}  // namespace

SpecialTokens ChatTemplate::read_special_tokens(const std::filesystem::path& tokenizer_config) {
  if (!std::filesystem::exists(tokenizer_config)) return {};
  const ordered_json config = read_json(tokenizer_config);
  return SpecialTokens{token_text(config, "bos_token"), token_text(config, "eos_token")};
}

ChatTemplate ChatTemplate::from_string(std::string source, std::string name, SpecialTokens tokens) {
  ChatTemplate t;
  t.default_ = std::make_shared<const jinja::Template>(std::move(source), std::move(name));
  t.tokens_ = std::move(tokens);
  return t;
}

ChatTemplate ChatTemplate::from_file(const std::filesystem::path& file, SpecialTokens tokens) {
  return from_string(read_text(file), file.filename().string(), std::move(tokens));
}

ChatTemplate ChatTemplate::from_model_dir(const std::filesystem::path& dir) {
  const std::filesystem::path config_path = dir / "tokenizer_config.json";
  SpecialTokens tokens = read_special_tokens(config_path);
  if (std::filesystem::exists(dir / "chat_template.jinja")) {
    return from_file(dir / "chat_template.jinja", std::move(tokens));
  }
  if (!std::filesystem::exists(config_path)) {
    QWEN3_THROW(ErrorCode::kIo, "{}: no chat_template.jinja and no tokenizer_config.json",
                dir.string());
  }
  const ordered_json config = read_json(config_path);
  const std::string label = config_path.string();
  if (!config.contains("chat_template")) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: no 'chat_template' field", label);
  }
  const ordered_json& field = config.at("chat_template");
  if (field.is_string()) return from_string(field.get<std::string>(), label, std::move(tokens));
  if (!field.is_array()) {
    QWEN3_THROW(ErrorCode::kInvalidModel,
                "{}: 'chat_template' must be a string or a list of {{name, template}}", label);
  }
  ChatTemplate t;
  t.tokens_ = std::move(tokens);
  for (const ordered_json& entry : field) {
    if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
        !entry.at("name").is_string() || !entry.at("template").is_string()) {
      QWEN3_THROW(ErrorCode::kInvalidModel, "{}: 'chat_template' entries need string name and template",
                  label);
    }
    const std::string name = entry.at("name").get<std::string>();
    auto parsed = std::make_shared<const jinja::Template>(entry.at("template").get<std::string>(),
                                                          label + "#" + name);
    if (name == "default") t.default_ = parsed;
    if (name == "tool_use") t.tool_use_ = parsed;
  }
  if (!t.default_) QWEN3_THROW(ErrorCode::kInvalidModel, "{}: no 'default' chat template", label);
  return t;
}

std::string ChatTemplate::render(const ordered_json& messages, const ordered_json& tools,
                                 bool add_generation_prompt, const ordered_json& extra_kwargs) const {
  if (!tools.is_null() && !tools.is_array()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "tools must be a JSON array or null");
  }
  if (!extra_kwargs.is_null() && !extra_kwargs.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "chat template kwargs must be a JSON object");
  }
  ordered_json vars = ordered_json::object();
  vars["messages"] = normalize_messages(messages);
  vars["tools"] = tools;
  vars["add_generation_prompt"] = add_generation_prompt;
  if (tokens_.bos_token) vars["bos_token"] = *tokens_.bos_token;
  if (tokens_.eos_token) vars["eos_token"] = *tokens_.eos_token;
  if (extra_kwargs.is_object()) {
    for (const auto& [key, value] : extra_kwargs.items()) {
      if (key == "messages" || key == "tools" || key == "add_generation_prompt") {
        QWEN3_THROW(ErrorCode::kInvalidArgument, "chat template kwarg '{}' is reserved", key);
      }
      vars[key] = value;
    }
  }
  const bool use_tools = tool_use_ && tools.is_array() && !tools.empty();
  return (use_tools ? tool_use_ : default_)->render(vars, limits_, clock_);
}

}  // namespace qwen3
