// Character classes used by the Qwen pre-tokenizer regex, with Oniguruma's Unicode
// semantics (HF `tokenizers` runs the tokenizer.json regex with Oniguruma):
//   \p{L}: Lu Ll Lt Lm Lo     \p{N}: Nd Nl No
//   \s:    U+0009-000D, U+0085, Zs, Zl, Zp
// and NFC normalization (utf8proc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qwen3::text {

enum class CharClass : uint8_t { kLetter, kNumber, kSpace, kOther };

CharClass char_class_slow(char32_t cp);

// ASCII classes inline (the common case), the rest from a table.
inline CharClass char_class(char32_t cp) {
  if (cp < 0x80) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::kSpace;
    return CharClass::kOther;
  }
  return char_class_slow(cp);
}

// NFC of valid UTF-8 text (utf8proc), with a fast path for text already in NFC by
// construction (see nfc_inert in unicode.cpp).
std::string nfc(std::string_view s);
// True when `s` is certainly NFC without normalizing (false means "maybe not").
bool is_nfc_fast(std::string_view s);

}  // namespace qwen3::text
