// Splits Qwen3's generated text into reasoning (`<think>...</think>`) and content, the
// `reasoning_content` / `content` fields of an OpenAI chat response, streamed or not.
//
// Rules (bytes of decoded UTF-8 text; tests/parsers/test_reasoning_parser.cpp pins each):
//  1. Opening. If the output starts with "<think>" (after optional whitespace, which is
//     dropped with the tag), reasoning opens. Otherwise the output starts in reasoning iff
//     `starts_in_reasoning` (the rendered prompt already ends inside "<think>\n", as the
//     Qwen3-*-Thinking-2507 templates do), and in content otherwise (Instruct-2507, or the
//     hybrid template with enable_thinking=false, whose prompt already holds the empty
//     "<think>\n\n</think>\n\n"). A "<think>" anywhere later is ordinary text.
//  2. Closing. The first "</think>" after reasoning opened closes it; later "<think>" or
//     "</think>" are ordinary content text. Never-opened output has no closing marker.
//  3. Newlines. As Qwen3's chat template does when it renders an assistant turn back
//     (reasoning.strip('\n'), content.lstrip('\n')): '\n' bytes right after the opening
//     (tag or prompt) and right before "</think>" are dropped from reasoning, and '\n'
//     bytes right after "</think>" are dropped from content. Only '\n' is stripped; spaces
//     and other text are kept. vLLM leaves these newlines in; we drop them because the
//     template would drop them anyway and clients print content verbatim.
//  4. Unclosed. Reasoning that is still open at finish() stays reasoning (the answer was
//     cut off by max_tokens); it was already streamed as reasoning and cannot be moved.
//     Its trailing newlines are kept then (rule 3 applies only before "</think>").
//     Current vLLM does the same for Qwen3 with thinking enabled.
//  5. Streaming. feed() emits every byte that can no longer change class: it holds back
//     only a suffix that may still become the marker it waits for ("<think>" at the start,
//     "</think>" in reasoning), a trailing run of '\n' in reasoning (rule 3), leading
//     whitespace while rule 1 is undecided, and an unfinished UTF-8 character. For any
//     split of a text into chunks, the concatenated deltas equal parse_reasoning(text).
#pragma once

#include <string>
#include <string_view>

namespace qwen3 {

struct ReasoningParserOptions {
  bool starts_in_reasoning = false;  // the prompt ends inside an open "<think>"
};

// Output of one feed()/finish(). Within one delta all reasoning precedes all content.
struct ReasoningDelta {
  std::string reasoning;  // reasoning_content bytes, tags and stripped newlines removed
  std::string content;    // content bytes

  bool operator==(const ReasoningDelta&) const = default;
};

class ReasoningParser {
 public:
  explicit ReasoningParser(ReasoningParserOptions options = {});

  // Consumes the next chunk of generated text (any byte split) and returns what is
  // decided. Amortized O(|text|).
  ReasoningDelta feed(std::string_view text);
  // End of generation: returns everything still held back. Call once, then discard.
  ReasoningDelta finish();

 private:
  enum class State { kStart, kReasoning, kContent };

  void drain(bool final, ReasoningDelta& out);
  void step_start(bool final);
  void step_reasoning(bool final, ReasoningDelta& out);
  void step_content(bool final, ReasoningDelta& out);
  // Rule 3's leading strip. Returns false while pending_ holds only '\n' (undecided).
  bool strip_leading_newlines(bool final);

  ReasoningParserOptions options_;
  State state_ = State::kStart;
  std::string pending_;          // fed bytes not yet emitted (held back, see rule 5)
  bool strip_newlines_ = false;  // at the start of a section whose '\n' are dropped
  bool finished_ = false;
};

// Non-streaming: the whole output at once; equal to feed(text) + finish().
ReasoningDelta parse_reasoning(std::string_view text, ReasoningParserOptions options = {});

}  // namespace qwen3
