// /v1/chat/completions responses: generated text split into reasoning_content (also
// sent as `reasoning`, vLLM's newer name), content and tool_calls, whole or as deltas.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/generation_job.h"
#include "tokenizer/parsers/chat_output_parser.h"

namespace qwen3::server {

// Where generation starts relative to a <think> block, read off the rendered prompt.
enum class ReasoningMode {
  kOff,     // the prompt closed an (empty) think block: enable_thinking=false; all content
  kDetect,  // the output may open "<think>" itself (hybrid Qwen3 templates)
  kOpen,    // the prompt left "<think>" open (Thinking-2507 templates)
};
// Same rule as `qwen3 generate --chat` (cli/chat_prompt.cpp), plus kOff for a prompt that
// ends right after "</think>".
ReasoningMode reasoning_mode_of_prompt(std::string_view prompt);

// ChatOutputParser with reasoning optionally switched off, so that enable_thinking=false
// never puts the answer into the reasoning field even if the model writes "<think>".
class MessageParser {
 public:
  MessageParser(ReasoningMode mode, bool parse_tool_calls);
  ChatDelta feed(std::string_view text);
  ChatDelta finish();

 private:
  std::optional<ChatOutputParser> chat_;
  std::optional<ToolCallParser> tools_;
};

struct ChatJobOptions {
  ReasoningMode reasoning = ReasoningMode::kDetect;
  bool parse_tool_calls = false;
  bool include_reasoning = true;
  bool logprobs = false;
  bool named_tool_choice = false;  // finish_reason stays "stop" when a named tool is forced
  // Text appended to the prompt as if generated (tool_choice required / named); the
  // parser sees it first, so the forced "<tool_call>" opening is parsed like any other.
  std::string forced_prefix;
};

class ChatJob final : public GenerationJob {
 public:
  ChatJob(JobContext ctx, ResponseMeta meta, const ChatRequest& request, ChatJobOptions options,
          std::shared_ptr<ResponseSink> sink);

 protected:
  std::string_view object_name(bool chunk) const override {
    return chunk ? "chat.completion.chunk" : "chat.completion";
  }
  Json first_chunk_choices() override;
  void add_delta(int64_t index, ChoiceDelta& delta, Json* chunk_choices) override;
  Json final_choices() override;

 private:
  struct Choice {
    explicit Choice(const ChatJobOptions& o) : parser(o.reasoning, o.parse_tool_calls) {}
    MessageParser parser;
    ChatDelta carry;     // what the forced prefix produced, sent with the first delta
    ChatOutput message;  // accumulated (non-streaming)
    Json logprobs = Json::array();
    std::vector<std::string> call_ids;
    bool has_calls = false;
    Json finish_reason;
    Json stop_reason;
  };
  Json delta_json(Choice& c, const ChatDelta& d);
  Json message_json(Choice& c) const;
  Json finish_json(const Choice& c, FinishReason reason) const;
  const std::string& call_id(Choice& c, int32_t index);

  ChatJobOptions options_;
  std::vector<Choice> choices_;
};

}  // namespace qwen3::server
