// The JSON inside one Qwen3 `<tool_call>` block -> an OpenAI tool call.
//
// Qwen3's chat template asks for `{"name": <function-name>, "arguments": <args-json-object>}`
// on its own lines between the tags. Accepted here (anything else is "malformed", and the
// caller returns the block's raw text as content):
//   - the body, with surrounding whitespace, is exactly one JSON object;
//   - "name" is a non-empty string;
//   - "arguments" is an object, or a string whose text is a JSON object (some fine-tunes
//     double-encode); "parameters" is accepted when "arguments" is absent (Llama-style
//     JSON, which vLLM's JSON tool parsers also accept); neither key means no arguments,
//     "{}"; any other type (array, number, null) is malformed;
//   - other keys are ignored; nesting deeper than kMaxToolCallJsonDepth is malformed
//     (keeps re-serialization's recursion bounded on adversarial output).
// arguments_json is compact (no whitespace between tokens), keys in generated order,
// non-ASCII kept as UTF-8, numbers in nlohmann::json's canonical form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace qwen3 {

inline constexpr int kMaxToolCallJsonDepth = 64;

struct ToolCall {
  int32_t index = 0;           // position among the response's valid calls, from 0
  std::string name;            // function name
  std::string arguments_json;  // compact JSON object text: {"city":"Paris"}

  bool operator==(const ToolCall&) const = default;
};

// `body`: the text between "<tool_call>" and "</tool_call>". Returns the call (index 0)
// or nullopt when the body is malformed by the rules above. O(|body|).
std::optional<ToolCall> parse_tool_call_body(std::string_view body);

}  // namespace qwen3
