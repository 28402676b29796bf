#include "tokenizer/parsers/text_scan.h"

#include <algorithm>

namespace qwen3 {

size_t partial_marker_suffix(std::string_view text, std::string_view marker) {
  if (marker.empty()) return 0;
  const size_t longest = std::min(text.size(), marker.size() - 1);
  for (size_t k = longest; k > 0; --k) {
    if (text.ends_with(marker.substr(0, k))) return k;
  }
  return 0;
}

size_t utf8_incomplete_suffix(std::string_view text) {
  // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte.
  const size_t window = std::min<size_t>(text.size(), 3);
  for (size_t back = 1; back <= window; ++back) {
    const auto byte = static_cast<unsigned char>(text[text.size() - back]);
    if ((byte & 0xC0) == 0x80) continue;
    size_t length = 1;  // ASCII, or an invalid lead byte that waiting cannot fix
    if (byte >= 0xC2 && byte <= 0xDF) length = 2;
    if (byte >= 0xE0 && byte <= 0xEF) length = 3;
    if (byte >= 0xF0 && byte <= 0xF4) length = 4;
    return length > back ? back : 0;
  }
  return 0;
}

size_t emittable_prefix(std::string_view text, std::initializer_list<std::string_view> markers) {
  size_t hold = utf8_incomplete_suffix(text);
  for (std::string_view marker : markers)
    hold = std::max(hold, partial_marker_suffix(text, marker));
  return text.size() - hold;
}

}  // namespace qwen3
