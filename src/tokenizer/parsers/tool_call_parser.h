// Finds Qwen3's hermes-style tool calls in the content stream and turns them into OpenAI
// `tool_calls`, streamed (events) or not (parse_tool_calls).
//
//   Let me check.\n\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>
//   -> content "Let me check.", tool_calls [{index 0, name "f", arguments_json {"x":1}}]
//
// Rules (tests/parsers/test_tool_call_parser.cpp pins each):
//  1. Blocks. A block runs from "<tool_call>" to the next "</tool_call>"; its body is
//     judged by parse_tool_call_body (tool_call_json.h). Text outside blocks, including a
//     stray "</tool_call>", is content.
//  2. Malformed blocks are never dropped: a body that fails parse_tool_call_body, or a
//     block still open at finish() (generation cut off), goes to content as its raw text,
//     tags included, in place.
//  3. Whitespace. A whitespace run right before a valid block is dropped, and so is one
//     after a valid block when nothing but blocks or the end follows (it is layout between
//     calls: "A\n\n<tool_call>..</tool_call>\n<tool_call>..</tool_call>\n" -> "A"). A run
//     between a valid block and later text is kept ("A\n<call/>\n\nB" -> "A\n\nB").
//  4. Streaming is verified per block: a block's events (start, arguments, end) are
//     emitted together once its "</tool_call>" arrives and the body is valid, never
//     earlier. Reason: an OpenAI stream cannot take back a tool call, and a block can turn
//     out malformed until its last byte (max_tokens cut-off being the common case), so
//     emitting the name earlier would make a streamed response differ from the same
//     response unstreamed exactly in the error cases. The cost is latency of one block
//     (tens of tokens); content outside blocks streams with only a possible partial
//     "<tool_call>", trailing whitespace (rule 3) or an unfinished UTF-8 character held.
//  Invariant: for any split of a text into chunks, applying every event of
//  feed()...finish() with apply_tool_call_event gives exactly parse_tool_calls(text).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/parsers/tool_call_json.h"

namespace qwen3 {

enum class ToolCallEventKind {
  kContent,    // text: content bytes (never splits a UTF-8 character)
  kStart,      // index, text: function name
  kArguments,  // index, text: a fragment of arguments_json
  kEnd,        // index; text empty
};

struct ToolCallEvent {
  ToolCallEventKind kind = ToolCallEventKind::kContent;
  int32_t index = -1;  // tool call index for start/arguments/end; -1 for content
  std::string text;

  bool operator==(const ToolCallEvent&) const = default;
};

struct ToolCallResult {
  std::string content;               // all content, malformed blocks' raw text included
  std::vector<ToolCall> tool_calls;  // valid calls, index == position

  bool operator==(const ToolCallResult&) const = default;
};

class ToolCallParser {
 public:
  // Consumes the next chunk of content (any byte split); returns the decided events in
  // order. Amortized O(|text|): an open block is scanned once, not once per chunk.
  std::vector<ToolCallEvent> feed(std::string_view text);
  // End of generation: flushes held text and an unclosed block (as content). Call once.
  std::vector<ToolCallEvent> finish();

 private:
  void drain(bool final, std::vector<ToolCallEvent>& out);
  bool step_text(bool final, std::vector<ToolCallEvent>& out);   // true: entered a block
  bool step_block(bool final, std::vector<ToolCallEvent>& out);  // true: left the block
  void emit_call(ToolCall call, std::vector<ToolCallEvent>& out);
  void emit_raw_block(std::string_view body, bool closed, std::vector<ToolCallEvent>& out);
  void emit_content(std::string_view text, std::vector<ToolCallEvent>& out);

  std::string pending_;         // fed bytes not yet emitted: held text, or the open block
  bool in_block_ = false;       // pending_ is the body of an open block
  size_t block_scan_from_ = 0;  // pending_ offset before which no "</tool_call>" starts
  std::string held_space_;      // trailing whitespace of content, fate undecided (rule 3)
  std::string block_space_;     // the held whitespace that preceded the open block
  bool after_call_ = false;     // nothing but whitespace since the last valid block
  int32_t next_index_ = 0;
  bool finished_ = false;
};

// Adds one event to an accumulated result (what an OpenAI client does with deltas).
void apply_tool_call_event(const ToolCallEvent& event, ToolCallResult& result);

// Non-streaming: the whole content at once; equal to applying feed(text) + finish().
ToolCallResult parse_tool_calls(std::string_view content);

}  // namespace qwen3
