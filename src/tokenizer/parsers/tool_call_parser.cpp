#include "tokenizer/parsers/tool_call_parser.h"

#include <algorithm>
#include <optional>

#include "core/error.h"
#include "tokenizer/parsers/text_scan.h"

namespace qwen3 {
namespace {

constexpr std::string_view kOpen = "<tool_call>";
constexpr std::string_view kClose = "</tool_call>";

void push_content(std::string_view text, std::vector<ToolCallEvent>& out) {
  if (text.empty()) return;
  if (!out.empty() && out.back().kind == ToolCallEventKind::kContent) {
    out.back().text.append(text);
    return;
  }
  out.push_back({.kind = ToolCallEventKind::kContent, .index = -1, .text = std::string(text)});
}

}  // namespace

std::vector<ToolCallEvent> ToolCallParser::feed(std::string_view text) {
  QWEN3_CHECK(!finished_);
  pending_.append(text);
  std::vector<ToolCallEvent> out;
  drain(/*final=*/false, out);
  return out;
}

std::vector<ToolCallEvent> ToolCallParser::finish() {
  QWEN3_CHECK(!finished_);
  std::vector<ToolCallEvent> out;
  drain(/*final=*/true, out);
  if (!after_call_) push_content(held_space_, out);  // rule 3: trailing space after a call
  held_space_.clear();
  finished_ = true;
  QWEN3_CHECK(pending_.empty() && !in_block_);
  return out;
}

void ToolCallParser::drain(bool final, std::vector<ToolCallEvent>& out) {
  for (;;) {
    const bool moved = in_block_ ? step_block(final, out) : step_text(final, out);
    if (!moved) return;
  }
}

bool ToolCallParser::step_text(bool final, std::vector<ToolCallEvent>& out) {
  const size_t open = pending_.find(kOpen);
  if (open == std::string::npos) {
    const size_t ready = final ? pending_.size() : emittable_prefix(pending_, {kOpen});
    emit_content(std::string_view(pending_).substr(0, ready), out);
    pending_.erase(0, ready);
    return false;
  }
  emit_content(std::string_view(pending_).substr(0, open), out);
  block_space_ = std::move(held_space_);  // its fate follows the block's (rule 3)
  held_space_.clear();
  pending_.erase(0, open + kOpen.size());
  in_block_ = true;
  block_scan_from_ = 0;
  return true;
}

bool ToolCallParser::step_block(bool final, std::vector<ToolCallEvent>& out) {
  const size_t close = pending_.find(kClose, block_scan_from_);
  if (close == std::string::npos) {
    if (!final) {
      // A later "</tool_call>" can start at most kClose.size() - 1 bytes back.
      block_scan_from_ = pending_.size() - std::min(pending_.size(), kClose.size() - 1);
      return false;
    }
    emit_raw_block(pending_, /*closed=*/false, out);  // rule 2: cut off inside a block
    pending_.clear();
    in_block_ = false;
    return true;
  }
  const std::string_view body = std::string_view(pending_).substr(0, close);
  if (std::optional<ToolCall> call = parse_tool_call_body(body)) {
    emit_call(std::move(*call), out);
  } else {
    emit_raw_block(body, /*closed=*/true, out);
  }
  pending_.erase(0, close + kClose.size());
  in_block_ = false;
  return true;
}

void ToolCallParser::emit_call(ToolCall call, std::vector<ToolCallEvent>& out) {
  const int32_t index = next_index_++;
  out.push_back({.kind = ToolCallEventKind::kStart, .index = index, .text = std::move(call.name)});
  out.push_back({.kind = ToolCallEventKind::kArguments,
                 .index = index,
                 .text = std::move(call.arguments_json)});
  out.push_back({.kind = ToolCallEventKind::kEnd, .index = index, .text = {}});
  block_space_.clear();  // rule 3: whitespace before a valid block is layout
  after_call_ = true;
}

void ToolCallParser::emit_raw_block(std::string_view body, bool closed,
                                    std::vector<ToolCallEvent>& out) {
  std::string raw = std::move(block_space_);
  block_space_.clear();
  raw.append(kOpen);
  raw.append(body);
  if (closed) raw.append(kClose);
  emit_content(raw, out);
}

// Content goes out except its trailing whitespace, which waits to see what follows.
void ToolCallParser::emit_content(std::string_view text, std::vector<ToolCallEvent>& out) {
  size_t end = text.size();
  while (end > 0 && is_json_space(text[end - 1])) --end;
  if (end > 0) {
    push_content(held_space_, out);
    push_content(text.substr(0, end), out);
    held_space_.clear();
    after_call_ = false;
  }
  held_space_.append(text.substr(end));
}

void apply_tool_call_event(const ToolCallEvent& event, ToolCallResult& result) {
  switch (event.kind) {
    case ToolCallEventKind::kContent:
      result.content += event.text;
      return;
    case ToolCallEventKind::kStart:
      QWEN3_CHECK(event.index == static_cast<int32_t>(result.tool_calls.size()));
      result.tool_calls.push_back({.index = event.index, .name = event.text, .arguments_json = {}});
      return;
    case ToolCallEventKind::kArguments:
      QWEN3_CHECK(event.index >= 0 && event.index < static_cast<int32_t>(result.tool_calls.size()));
      result.tool_calls[static_cast<size_t>(event.index)].arguments_json += event.text;
      return;
    case ToolCallEventKind::kEnd:
      QWEN3_CHECK(event.index >= 0 && event.index < static_cast<int32_t>(result.tool_calls.size()));
      return;
  }
}

ToolCallResult parse_tool_calls(std::string_view content) {
  ToolCallParser parser;
  ToolCallResult result;
  for (const ToolCallEvent& event : parser.feed(content)) apply_tool_call_event(event, result);
  for (const ToolCallEvent& event : parser.finish()) apply_tool_call_event(event, result);
  return result;
}

}  // namespace qwen3
