#include "tokenizer/parsers/chat_output_parser.h"

#include <iterator>

namespace qwen3 {

ChatOutputParser::ChatOutputParser(ChatOutputOptions options)
    : options_(options), reasoning_({.starts_in_reasoning = options.starts_in_reasoning}) {}

ChatDelta ChatOutputParser::feed(std::string_view text) {
  return route(reasoning_.feed(text), /*final=*/false);
}

ChatDelta ChatOutputParser::finish() { return route(reasoning_.finish(), /*final=*/true); }

// Reasoning passes through; content goes through the tool-call parser when enabled.
ChatDelta ChatOutputParser::route(ReasoningDelta split, bool final) {
  ChatDelta delta;
  delta.reasoning = std::move(split.reasoning);
  if (!options_.parse_tool_calls) {
    if (!split.content.empty()) {
      delta.events.push_back(
          {.kind = ToolCallEventKind::kContent, .index = -1, .text = std::move(split.content)});
    }
    return delta;
  }
  delta.events = tools_.feed(split.content);
  if (final) {
    std::vector<ToolCallEvent> rest = tools_.finish();
    delta.events.insert(delta.events.end(), std::make_move_iterator(rest.begin()),
                        std::make_move_iterator(rest.end()));
  }
  return delta;
}

void apply_chat_delta(const ChatDelta& delta, ChatOutput& output) {
  output.reasoning += delta.reasoning;
  ToolCallResult calls{.content = std::move(output.content),
                       .tool_calls = std::move(output.tool_calls)};
  for (const ToolCallEvent& event : delta.events) apply_tool_call_event(event, calls);
  output.content = std::move(calls.content);
  output.tool_calls = std::move(calls.tool_calls);
}

ChatOutput parse_chat_output(std::string_view text, ChatOutputOptions options) {
  ChatOutputParser parser(options);
  ChatOutput output;
  apply_chat_delta(parser.feed(text), output);
  apply_chat_delta(parser.finish(), output);
  return output;
}

}  // namespace qwen3
