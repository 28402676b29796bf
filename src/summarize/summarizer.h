// Map-reduce summarisation of a long text (`qwen3 summarize`): split it (text_splitter.h),
// summarise every chunk at once through a ChatBackend, then merge the summaries, several
// per request (as many as fit in one chunk's token budget, at least two), round after
// round until one is left. The backend runs each round's requests concurrently (the
// engine's batch, or parallel HTTP requests).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "summarize/text_splitter.h"

namespace qwen3::summarize {

struct ChatTurn {
  std::string system;
  std::string user;
};

class ChatBackend {
 public:
  virtual ~ChatBackend() = default;
  // The assistant's answers to `turns`, in order (reasoning left out). `on_done` is called
  // once per finished request (progress), from any thread. Throws Error on failure.
  virtual std::vector<std::string> complete(const std::vector<ChatTurn>& turns,
                                            const std::function<void()>& on_done) = 0;
  // Tokens of `text` with the model's tokenizer.
  virtual int64_t count_tokens(std::string_view text) const = 0;
};

struct SummarizeOptions {
  SplitOptions split = {};
  std::string language_hint = {};  // e.g. "English"; empty: the document's own language
};

struct SummaryReport {
  std::string summary;
  int64_t document_tokens = 0;  // the whole text
  int64_t chunks = 0;
  int64_t merge_requests = 0;
  int64_t rounds = 0;  // merge rounds
};

// The prompts, exposed for tests.
ChatTurn chunk_prompt(std::string_view chunk, int64_t index, int64_t count,
                      const SummarizeOptions& options);
ChatTurn merge_prompt(const std::vector<std::string>& summaries, const SummarizeOptions& options);

// `on_round(name, requests)` is called before each round ("summarising chunks",
// "merging"), for a progress display. Throws Error(kInvalidArgument) for an empty text.
SummaryReport summarize_text(std::string_view text, ChatBackend& backend,
                             const SummarizeOptions& options,
                             const std::function<void(const std::string&, int64_t)>& on_round,
                             const std::function<void()>& on_done);

}  // namespace qwen3::summarize
