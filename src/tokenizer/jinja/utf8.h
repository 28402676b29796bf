// UTF-8 helpers for the Jinja interpreter: Python `str` semantics on UTF-8 bytes.
//
// Template strings are UTF-8 std::strings; Python counts, indexes and slices code
// points, so these helpers convert between byte offsets and code points. Invalid
// UTF-8 bytes are treated as one code point each (never an error: user content may
// carry anything, and rendering must not depend on its validity).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/utf8.h"

namespace qwen3::jinja {

// Decodes the code point at s[pos]; sets `len` to its byte length (>= 1).
char32_t utf8_decode(std::string_view s, size_t pos, size_t& len);
inline void utf8_append(std::string& out, char32_t cp) { text::append_utf8(out, cp); }

// Byte offset where each code point starts, plus s.size() at the end: [n_cp + 1].
std::vector<size_t> utf8_offsets(std::string_view s);
size_t utf8_length(std::string_view s);

// Python's str.isspace() set (ASCII whitespace, \x1c-\x1f, \x85, NBSP, Unicode spaces).
bool is_space_cp(char32_t cp);
// Byte length of the whitespace code point at s[pos], or 0 when it is not whitespace.
size_t space_len(std::string_view s, size_t pos);
// Byte offset after stripping trailing whitespace (Python rstrip()).
size_t trailing_space_start(std::string_view s);

enum class StripSide { kLeft, kRight, kBoth };
// Python str.strip/lstrip/rstrip: `chars` null strips whitespace, else any code point in it.
std::string py_strip(std::string_view s, const std::string* chars, StripSide side);

// ASCII-only case mapping (non-ASCII code points pass through unchanged).
std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
// Python str.title(): a letter following a non-letter is upper-cased, others lowered.
std::string py_title(std::string_view s);
// Python str.capitalize(): first code point upper, the rest lower.
std::string py_capitalize(std::string_view s);

}  // namespace qwen3::jinja
