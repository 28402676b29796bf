#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {

char32_t utf8_decode(std::string_view s, size_t pos, size_t& len) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  size_t need = 0;
  char32_t cp = 0;
  if (b0 < 0x80) {
    len = 1;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    need = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    need = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    need = 3;
    cp = b0 & 0x07;
  } else {
    len = 1;
    return b0;
  }
  if (pos + need >= s.size()) {
    len = 1;
    return b0;
  }
  for (size_t k = 1; k <= need; ++k) {
    const auto b = static_cast<unsigned char>(s[pos + k]);
    if ((b & 0xC0) != 0x80) {
      len = 1;
      return b0;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  len = need + 1;
  return cp;
}

std::vector<size_t> utf8_offsets(std::string_view s) {
  std::vector<size_t> offsets;
  offsets.reserve(s.size() + 1);
  size_t pos = 0;
  while (pos < s.size()) {
    offsets.push_back(pos);
    size_t len = 1;
    utf8_decode(s, pos, len);
    pos += len;
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (size_t pos = 0; pos < s.size(); ++n) {
    size_t len = 1;
    utf8_decode(s, pos, len);
    pos += len;
  }
  return n;
}

bool is_space_cp(char32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F)) return true;
  if (cp < 0x80) return false;
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

size_t space_len(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  size_t len = 1;
  const char32_t cp = utf8_decode(s, pos, len);
  return is_space_cp(cp) ? len : 0;
}

namespace {

bool in_set(char32_t cp, const std::string* chars) {
  if (chars == nullptr) return is_space_cp(cp);
  for (size_t pos = 0; pos < chars->size();) {
    size_t len = 1;
    if (utf8_decode(*chars, pos, len) == cp) return true;
    pos += len;
  }
  return false;
}

bool is_ascii_alpha(char32_t cp) { return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'); }

}  // namespace

size_t trailing_space_start(std::string_view s) {
  const std::vector<size_t> offsets = utf8_offsets(s);
  size_t end = offsets.size() - 1;
  while (end > 0) {
    size_t len = 1;
    if (!is_space_cp(utf8_decode(s, offsets[end - 1], len))) break;
    --end;
  }
  return offsets[end];
}

std::string py_strip(std::string_view s, const std::string* chars, StripSide side) {
  const std::vector<size_t> offsets = utf8_offsets(s);
  size_t begin = 0;
  size_t end = offsets.size() - 1;
  size_t len = 1;
  if (side != StripSide::kRight) {
    while (begin < end && in_set(utf8_decode(s, offsets[begin], len), chars)) ++begin;
  }
  if (side != StripSide::kLeft) {
    while (end > begin && in_set(utf8_decode(s, offsets[end - 1], len), chars)) --end;
  }
  return std::string(s.substr(offsets[begin], offsets[end] - offsets[begin]));
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string py_title(std::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    const auto cp = static_cast<unsigned char>(c);
    if (is_ascii_alpha(cp)) {
      c = prev_cased ? ascii_lower(std::string(1, c))[0] : ascii_upper(std::string(1, c))[0];
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

std::string py_capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = ascii_upper(out.substr(0, 1))[0];
  return out;
}

}  // namespace qwen3::jinja
