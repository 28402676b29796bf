#include "server/openai_response.h"

#include <fmt/core.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>

#include "tokenizer/utf8.h"

namespace qwen3::server {
namespace {

// JSON has no -inf; vLLM reports impossible tokens as -9999.0 as well.
double finite_logprob(float lp) { return std::max(static_cast<double>(lp), -9999.0); }

Json byte_list(const std::string& bytes) {
  Json out = Json::array();
  for (const char c : bytes) out.push_back(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

std::string make_request_id(std::string_view prefix, char separator) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}{}{:016x}{:016x}", prefix, separator, rng(), rng());
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens) {
  Json u;
  u["prompt_tokens"] = prompt_tokens;
  u["total_tokens"] = prompt_tokens + completion_tokens;
  u["completion_tokens"] = completion_tokens;
  u["prompt_tokens_details"] = {{"cached_tokens", cached_tokens}};
  return u;
}

Json envelope(const ResponseMeta& meta, std::string_view object, Json choices, Json usage) {
  Json j;
  j["id"] = meta.id;
  j["object"] = object;
  j["created"] = meta.created;
  j["model"] = meta.model;
  j["choices"] = std::move(choices);
  if (!usage.is_null()) j["usage"] = std::move(usage);
  return j;
}

std::string sse_event(const Json& j) { return "data: " + dump_json(j) + "\n\n"; }

Json finish_reason_json(FinishReason reason) {
  const char* name = finish_reason_name(reason);
  return name == nullptr ? Json() : Json(name);
}

Json stop_reason_json(const ChoiceDelta& delta, const std::vector<std::string>& stop_strings) {
  if (delta.finish_reason != FinishReason::kStop || delta.stop_reason.empty()) return nullptr;
  if (std::find(stop_strings.begin(), stop_strings.end(), delta.stop_reason) !=
      stop_strings.end()) {
    return delta.stop_reason;
  }
  int64_t id = 0;
  const auto& s = delta.stop_reason;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (ec == std::errc() && p == s.data() + s.size()) return id;
  return s;
}

std::string token_text(const text::Tokenizer& tok, int32_t id) {
  if (id < 0 || id >= tok.vocab_size()) return "";
  return text::sanitize_utf8(tok.token_bytes(id));
}

void append_chat_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps,
                          Json& content) {
  for (const TokenLogprob& lp : lps) {
    Json top = Json::array();
    for (const auto& [id, v] : lp.top) {
      const std::string raw = id >= 0 && id < tok.vocab_size() ? tok.token_bytes(id) : "";
      top.push_back({{"token", token_text(tok, id)},
                     {"logprob", finite_logprob(v)},
                     {"bytes", byte_list(raw)}});
    }
    const std::string raw =
        lp.token >= 0 && lp.token < tok.vocab_size() ? tok.token_bytes(lp.token) : "";
    content.push_back({{"token", token_text(tok, lp.token)},
                       {"logprob", finite_logprob(lp.logprob)},
                       {"bytes", byte_list(raw)},
                       {"top_logprobs", std::move(top)}});
  }
}

Json empty_completion_logprobs() {
  return {{"text_offset", Json::array()},
          {"token_logprobs", Json::array()},
          {"tokens", Json::array()},
          {"top_logprobs", Json::array()}};
}

void append_completion_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps,
                                Json& logprobs, int64_t& text_offset) {
  for (const TokenLogprob& lp : lps) {
    const std::string t = token_text(tok, lp.token);
    Json top = Json::object();
    for (const auto& [id, v] : lp.top) top[token_text(tok, id)] = finite_logprob(v);
    logprobs["text_offset"].push_back(text_offset);
    logprobs["token_logprobs"].push_back(finite_logprob(lp.logprob));
    logprobs["tokens"].push_back(t);
    logprobs["top_logprobs"].push_back(std::move(top));
    text_offset += static_cast<int64_t>(t.size());
  }
}

}  // namespace qwen3::server
