#include "tokenizer/pretokenizer.h"

#include <array>

#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace qwen3::text {

const std::string_view kQwenSplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

// One decoded character: code point, class and byte length. The text is valid UTF-8
// (Tokenizer::encode sanitizes first), so decoding cannot fail here.
struct Ch {
  char32_t cp;
  CharClass cls;
  uint32_t len;
};

// Reads the character at byte i (< text.size()); ASCII without a table miss.
inline Ch char_at(std::string_view t, size_t i) {
  const auto b = static_cast<unsigned char>(t[i]);
  if (b < 0x80) return {b, char_class(b), 1};
  char32_t cp = kReplacementChar;
  size_t bad = 0;
  size_t n = decode_utf8(t, i, &cp, &bad);
  if (n == 0) n = bad > 0 ? bad : t.size() - i;  // defensive: treat as one unit
  return {cp, char_class(cp), static_cast<uint32_t>(n)};
}

bool is_crlf(char32_t cp) { return cp == '\r' || cp == '\n'; }

// Case-insensitive ASCII letter test as Oniguruma's (?i:) applies it; U+017F (long s)
// case-folds to 's'.
bool ci_is(char32_t cp, char lower) {
  if (lower == 's' && cp == 0x17F) return true;
  return cp == static_cast<char32_t>(lower) || cp == static_cast<char32_t>(lower - 'a' + 'A');
}

// Byte length of a contraction starting at the apostrophe at byte i, or 0.
size_t contraction_length(std::string_view t, size_t i) {
  const size_t n = t.size();
  if (i + 1 >= n) return 0;
  const Ch a = char_at(t, i + 1);
  if (ci_is(a.cp, 's') || ci_is(a.cp, 't') || ci_is(a.cp, 'm') || ci_is(a.cp, 'd'))
    return 1 + a.len;
  if (i + 1 + a.len >= n) return 0;
  const Ch b = char_at(t, i + 1 + a.len);
  if ((ci_is(a.cp, 'r') && ci_is(b.cp, 'e')) || (ci_is(a.cp, 'v') && ci_is(b.cp, 'e')) ||
      (ci_is(a.cp, 'l') && ci_is(b.cp, 'l'))) {
    return 1 + a.len + b.len;
  }
  return 0;
}

// Advances over characters of class `cls` from byte j.
size_t run(std::string_view t, size_t j, CharClass cls) {
  while (j < t.size()) {
    const Ch d = char_at(t, j);
    if (d.cls != cls) break;
    j += d.len;
  }
  return j;
}

// One piece starting at byte i; returns the byte offset where it ends.
size_t next_piece(std::string_view t, size_t i) {
  const size_t n = t.size();
  const Ch c = char_at(t, i);
  const size_t after = i + c.len;
  if (c.cp == '\'') {
    if (const size_t len = contraction_length(t, i)) return i + len;
  }
  if (c.cls == CharClass::kLetter) return run(t, after, CharClass::kLetter);
  const Ch next = after < n ? char_at(t, after) : Ch{0, CharClass::kOther, 0};
  if (c.cls != CharClass::kNumber && !is_crlf(c.cp) && after < n &&
      next.cls == CharClass::kLetter) {
    return run(t, after + next.len, CharClass::kLetter);
  }
  if (c.cls == CharClass::kNumber) return after;
  const bool space_then_other = c.cp == ' ' && after < n && next.cls == CharClass::kOther;
  if (c.cls == CharClass::kOther || space_then_other) {
    size_t j = run(t, space_then_other ? after : i, CharClass::kOther);
    while (j < n && is_crlf(static_cast<unsigned char>(t[j]))) ++j;
    return j;
  }
  // Whitespace: \s*[\r\n]+ ends after the run's last CR/LF; else \s+(?!\S) leaves the
  // run's last character to the next piece when one follows; else \s+.
  size_t j = i, last_start = i, crlf_end = 0;
  while (j < n) {
    const Ch d = char_at(t, j);
    if (d.cls != CharClass::kSpace) break;
    last_start = j;
    j += d.len;
    if (is_crlf(d.cp)) crlf_end = j;
  }
  if (crlf_end > 0) return crlf_end;
  if (j == n || last_start == i) return j;
  return last_start;
}

}  // namespace

void pretokenize(std::string_view text, std::vector<Span>& out) {
  for (size_t i = 0; i < text.size();) {
    const size_t j = next_piece(text, i);
    out.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(j)});
    i = j;
  }
}

}  // namespace qwen3::text
