// OpenAI response shapes: envelopes of /v1/completions and /v1/chat/completions (whole
// and streamed), usage, logprobs in both endpoints' formats, and SSE framing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_types.h"
#include "server/json_fields.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::server {

struct ResponseMeta {
  std::string id;       // "cmpl-..." / "chatcmpl-..."
  int64_t created = 0;  // unix seconds
  std::string model;
};

// A random id with the given prefix, e.g. "chatcmpl-3f2a..." or ("call", '_') "call_9b1c...".
std::string make_request_id(std::string_view prefix, char separator = '-');
int64_t unix_now();

Json usage_json(int64_t prompt_tokens, int64_t completion_tokens, int64_t cached_tokens);

// {"id","object","created","model","choices"} (+ "usage" when not null).
// object: "text_completion" for completions (whole and chunks, as OpenAI does),
// "chat.completion" / "chat.completion.chunk" for chat.
Json envelope(const ResponseMeta& meta, std::string_view object, Json choices, Json usage);

// "data: <json>\n\n" and the terminator.
std::string sse_event(const Json& j);
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

// "stop" | "length" | "abort" | "error" | null.
Json finish_reason_json(FinishReason reason);
// vLLM's stop_reason: the matched stop string, the stop token id (a number), or null.
Json stop_reason_json(const ChoiceDelta& delta, const std::vector<std::string>& stop_strings);

// A token as logprobs show it: lossy UTF-8 text and its raw bytes.
std::string token_text(const text::Tokenizer& tok, int32_t id);

// Chat format: [{"token","logprob","bytes","top_logprobs":[{"token","logprob","bytes"}]}].
void append_chat_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps,
                          Json& content);

// Completions (legacy) format: {"tokens","token_logprobs","top_logprobs","text_offset"};
// `text_offset` is advanced by each token's text length.
Json empty_completion_logprobs();
void append_completion_logprobs(const text::Tokenizer& tok, const std::vector<TokenLogprob>& lps,
                                Json& logprobs, int64_t& text_offset);

}  // namespace qwen3::server
