// Recursive text splitting for `qwen3 summarize` (MISSION.md 3): a long text is cut at
// the coarsest boundary that gives pieces small enough (paragraphs, then lines, then
// sentences: ". ", "! ", "? ", "。", "！", "？", then spaces, then single UTF-8
// characters), and the pieces are packed greedily into chunks of at most `chunk_tokens`
// tokens; each chunk after the first starts with the previous chunk's last pieces, up to
// `overlap_tokens` tokens of them. Separators stay at the end of their piece, so every
// chunk is a contiguous range of the text and the chunks cover it in order.
// Token counts are per piece (a chunk's count is the sum of its pieces'), so a chunk may
// encode to a few tokens more or less than that sum where pieces join.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace qwen3::summarize {

struct SplitOptions {
  int64_t chunk_tokens = 6000;
  int64_t overlap_tokens = 200;
};

struct TextChunk {
  size_t begin = 0;  // byte range [begin, end) of the text
  size_t end = 0;
  int64_t tokens = 0;  // sum of its pieces' token counts
};

using TokenCounter = std::function<int64_t(std::string_view)>;

// Throws Error(kInvalidArgument) naming --chunk-tokens / --chunk-overlap when
// chunk_tokens < 1 or overlap_tokens is not in [0, chunk_tokens). An empty text gives no
// chunks.
std::vector<TextChunk> split_text(std::string_view text, const SplitOptions& options,
                                  const TokenCounter& count_tokens);

}  // namespace qwen3::summarize
