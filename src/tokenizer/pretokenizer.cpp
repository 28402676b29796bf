#include "tokenizer/pretokenizer.h"

#include "core/error.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace qwen3::text {

const std::string_view kQwenSplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

namespace {

struct Char {
  uint32_t offset;  // byte offset of the character
  char32_t cp;
  CharClass cls;
};

bool is_crlf(char32_t cp) { return cp == '\r' || cp == '\n'; }

// Case-insensitive ASCII letter test as Oniguruma's (?i:) applies it; U+017F (long s)
// case-folds to 's'.
bool ci_is(char32_t cp, char lower) {
  if (lower == 's' && cp == 0x17F) return true;
  return cp == static_cast<char32_t>(lower) || cp == static_cast<char32_t>(lower - 'a' + 'A');
}

// Length in characters of a contraction starting at chars[i] (an apostrophe), or 0.
size_t contraction_length(const std::vector<Char>& chars, size_t i) {
  const size_t n = chars.size();
  if (i + 1 >= n) return 0;
  const char32_t a = chars[i + 1].cp;
  if (ci_is(a, 's') || ci_is(a, 't') || ci_is(a, 'm') || ci_is(a, 'd')) return 2;
  if (i + 2 >= n) return 0;
  const char32_t b = chars[i + 2].cp;
  if ((ci_is(a, 'r') && ci_is(b, 'e')) || (ci_is(a, 'v') && ci_is(b, 'e')) ||
      (ci_is(a, 'l') && ci_is(b, 'l'))) {
    return 3;
  }
  return 0;
}

// One piece starting at character i; returns the character index where it ends.
size_t next_piece(const std::vector<Char>& chars, size_t i) {
  const size_t n = chars.size();
  const Char& c = chars[i];
  auto run = [&](size_t j, CharClass cls) {
    while (j < n && chars[j].cls == cls) ++j;
    return j;
  };
  if (c.cp == '\'') {
    if (const size_t len = contraction_length(chars, i)) return i + len;
  }
  if (c.cls == CharClass::kLetter) return run(i + 1, CharClass::kLetter);
  if (c.cls != CharClass::kNumber && !is_crlf(c.cp) && i + 1 < n &&
      chars[i + 1].cls == CharClass::kLetter) {
    return run(i + 2, CharClass::kLetter);
  }
  if (c.cls == CharClass::kNumber) return i + 1;
  const bool space_then_other = c.cp == ' ' && i + 1 < n && chars[i + 1].cls == CharClass::kOther;
  if (c.cls == CharClass::kOther || space_then_other) {
    size_t j = run(space_then_other ? i + 1 : i, CharClass::kOther);
    while (j < n && is_crlf(chars[j].cp)) ++j;
    return j;
  }
  // Whitespace: \s*[\r\n]+ ends after the run's last CR/LF; else \s+(?!\S) leaves the
  // run's last character to the next piece when one follows; else \s+.
  const size_t end = run(i, CharClass::kSpace);
  for (size_t k = end; k > i; --k) {
    if (is_crlf(chars[k - 1].cp)) return k;
  }
  if (end == n || end - i == 1) return end;
  return end - 1;
}

}  // namespace

void pretokenize(std::string_view text, std::vector<Span>& out) {
  thread_local std::vector<Char> chars;
  chars.clear();
  chars.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    char32_t cp = static_cast<unsigned char>(text[i]);
    size_t bad = 0;
    const size_t len = cp < 0x80 ? 1 : decode_utf8(text, i, &cp, &bad);
    if (len == 0) QWEN3_THROW(ErrorCode::kInternal, "pretokenize: invalid UTF-8 at byte {}", i);
    chars.push_back({static_cast<uint32_t>(i), cp, char_class(cp)});
    i += len;
  }
  const auto offset = [&](size_t k) {
    return k < chars.size() ? chars[k].offset : static_cast<uint32_t>(text.size());
  };
  for (size_t i = 0; i < chars.size();) {
    const size_t j = next_piece(chars, i);
    out.push_back({offset(i), offset(j)});
    i = j;
  }
}

}  // namespace qwen3::text
