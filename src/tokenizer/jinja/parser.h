// Jinja parser: tokens -> syntax tree.
//
// Grammar and precedence follow @huggingface/jinja (loosest first):
//   ternary (a if c else b) < or < and < not < comparison (== != < <= > >= in, not in)
//   < additive (+ - ~) < multiplicative (* / // %) < power (**) < test (is [not] name)
//   < filter (| name(args)) < unary sign (- +) < call/member (f(x) a.b a[i] a[i:j:k])
// Nesting depth is bounded (kMaxParseDepth) so hostile input cannot overflow the stack.
#pragma once

#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace qwen3::jinja {

inline constexpr int kMaxParseDepth = 200;

// Throws qwen3::Error (kInvalidArgument) naming line:column on a syntax error or on a
// construct outside the supported subset.
Body parse(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace qwen3::jinja
