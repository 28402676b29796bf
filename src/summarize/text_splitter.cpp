#include "summarize/text_splitter.h"

#include <array>
#include <deque>

#include "core/error.h"

namespace qwen3::summarize {
namespace {

struct Piece {
  size_t begin, end;
  int64_t tokens;
};

// Boundary levels, coarsest first; the last level (no separators) cuts between UTF-8
// characters.
const std::array<std::vector<std::string_view>, 5> kLevels = {{
    {"\n\n"},
    {"\n"},
    {". ", "! ", "? ", "\xe3\x80\x82", "\xef\xbc\x81", "\xef\xbc\x9f"},  // 。！？
    {" "},
    {},
}};

// Cuts [begin, end) after each occurrence of one of `seps` (the separator stays with the
// piece before it); with no separators, after each UTF-8 character.
std::vector<std::pair<size_t, size_t>> cut(std::string_view text, size_t begin, size_t end,
                                           const std::vector<std::string_view>& seps) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t start = begin;
  size_t i = begin;
  while (i < end) {
    size_t next = 0;
    if (seps.empty()) {
      size_t j = i + 1;
      while (j < end && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
      next = j;
    } else {
      for (std::string_view s : seps) {
        if (i + s.size() <= end && text.compare(i, s.size(), s) == 0) {
          next = i + s.size();
          break;
        }
      }
      if (next == 0) {
        ++i;
        continue;
      }
    }
    out.emplace_back(start, next);
    start = i = next;
  }
  if (start < end) out.emplace_back(start, end);
  return out;
}

class Splitter {
 public:
  Splitter(std::string_view text, const SplitOptions& o, const TokenCounter& count)
      : text_(text), o_(o), count_(count) {}

  std::vector<TextChunk> run() {
    split(0, text_.size(), 0);
    flush();
    return std::move(chunks_);
  }

 private:
  // Pieces of [begin, end) small enough, in order, into the packer.
  void split(size_t begin, size_t end, size_t level) {
    for (const auto& [b, e] : cut(text_, begin, end, kLevels[level])) {
      const int64_t tokens = count_(text_.substr(b, e - b));
      if (tokens <= o_.chunk_tokens || level + 1 == kLevels.size()) {
        add({b, e, tokens});
      } else {
        split(b, e, level + 1);
      }
    }
  }

  void add(const Piece& p) {
    if (!open_.empty() && open_tokens_ + p.tokens > o_.chunk_tokens) {
      flush();
      // Keep the last pieces as the next chunk's overlap, as many as fit in overlap_tokens
      // together with the new piece under chunk_tokens.
      while (!open_.empty() &&
             (open_tokens_ > o_.overlap_tokens || open_tokens_ + p.tokens > o_.chunk_tokens)) {
        open_tokens_ -= open_.front().tokens;
        open_.pop_front();
      }
    }
    open_.push_back(p);
    open_tokens_ += p.tokens;
    fresh_ = true;
  }

  // Emits the open pieces as a chunk, unless they are only the previous chunk's overlap.
  void flush() {
    if (open_.empty() || !fresh_) return;
    chunks_.push_back({open_.front().begin, open_.back().end, open_tokens_});
    fresh_ = false;
  }

  std::string_view text_;
  SplitOptions o_;
  const TokenCounter& count_;
  std::deque<Piece> open_;
  int64_t open_tokens_ = 0;
  bool fresh_ = false;  // open_ holds a piece not yet in any chunk
  std::vector<TextChunk> chunks_;
};

}  // namespace

std::vector<TextChunk> split_text(std::string_view text, const SplitOptions& options,
                                  const TokenCounter& count_tokens) {
  if (options.chunk_tokens < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--chunk-tokens must be >= 1, got {}",
                options.chunk_tokens);
  }
  if (options.overlap_tokens < 0 || options.overlap_tokens >= options.chunk_tokens) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--chunk-overlap must be in [0, --chunk-tokens = {}), got {}", options.chunk_tokens,
                options.overlap_tokens);
  }
  return Splitter(text, options, count_tokens).run();
}

}  // namespace qwen3::summarize
