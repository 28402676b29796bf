#include "tokenizer/jinja/lexer.h"

#include <fmt/core.h>

#include <array>
#include <charconv>

#include "core/error.h"
#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {

SourceMap::SourceMap(std::string name, std::string_view source) : name_(std::move(name)) {
  line_starts_.push_back(0);
  for (size_t k = 0; k < source.size(); ++k) {
    if (source[k] == '\n') line_starts_.push_back(static_cast<uint32_t>(k + 1));
  }
}

std::string SourceMap::where(uint32_t offset) const {
  size_t line = 0;
  while (line + 1 < line_starts_.size() && line_starts_[line + 1] <= offset) ++line;
  return fmt::format("{}:{}:{}", name_, line + 1, offset - line_starts_[line] + 1);
}

namespace {

// Template text after the block-whitespace rules, with each byte's original offset.
struct Preprocessed {
  std::string text;
  std::vector<uint32_t> origin;  // [text.size() + 1]: origin of each byte, then the end
};

bool opens_block(std::string_view s, size_t k) {
  return k + 1 < s.size() && s[k] == '{' && (s[k + 1] == '%' || s[k + 1] == '#' || s[k + 1] == '-');
}

// lstrip_blocks, as the reference's /^[ \t]*({[#%-])/gm.
Preprocessed lstrip_blocks(std::string_view src) {
  Preprocessed out;
  size_t k = 0;
  while (k < src.size()) {
    const bool line_start = k == 0 || src[k - 1] == '\n' || src[k - 1] == '\r';
    if (line_start) {
      size_t e = k;
      while (e < src.size() && (src[e] == ' ' || src[e] == '\t')) ++e;
      if (e > k && opens_block(src, e)) k = e;
    }
    out.text.push_back(src[k]);
    out.origin.push_back(static_cast<uint32_t>(k));
    ++k;
  }
  return out;
}

// trim_blocks, as the reference's /([#%-]})\n/g.
Preprocessed trim_blocks(const Preprocessed& in) {
  Preprocessed out;
  const std::string& s = in.text;
  for (size_t k = 0; k < s.size(); ++k) {
    const bool after_block = k >= 2 && s[k - 1] == '}' &&
                             (s[k - 2] == '#' || s[k - 2] == '%' || s[k - 2] == '-');
    if (s[k] == '\n' && after_block) continue;
    out.text.push_back(s[k]);
    out.origin.push_back(in.origin[k]);
  }
  return out;
}

Preprocessed preprocess(std::string_view src) {
  if (!src.empty() && src.back() == '\n') src.remove_suffix(1);
  Preprocessed out = trim_blocks(lstrip_blocks(src));
  out.origin.push_back(static_cast<uint32_t>(src.size()));
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) {
  return is_digit(c) || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Longest first, as the reference's mapping table ("**" before "*", "//" before "/").
constexpr std::array<std::string_view, 24> kOperators = {
    "**", "//", "<=", ">=", "==", "!=", "(", ")", "{", "}", "[", "]",
    ",",  ".",  ":",  "|",  "<",  ">",  "+", "-", "~", "*", "/", "%"};

class Lexer {
 public:
  Lexer(const Preprocessed& pre, const SourceMap& map) : src_(pre.text), pre_(pre), map_(map) {}

  std::vector<Token> run() {
    while (pos_ < src_.size()) {
      if (outside_tags() && lex_text()) continue;
      if (starts("{#")) {
        lex_comment();
      } else if (starts("{%-") || starts("{{-")) {
        strip_last_text();
        push(src_[pos_ + 1] == '%' ? TokenKind::kOpenStatement : TokenKind::kOpenExpression,
             src_.substr(pos_, 2), 3);
        curly_depth_ = 0;
      } else {
        lex_inside_tag();
      }
    }
    tokens_.push_back(Token{TokenKind::kEnd, "", pre_.origin.back()});
    return std::move(tokens_);
  }

 private:
  bool starts(std::string_view s) const { return src_.substr(pos_, s.size()) == s; }
  uint32_t origin(size_t p) const { return pre_.origin[p]; }

  [[noreturn]] void fail(size_t p, const std::string& what) const {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: {}", map_.where(origin(p)), what);
  }

  void push(TokenKind kind, std::string_view text, size_t advance) {
    tokens_.push_back(Token{kind, std::string(text), origin(pos_)});
    pos_ += advance;
  }

  bool outside_tags() const {
    if (tokens_.empty()) return true;
    const TokenKind last = tokens_.back().kind;
    return last == TokenKind::kCloseStatement || last == TokenKind::kCloseExpression ||
           last == TokenKind::kComment;
  }

  bool lex_text() {
    const size_t begin = pos_;
    while (pos_ < src_.size() &&
           !(src_[pos_] == '{' && pos_ + 1 < src_.size() &&
             (src_[pos_ + 1] == '%' || src_[pos_ + 1] == '{' || src_[pos_ + 1] == '#'))) {
      ++pos_;
    }
    if (pos_ == begin) return false;
    tokens_.push_back(Token{TokenKind::kText, std::string(src_.substr(begin, pos_ - begin)),
                            origin(begin)});
    return true;
  }

  // `{%-` and friends: drop trailing whitespace of the text before.
  void strip_last_text() {
    if (tokens_.empty() || tokens_.back().kind != TokenKind::kText) return;
    std::string& text = tokens_.back().text;
    text.resize(trailing_space_start(text));
    if (text.empty()) tokens_.pop_back();
  }

  void skip_space() {
    while (size_t n = space_len(src_, pos_)) pos_ += n;
  }

  void lex_comment() {
    const size_t begin = pos_;
    pos_ += 2;
    const bool strip_before = pos_ < src_.size() && src_[pos_] == '-';
    if (strip_before) ++pos_;
    const size_t end = src_.find("#}", pos_);
    if (end == std::string_view::npos) fail(begin, "comment is not closed with '#}'");
    const bool strip_after = end > pos_ && src_[end - 1] == '-';
    if (strip_before) strip_last_text();
    tokens_.push_back(Token{TokenKind::kComment, "", origin(begin)});
    pos_ = end + 2;
    if (strip_after) skip_space();
  }

  void lex_inside_tag() {
    skip_space();
    if (pos_ >= src_.size()) return;
    if (starts("-%}") || starts("-}}")) {
      push(src_[pos_ + 1] == '%' ? TokenKind::kCloseStatement : TokenKind::kCloseExpression,
           src_.substr(pos_ + 1, 2), 3);
      skip_space();
      return;
    }
    if (starts("{%") || starts("{{")) {
      push(src_[pos_ + 1] == '%' ? TokenKind::kOpenStatement : TokenKind::kOpenExpression,
           src_.substr(pos_, 2), 2);
      curly_depth_ = 0;
      return;
    }
    if (starts("%}") || (starts("}}") && curly_depth_ == 0)) {
      push(src_[pos_] == '%' ? TokenKind::kCloseStatement : TokenKind::kCloseExpression,
           src_.substr(pos_, 2), 2);
      return;
    }
    const char c = src_[pos_];
    if (c == '\'' || c == '"') return lex_string(c);
    if (is_digit(c)) return lex_number();
    if (is_word(c)) {
      const size_t begin = pos_;
      while (pos_ < src_.size() && is_word(src_[pos_])) ++pos_;
      tokens_.push_back(Token{TokenKind::kIdentifier, std::string(src_.substr(begin, pos_ - begin)),
                              origin(begin)});
      return;
    }
    for (std::string_view op : kOperators) {
      if (starts(op)) {
        if (op == "{") ++curly_depth_;
        if (op == "}") --curly_depth_;
        push(TokenKind::kOperator, op, op.size());
        return;
      }
    }
    if (c == '=') return push(TokenKind::kOperator, "=", 1);
    fail(pos_, fmt::format("unexpected character '{}'", c));
  }

  void lex_number() {
    const size_t begin = pos_;
    while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
    const bool after_dot = !tokens_.empty() && tokens_.back().kind == TokenKind::kOperator &&
                           tokens_.back().text == ".";
    bool is_float = false;
    if (!after_dot && pos_ + 1 < src_.size() && src_[pos_] == '.' && is_digit(src_[pos_ + 1])) {
      is_float = true;
      ++pos_;
      while (pos_ < src_.size() && is_digit(src_[pos_])) ++pos_;
    }
    tokens_.push_back(Token{is_float ? TokenKind::kFloat : TokenKind::kInteger,
                            std::string(src_.substr(begin, pos_ - begin)), origin(begin)});
  }

  void lex_string(char quote) {
    const size_t begin = pos_++;
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) fail(begin, "string literal is not closed");
      const char c = src_[pos_++];
      if (c == quote) break;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= src_.size()) fail(begin, "string literal is not closed");
      lex_escape(out);
    }
    tokens_.push_back(Token{TokenKind::kString, std::move(out), origin(begin)});
  }

  // The reference's escapes: \n \t \r \b \f \v \' \" \\ \xHH \uHHHH; others are errors.
  void lex_escape(std::string& out) {
    const size_t at = pos_ - 1;
    const char e = src_[pos_++];
    switch (e) {
      case 'n': out.push_back('\n'); return;
      case 't': out.push_back('\t'); return;
      case 'r': out.push_back('\r'); return;
      case 'b': out.push_back('\b'); return;
      case 'f': out.push_back('\f'); return;
      case 'v': out.push_back('\v'); return;
      case '\'': case '"': case '\\': out.push_back(e); return;
      case 'x': case 'u': {
        const size_t n = e == 'x' ? 2 : 4;
        uint32_t cp = 0;
        const auto hex = src_.substr(pos_, n);
        const auto res = std::from_chars(hex.data(), hex.data() + hex.size(), cp, 16);
        if (hex.size() != n || res.ptr != hex.data() + n) fail(at, "invalid hexadecimal escape");
        utf8_append(out, cp);
        pos_ += n;
        return;
      }
      default:
        fail(at, fmt::format("unsupported escape '\\{}' in string literal", e));
    }
  }

  std::string_view src_;
  const Preprocessed& pre_;
  const SourceMap& map_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int curly_depth_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const SourceMap& map) {
  const Preprocessed pre = preprocess(source);
  return Lexer(pre, map).run();
}

}  // namespace qwen3::jinja
