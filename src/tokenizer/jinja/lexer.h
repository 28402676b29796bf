// Jinja lexer: template text -> tokens, with the whitespace rules of the reference.
//
// Whitespace handling follows @huggingface/jinja (the oracle our fixtures come from),
// which transformers' settings (trim_blocks=True, lstrip_blocks=True) also give for
// ordinary templates:
//   * one trailing "\n" of the template is dropped (jinja2 keep_trailing_newline=False);
//   * lstrip_blocks: spaces/tabs from a line start up to `{%`, `{#` (or `{-`) go;
//   * trim_blocks: the "\n" right after `%}`, `#}` (or `-}`) goes;
//   * `{%-`, `{{-`, `{#-` strip all whitespace before; `-%}`, `-}}`, `-#}` all after.
// Each token keeps the byte offset of its first character in the ORIGINAL source so
// errors can name line:column.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qwen3::jinja {

enum class TokenKind {
  kText,
  kOpenStatement,   // {%
  kCloseStatement,  // %}
  kOpenExpression,  // {{
  kCloseExpression, // }}
  kComment,         // {# ... #} (kept so text after it is lexed as text)
  kInteger,
  kFloat,
  kString,
  kIdentifier,
  kOperator,        // ( ) [ ] { } , . : | = + - ~ * ** / // % < > <= >= == !=
  kEnd,
};

struct Token {
  TokenKind kind;
  std::string text;  // unescaped for strings; the operator spelling for kOperator
  uint32_t offset;   // byte offset in the original template source
};

// Maps byte offsets of a template source to 1-based line:column (column in bytes).
class SourceMap {
 public:
  SourceMap(std::string name, std::string_view source);
  std::string where(uint32_t offset) const;  // "name:line:col"
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<uint32_t> line_starts_;
};

// Throws qwen3::Error (kInvalidArgument) naming line:column on malformed input.
std::vector<Token> tokenize(std::string_view source, const SourceMap& map);

}  // namespace qwen3::jinja
