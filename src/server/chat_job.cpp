#include "server/chat_job.h"

namespace qwen3::server {
namespace {

void merge(ChatDelta& into, ChatDelta more) {
  into.reasoning += more.reasoning;
  for (ToolCallEvent& e : more.events) into.events.push_back(std::move(e));
}

}  // namespace

ReasoningMode reasoning_mode_of_prompt(std::string_view prompt) {
  size_t end = prompt.size();
  while (end > 0 && (prompt[end - 1] == '\n' || prompt[end - 1] == ' ')) --end;
  constexpr std::string_view kClose = "</think>";
  if (prompt.substr(0, end).ends_with(kClose)) return ReasoningMode::kOff;
  const size_t open = prompt.rfind("<think>");
  if (open != std::string_view::npos && prompt.find(kClose, open) == std::string_view::npos) {
    return ReasoningMode::kOpen;
  }
  return ReasoningMode::kDetect;
}

MessageParser::MessageParser(ReasoningMode mode, bool parse_tool_calls) {
  if (mode != ReasoningMode::kOff) {
    chat_.emplace(ChatOutputOptions{.starts_in_reasoning = mode == ReasoningMode::kOpen,
                                    .parse_tool_calls = parse_tool_calls});
  } else if (parse_tool_calls) {
    tools_.emplace();
  }
}

ChatDelta MessageParser::feed(std::string_view text) {
  if (chat_) return chat_->feed(text);
  if (tools_) return ChatDelta{"", tools_->feed(text)};
  ChatDelta d;
  if (!text.empty()) d.events.push_back({ToolCallEventKind::kContent, -1, std::string(text)});
  return d;
}

ChatDelta MessageParser::finish() {
  if (chat_) return chat_->finish();
  if (tools_) return ChatDelta{"", tools_->finish()};
  return {};
}

ChatJob::ChatJob(JobContext ctx, ResponseMeta meta, const ChatRequest& request,
                 ChatJobOptions options, std::shared_ptr<ResponseSink> sink)
    : GenerationJob(ctx, std::move(meta), request.common, std::move(sink)),
      options_(std::move(options)) {
  const int64_t n = request.common.sampling.n.value_or(1);
  choices_.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    choices_.emplace_back(options_);
    if (!options_.forced_prefix.empty()) {
      choices_.back().carry = choices_.back().parser.feed(options_.forced_prefix);
    }
  }
}

Json ChatJob::first_chunk_choices() {
  Json out = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    out.push_back({{"index", i},
                   {"delta", {{"role", "assistant"}, {"content", ""}}},
                   {"logprobs", nullptr},
                   {"finish_reason", nullptr}});
  }
  return out;
}

const std::string& ChatJob::call_id(Choice& c, int32_t index) {
  while (c.call_ids.size() <= static_cast<size_t>(index)) {
    c.call_ids.push_back(make_request_id("call", '_'));
  }
  return c.call_ids[static_cast<size_t>(index)];
}

Json ChatJob::delta_json(Choice& c, const ChatDelta& d) {
  Json delta = Json::object();
  if (!d.reasoning.empty() && options_.include_reasoning) {
    delta["reasoning_content"] = d.reasoning;
    delta["reasoning"] = d.reasoning;
  }
  std::string content;
  Json calls = Json::array();
  for (const ToolCallEvent& e : d.events) {
    if (e.kind == ToolCallEventKind::kContent) {
      content += e.text;
    } else if (e.kind == ToolCallEventKind::kStart) {
      calls.push_back({{"index", e.index},
                       {"id", call_id(c, e.index)},
                       {"type", "function"},
                       {"function", {{"name", e.text}, {"arguments", ""}}}});
    } else if (e.kind == ToolCallEventKind::kArguments) {
      if (calls.empty() || calls.back()["index"] != e.index) {
        calls.push_back({{"index", e.index}, {"function", {{"arguments", ""}}}});
      }
      Json& args = calls.back()["function"]["arguments"];
      args = args.get<std::string>() + e.text;
    }
  }
  if (!content.empty()) delta["content"] = std::move(content);
  if (!calls.empty()) {
    delta["tool_calls"] = std::move(calls);
    c.has_calls = true;
  }
  return delta;
}

Json ChatJob::finish_json(const Choice& c, FinishReason reason) const {
  if (reason == FinishReason::kStop && c.has_calls && !options_.named_tool_choice) {
    return "tool_calls";
  }
  return finish_reason_json(reason);
}

void ChatJob::add_delta(int64_t index, ChoiceDelta& d, Json* chunk_choices) {
  if (index < 0 || index >= static_cast<int64_t>(choices_.size())) return;
  Choice& c = choices_[static_cast<size_t>(index)];
  ChatDelta parsed = std::move(c.carry);
  c.carry = {};
  merge(parsed, c.parser.feed(d.text));
  const bool last = d.finish_reason != FinishReason::kNone;
  if (last) merge(parsed, c.parser.finish());
  if (options_.logprobs) append_chat_logprobs(*ctx_.tokenizer, d.logprobs, c.logprobs);
  if (chunk_choices == nullptr) {
    apply_chat_delta(parsed, c.message);
    c.has_calls = c.has_calls || !c.message.tool_calls.empty();
    if (last) {
      c.finish_reason = finish_json(c, d.finish_reason);
      c.stop_reason = stop_reason_json(d, stop_strings_);
    }
    return;
  }
  Json delta = delta_json(c, parsed);
  if (delta.empty() && !last && d.logprobs.empty()) return;
  Json choice = {{"index", index}, {"delta", std::move(delta)}, {"logprobs", nullptr}};
  if (options_.logprobs) {
    choice["logprobs"] = {{"content", std::move(c.logprobs)}};
    c.logprobs = Json::array();
  }
  choice["finish_reason"] = last ? finish_json(c, d.finish_reason) : Json();
  choice["stop_reason"] = stop_reason_json(d, stop_strings_);
  chunk_choices->push_back(std::move(choice));
}

Json ChatJob::message_json(Choice& c) const {
  const ChatOutput& m = c.message;
  Json msg = {{"role", "assistant"}};
  msg["content"] = m.content.empty() && !m.tool_calls.empty() ? Json() : Json(m.content);
  if (options_.include_reasoning) {
    msg["reasoning_content"] = m.reasoning.empty() ? Json() : Json(m.reasoning);
    msg["reasoning"] = msg["reasoning_content"];
  }
  if (!m.tool_calls.empty()) {
    Json calls = Json::array();
    for (const ToolCall& call : m.tool_calls) {
      Json args = call.arguments_json;
      calls.push_back({{"id", make_request_id("call", '_')},
                       {"type", "function"},
                       {"function", {{"name", call.name}, {"arguments", std::move(args)}}}});
    }
    msg["tool_calls"] = std::move(calls);
  }
  return msg;
}

Json ChatJob::final_choices() {
  Json out = Json::array();
  for (size_t i = 0; i < choices_.size(); ++i) {
    Choice& c = choices_[i];
    Json choice = {{"index", i}, {"message", message_json(c)}, {"logprobs", nullptr}};
    if (options_.logprobs) choice["logprobs"] = {{"content", std::move(c.logprobs)}};
    choice["finish_reason"] = c.finish_reason;
    choice["stop_reason"] = c.stop_reason;
    out.push_back(std::move(choice));
  }
  return out;
}

}  // namespace qwen3::server
