#include "summarize/summarizer.h"

#include <fmt/format.h>

#include "core/error.h"

namespace qwen3::summarize {
namespace {

constexpr const char* kSystem =
    "You write faithful, concise summaries. Keep names, numbers, dates and conclusions; "
    "do not add facts that are not in the text.";

std::string language_clause(const SummarizeOptions& o) {
  return o.language_hint.empty() ? "in the language of the text"
                                 : fmt::format("in {}", o.language_hint);
}

// Consecutive groups of summaries whose tokens fit in one chunk, at least two per group
// (so every round shrinks the list).
std::vector<std::vector<std::string>> group(std::vector<std::string> summaries,
                                            const ChatBackend& backend, int64_t budget) {
  std::vector<std::vector<std::string>> groups;
  int64_t tokens = 0;
  for (std::string& s : summaries) {
    const int64_t t = backend.count_tokens(s);
    if (!groups.empty() && (groups.back().size() < 2 || tokens + t <= budget)) {
      groups.back().push_back(std::move(s));
      tokens += t;
    } else {
      groups.push_back({std::move(s)});
      tokens = t;
    }
  }
  if (groups.size() > 1 && groups.back().size() == 1) {  // a lone last one joins the previous
    groups[groups.size() - 2].push_back(std::move(groups.back()[0]));
    groups.pop_back();
  }
  return groups;
}

}  // namespace

ChatTurn chunk_prompt(std::string_view chunk, int64_t index, int64_t count,
                      const SummarizeOptions& options) {
  if (count == 1) {
    return {kSystem, fmt::format("Summarize the following document {}.\n\n{}",
                                 language_clause(options), chunk)};
  }
  return {kSystem,
          fmt::format("Summarize the following part ({} of {}) of a longer document {}. It may "
                      "start or end in the middle of a sentence.\n\n{}",
                      index + 1, count, language_clause(options), chunk)};
}

ChatTurn merge_prompt(const std::vector<std::string>& summaries, const SummarizeOptions& options) {
  std::string joined;
  for (size_t i = 0; i < summaries.size(); ++i) {
    joined += fmt::format("Part {}:\n{}\n\n", i + 1, summaries[i]);
  }
  return {kSystem, fmt::format("The following are summaries of consecutive parts of one "
                               "document. Merge them into a single coherent summary {}, "
                               "without repeating points.\n\n{}",
                               language_clause(options), joined)};
}

SummaryReport summarize_text(std::string_view text, ChatBackend& backend,
                             const SummarizeOptions& options,
                             const std::function<void(const std::string&, int64_t)>& on_round,
                             const std::function<void()>& on_done) {
  const auto count = [&backend](std::string_view s) { return backend.count_tokens(s); };
  const std::vector<TextChunk> chunks = split_text(text, options.split, count);
  if (chunks.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "the document is empty");
  SummaryReport report;
  report.chunks = static_cast<int64_t>(chunks.size());
  report.document_tokens = count(text);
  std::vector<ChatTurn> turns;
  for (const TextChunk& c : chunks) {
    turns.push_back(chunk_prompt(text.substr(c.begin, c.end - c.begin),
                                 static_cast<int64_t>(turns.size()), report.chunks, options));
  }
  on_round(chunks.size() == 1 ? "summarising the document" : "summarising chunks", report.chunks);
  std::vector<std::string> summaries = backend.complete(turns, on_done);
  if (summaries.size() != turns.size()) {
    QWEN3_THROW(ErrorCode::kInternal, "{} answers to {} requests", summaries.size(), turns.size());
  }
  while (summaries.size() > 1) {
    auto groups = group(std::move(summaries), backend, options.split.chunk_tokens);
    turns.clear();
    for (const auto& g : groups) turns.push_back(merge_prompt(g, options));
    ++report.rounds;
    report.merge_requests += static_cast<int64_t>(turns.size());
    on_round(groups.size() == 1 ? "merging into one summary" : "merging summaries",
             static_cast<int64_t>(turns.size()));
    summaries = backend.complete(turns, on_done);
  }
  if (summaries.size() != 1) {
    QWEN3_THROW(ErrorCode::kInternal, "the backend returned {} answers", summaries.size());
  }
  report.summary = std::move(summaries[0]);
  return report;
}

}  // namespace qwen3::summarize
