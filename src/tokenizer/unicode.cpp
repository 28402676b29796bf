#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <memory>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace qwen3::text {
namespace {

CharClass classify_slow(char32_t cp) {
  if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x85) return CharClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
      return CharClass::kSpace;
    default:
      return CharClass::kOther;
  }
}

// Classes of U+0000..U+FFFF, computed once (64 KiB): the pre-tokenizer asks per character.
const std::array<CharClass, 0x10000>& bmp_table() {
  static const auto table = [] {
    auto t = std::make_unique<std::array<CharClass, 0x10000>>();
    for (char32_t cp = 0; cp < 0x10000; ++cp) (*t)[cp] = classify_slow(cp);
    return t;
  }();
  return *table;
}

}  // namespace

CharClass char_class_slow(char32_t cp) {
  return cp < 0x10000 ? bmp_table()[cp] : classify_slow(cp);
}

namespace {

// Code points that NFC leaves alone whatever surrounds them: not decomposed (NFC_QC=Yes)
// and never the second element of a composition (combining marks, Hangul V/T jamo, kana
// voicing marks, Indic and Arabic composing signs all lie outside these ranges). Text
// made only of them is already NFC; this skips utf8proc for most Latin, Cyrillic, CJK,
// kana, Hangul-syllable and emoji text.
bool nfc_inert(char32_t cp) {
  return cp < 0x300 || (cp >= 0x400 && cp < 0x483) || (cp >= 0x2002 && cp < 0x20D0) ||
         (cp >= 0x3000 && cp < 0x302A) || (cp >= 0x3030 && cp < 0x3099) ||
         (cp >= 0x309B && cp < 0x3100) || (cp >= 0x3400 && cp < 0x4DC0) ||
         (cp >= 0x4E00 && cp < 0xA000) || (cp >= 0xAC00 && cp < 0xD7A4) ||
         (cp >= 0xFF01 && cp < 0xFF9E) || (cp >= 0x1F000 && cp < 0x1FB00);
}

bool already_nfc(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    size_t bad = 0;
    const size_t n = decode_utf8(s, i, &cp, &bad);
    if (n == 0 || !nfc_inert(cp)) return false;
    i += n;
  }
  return true;
}

}  // namespace

bool is_nfc_fast(std::string_view s) { return already_nfc(s); }

namespace {

void append_nfc_utf8proc(std::string_view s, std::string& out) {
  utf8proc_uint8_t* buf = nullptr;
  const utf8proc_ssize_t n = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(s.data()), static_cast<utf8proc_ssize_t>(s.size()),
      &buf, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "NFC normalization failed: {}", utf8proc_errmsg(n));
  }
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  std::free(buf);
}

}  // namespace

// Only the regions around non-inert characters go through utf8proc: each region starts
// at the character before a run of non-inert characters (a possible composition base)
// and ends where the next inert character starts. An inert character is a starter that
// nothing composes onto, so normalization never crosses such a boundary.
std::string nfc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t copied = 0, prev_start = 0;
  for (size_t i = 0; i < s.size();) {
    char32_t cp = static_cast<unsigned char>(s[i]);
    size_t bad = 0;
    size_t n = cp < 0x80 ? 1 : decode_utf8(s, i, &cp, &bad);
    if (n == 0) n = 1;  // invalid bytes: leave them to utf8proc's error below
    if (cp < 0x80 || (n > 1 && nfc_inert(cp))) {
      prev_start = i;
      i += n;
      continue;
    }
    const size_t region = std::max(copied, prev_start);
    size_t end = i + n;
    while (end < s.size()) {
      char32_t c2 = static_cast<unsigned char>(s[end]);
      size_t m = c2 < 0x80 ? 1 : decode_utf8(s, end, &c2, &bad);
      if (m == 0) m = 1;
      if (c2 < 0x80 || (m > 1 && nfc_inert(c2))) break;
      end += m;
    }
    out.append(s.substr(copied, region - copied));
    append_nfc_utf8proc(s.substr(region, end - region), out);
    copied = end;
    prev_start = end;
    i = end;
  }
  out.append(s.substr(copied));
  return out;
}

}  // namespace qwen3::text
