#include "tokenizer/parsers/reasoning_parser.h"

#include "core/error.h"
#include "tokenizer/parsers/text_scan.h"

namespace qwen3 {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

}  // namespace

ReasoningParser::ReasoningParser(ReasoningParserOptions options) : options_(options) {}

ReasoningDelta ReasoningParser::feed(std::string_view text) {
  QWEN3_CHECK(!finished_);
  pending_.append(text);
  ReasoningDelta out;
  drain(/*final=*/false, out);
  return out;
}

ReasoningDelta ReasoningParser::finish() {
  QWEN3_CHECK(!finished_);
  ReasoningDelta out;
  drain(/*final=*/true, out);
  finished_ = true;
  QWEN3_CHECK(pending_.empty());
  return out;
}

// Each step consumes what it can in its state; a state change may let the next state
// consume more of pending_, so loop until the state is stable.
void ReasoningParser::drain(bool final, ReasoningDelta& out) {
  for (;;) {
    const State before = state_;
    switch (state_) {
      case State::kStart:
        step_start(final);
        break;
      case State::kReasoning:
        step_reasoning(final, out);
        break;
      case State::kContent:
        step_content(final, out);
        break;
    }
    if (state_ == before) return;
  }
}

// Rule 1: optional whitespace, then "<think>" or not.
void ReasoningParser::step_start(bool final) {
  size_t space = 0;
  while (space < pending_.size() && is_json_space(pending_[space])) ++space;
  const std::string_view rest = std::string_view(pending_).substr(space);
  if (rest.starts_with(kThinkOpen)) {
    pending_.erase(0, space + kThinkOpen.size());
    state_ = State::kReasoning;
    strip_newlines_ = true;
    return;
  }
  if (kThinkOpen.starts_with(rest) && !final) return;  // may still become "<think>"
  // No opening tag: the whitespace is ordinary text of the section we start in.
  state_ = options_.starts_in_reasoning ? State::kReasoning : State::kContent;
  strip_newlines_ = options_.starts_in_reasoning;  // the prompt ended in "<think>\n"
}

bool ReasoningParser::strip_leading_newlines(bool final) {
  if (!strip_newlines_) return true;
  const size_t first = pending_.find_first_not_of('\n');
  if (first == std::string::npos) {
    if (final) pending_.clear();
    return final;
  }
  pending_.erase(0, first);
  strip_newlines_ = false;
  return true;
}

void ReasoningParser::step_reasoning(bool final, ReasoningDelta& out) {
  if (!strip_leading_newlines(final)) return;
  const size_t close = pending_.find(kThinkClose);
  if (close != std::string::npos) {
    size_t end = close;
    while (end > 0 && pending_[end - 1] == '\n') --end;  // rule 3: before "</think>"
    out.reasoning.append(pending_, 0, end);
    pending_.erase(0, close + kThinkClose.size());
    state_ = State::kContent;
    strip_newlines_ = true;
    return;
  }
  size_t ready = pending_.size();
  if (!final) {
    ready = emittable_prefix(pending_, {kThinkClose});
    while (ready > 0 && pending_[ready - 1] == '\n') --ready;  // may precede "</think>"
  }
  out.reasoning.append(pending_, 0, ready);
  pending_.erase(0, ready);
}

void ReasoningParser::step_content(bool final, ReasoningDelta& out) {
  if (!strip_leading_newlines(final)) return;
  const size_t ready = final ? pending_.size() : pending_.size() - utf8_incomplete_suffix(pending_);
  out.content.append(pending_, 0, ready);
  pending_.erase(0, ready);
}

ReasoningDelta parse_reasoning(std::string_view text, ReasoningParserOptions options) {
  ReasoningParser parser(options);
  ReasoningDelta all = parser.feed(text);
  ReasoningDelta rest = parser.finish();
  all.reasoning += rest.reasoning;
  all.content += rest.content;
  return all;
}

}  // namespace qwen3
