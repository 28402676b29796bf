// Generated text of one chat completion -> OpenAI message fields: reasoning_content,
// content and tool_calls. Chains ReasoningParser (first) with ToolCallParser on the
// content part; tool calls inside reasoning are left as reasoning text.
//
//   ChatOutputParser parser({.starts_in_reasoning = true, .parse_tool_calls = true});
//   for (std::string_view piece : detokenized_pieces) send_sse(parser.feed(piece));
//   send_sse(parser.finish());
//
// Invariant (tested at every byte split): applying all deltas of feed()...finish() with
// apply_chat_delta gives exactly parse_chat_output(text).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/parsers/reasoning_parser.h"
#include "tokenizer/parsers/tool_call_parser.h"

namespace qwen3 {

struct ChatOutputOptions {
  bool starts_in_reasoning = false;  // see ReasoningParserOptions
  bool parse_tool_calls = true;      // false: the request had no tools; all content is text
};

// One feed()/finish() result. `reasoning` precedes every event of the same delta.
struct ChatDelta {
  std::string reasoning;              // reasoning_content bytes
  std::vector<ToolCallEvent> events;  // content and tool-call events, in order

  bool empty() const { return reasoning.empty() && events.empty(); }
};

// A whole message, as a non-streamed response carries it. Empty string = field absent.
struct ChatOutput {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;

  bool operator==(const ChatOutput&) const = default;
};

class ChatOutputParser {
 public:
  explicit ChatOutputParser(ChatOutputOptions options = {});

  ChatDelta feed(std::string_view text);  // next detokenized chunk, any byte split
  ChatDelta finish();                     // end of generation; call once

 private:
  ChatDelta route(ReasoningDelta split, bool final);

  ChatOutputOptions options_;
  ReasoningParser reasoning_;
  ToolCallParser tools_;
};

// Adds one delta to an accumulated message (what an OpenAI client does).
void apply_chat_delta(const ChatDelta& delta, ChatOutput& output);

// Non-streaming: the whole generated text at once.
ChatOutput parse_chat_output(std::string_view text, ChatOutputOptions options = {});

}  // namespace qwen3
