#include "tokenizer/parsers/tool_call_json.h"

#include <nlohmann/json.hpp>

namespace qwen3 {
namespace {

// ordered_json keeps the generated key order in the re-serialized arguments.
using Json = nlohmann::ordered_json;

// Bracket nesting of a JSON text, ignoring brackets inside strings; stops counting once
// past `limit`. Lets us reject deep input before nlohmann's recursive dump sees it.
bool nesting_exceeds(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return true;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return false;
}

std::optional<Json> parse_object(std::string_view text) {
  if (nesting_exceeds(text, kMaxToolCallJsonDepth)) return std::nullopt;
  Json value = Json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

std::string compact(const Json& value) {
  // replace: invalid UTF-8 inside a string becomes U+FFFD instead of throwing.
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// "arguments" (or "parameters") value -> compact object text; nullptr means absent.
std::optional<std::string> arguments_json(const Json* arguments) {
  if (arguments == nullptr) return std::string("{}");
  if (arguments->is_object()) return compact(*arguments);
  if (!arguments->is_string()) return std::nullopt;
  std::optional<Json> inner = parse_object(arguments->get_ref<const std::string&>());
  if (!inner) return std::nullopt;
  return compact(*inner);
}

}  // namespace

std::optional<ToolCall> parse_tool_call_body(std::string_view body) {
  std::optional<Json> call = parse_object(body);
  if (!call) return std::nullopt;
  const auto name = call->find("name");
  if (name == call->end() || !name->is_string()) return std::nullopt;
  if (name->get_ref<const std::string&>().empty()) return std::nullopt;

  const Json* arguments = nullptr;
  if (auto it = call->find("arguments"); it != call->end()) {
    arguments = &*it;
  } else if (auto alias = call->find("parameters"); alias != call->end()) {
    arguments = &*alias;
  }
  std::optional<std::string> args = arguments_json(arguments);
  if (!args) return std::nullopt;
  return ToolCall{.index = 0, .name = name->get<std::string>(), .arguments_json = std::move(*args)};
}

}  // namespace qwen3
