#include <gtest/gtest.h>

#include "tokenizer/parsers/tool_call_json.h"

namespace qwen3 {
namespace {

ToolCall call(std::string name, std::string arguments) {
  return {.index = 0, .name = std::move(name), .arguments_json = std::move(arguments)};
}

TEST(ToolCallJson, QwenTemplateShape) {
  EXPECT_EQ(
      parse_tool_call_body("\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
                           "\"days\": [1, 2]}}\n"),
      call("get_weather", R"({"city":"Paris","days":[1,2]})"));
}

TEST(ToolCallJson, ArgumentsAreCompactInGeneratedOrder) {
  EXPECT_EQ(parse_tool_call_body(
                R"({"name":"f","arguments":{ "z" : 1 , "a" : { "y" : null, "b" : true } }})"),
            call("f", R"({"z":1,"a":{"y":null,"b":true}})"));
  // Non-ASCII stays UTF-8; escapes are normalized the way nlohmann::json writes them.
  EXPECT_EQ(parse_tool_call_body(R"({"name":"f","arguments":{"q":"北京 😀","e":"\u00e9\/\"\n"}})"),
            call("f", "{\"q\":\"北京 😀\",\"e\":\"é/\\\"\\n\"}"));
  EXPECT_EQ(parse_tool_call_body(R"({"name":"f","arguments":{"n":1.50,"m":-0,"k":100}})"),
            call("f", R"({"n":1.5,"m":0,"k":100})"));
}

TEST(ToolCallJson, ArgumentsAsAStringHoldingAnObject) {
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "arguments": "{\"q\": \"a b\", \"n\": 2}"})"),
            call("f", R"({"q":"a b","n":2})"));
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "arguments": "[1]"})"), std::nullopt);
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "arguments": "not json"})"), std::nullopt);
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "arguments": ""})"), std::nullopt);
}

TEST(ToolCallJson, ParametersAliasAndMissingArguments) {
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "parameters": {"a": 1}})"),
            call("f", R"({"a":1})"));
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "parameters": {"a": 1}, "arguments": {"b": 2}})"),
            call("f", R"({"b":2})"));
  EXPECT_EQ(parse_tool_call_body(R"({"name": "now"})"), call("now", "{}"));
  EXPECT_EQ(parse_tool_call_body(R"({"name": "f", "arguments": {}, "id": 7})"), call("f", "{}"));
}

TEST(ToolCallJson, MalformedBodies) {
  for (const char* body : {
           "",
           "   ",
           R"({"name": "f", "arguments": {"x": 1,}})",  // trailing comma
           R"({"name": "f", "arguments": {"x": 1})",    // unbalanced
           R"({"name": "f"} {"name": "g"})",            // two objects
           R"({"name": "f"} trailing)",
           R"([{"name": "f"}])",
           R"({"arguments": {}})",  // no name
           R"({"name": "", "arguments": {}})",
           R"({"name": 3, "arguments": {}})",
           R"({"name": "f", "arguments": null})",
           R"({"name": "f", "arguments": [1, 2]})",
           R"({"name": "f", "arguments": 5})",
           R"({'name': 'f'})",  // Python dict
           "<tool_call>{\"name\": \"f\"}",
       }) {
    EXPECT_EQ(parse_tool_call_body(body), std::nullopt) << body;
  }
}

TEST(ToolCallJson, DeepNestingIsRejected) {
  // Call object + arguments object + `arrays` levels of [].
  auto nested = [](int arrays) {
    return R"({"name":"f","arguments":{"a":)" + std::string(arrays, '[') +
           std::string(arrays, ']') + "}}";
  };
  EXPECT_NE(parse_tool_call_body(nested(kMaxToolCallJsonDepth - 2)), std::nullopt);
  EXPECT_EQ(parse_tool_call_body(nested(kMaxToolCallJsonDepth - 1)), std::nullopt);
  EXPECT_EQ(parse_tool_call_body(nested(100000)), std::nullopt);
  // Brackets inside strings do not count.
  const std::string brackets(500, '[');
  EXPECT_EQ(parse_tool_call_body(R"({"name":"f","arguments":{"s":")" + brackets + "\"}}"),
            call("f", R"({"s":")" + brackets + "\"}"));
}

}  // namespace
}  // namespace qwen3
