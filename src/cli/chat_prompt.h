// `qwen3 generate --chat`: one user turn rendered with the model's chat template, and the
// generated text split into reasoning, content and tool calls while it streams.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/jinja/chat_template.h"
#include "tokenizer/parsers/chat_output_parser.h"

namespace qwen3::cli {

struct ChatRequest {
  std::string model_dir;
  std::string user;           // the user message
  std::string system;         // optional system message
  std::string template_file;  // --chat-template override (empty: the model's own)
  std::string kwargs_json;    // --chat-template-kwargs, e.g. {"enable_thinking": false}
};

struct RenderedChat {
  std::string prompt;        // the template's output, to be tokenized
  bool starts_in_reasoning;  // the prompt leaves a <think> block open
};

RenderedChat render_chat(const ChatRequest& request);
// The same in two steps, for many turns with one template: the model's template (or
// `template_file`'s, with the model's special tokens), then one system + user turn.
ChatTemplate load_chat_template(const std::string& model_dir, const std::string& template_file);
RenderedChat render_chat(const ChatTemplate& tmpl, const std::string& system,
                         const std::string& user, const std::string& kwargs_json);

// Prints reasoning (stderr, marked) and content (stdout) as they stream; tool calls are
// printed as JSON lines on stdout when complete.
class ChatPrinter {
 public:
  explicit ChatPrinter(bool starts_in_reasoning)
      : parser_({.starts_in_reasoning = starts_in_reasoning, .parse_tool_calls = true}) {}
  void feed(const std::string& text) { print(parser_.feed(text)); }
  void finish() { print(parser_.finish()); }

 private:
  void print(const ChatDelta& delta);
  ChatOutputParser parser_;
  ChatOutput message_;
  size_t printed_calls_ = 0;
  bool in_reasoning_ = false;
};

}  // namespace qwen3::cli
