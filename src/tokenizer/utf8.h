// UTF-8 decoding with the "maximal subpart" replacement rule (what Rust's
// String::from_utf8_lossy, Python's errors="replace" and WHATWG decoders do): each
// maximal invalid subsequence becomes one U+FFFD. The streaming form stops before a
// trailing incomplete-but-valid prefix, so decoding in pieces equals decoding at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qwen3::text {

inline constexpr char32_t kReplacementChar = 0xFFFD;

// Decodes one code point at s[i]. Returns its length (1-4) and sets *cp, or returns 0 when
// s[i..] starts with an invalid sequence (then *invalid_len is the maximal subpart length,
// >= 1) or with a valid but truncated prefix at the end of s (then *invalid_len is 0).
size_t decode_utf8(std::string_view s, size_t i, char32_t* cp, size_t* invalid_len);

void append_utf8(std::string& out, char32_t cp);

// Appends the lossy decoding of `bytes` to `out`. When `final` is false, a trailing valid
// prefix of a multi-byte character is left unconsumed. Returns the bytes consumed.
size_t append_utf8_lossy(std::string_view bytes, std::string& out, bool final);

bool is_valid_utf8(std::string_view s);
// Lossy copy: invalid sequences become U+FFFD.
std::string sanitize_utf8(std::string_view s);

}  // namespace qwen3::text
