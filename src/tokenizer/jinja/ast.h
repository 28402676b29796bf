// Syntax tree of a parsed template. Immutable after parsing, so one tree is shared by
// concurrent renders. Every node keeps the source offset it came from for errors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace qwen3::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;
using KeywordArgs = std::vector<std::pair<std::string, ExprPtr>>;

enum class ExprKind {
  kLiteral,  // literal
  kName,     // name
  kList,     // children: items
  kTuple,    // children: items
  kDict,     // children: key0, value0, key1, value1, ...
  kAttr,     // children: [object]; name: attribute       (a.b)
  kIndex,    // children: [object, index]                 (a[i])
  kSlice,    // children: [object, start, stop, step], each bound may be null
  kCall,     // children: [callee, positional...]; kwargs
  kFilter,   // children: [operand, positional...]; kwargs; name: filter
  kTest,     // children: [operand]; name: test; negate
  kUnary,    // children: [operand]; name: "-", "+" or "not"
  kBinary,   // children: [lhs, rhs]; name: operator ("and", "or", "in", "not in", "+", ...)
  kTernary,  // children: [condition, if_true, if_false]; if_false null for `a if c`
};

struct Expr {
  ExprKind kind;
  uint32_t offset;
  std::string name;
  Value literal;
  std::vector<ExprPtr> children;
  KeywordArgs kwargs;
  bool negate = false;
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // expr; body; else_body (an elif is a nested kIf in else_body)
  kFor,          // targets in expr [if condition]; body; else_body
  kSet,          // targets = expr, or target.attr = expr (attr non-empty)
  kSetBlock,     // {% set target %}body{% endset %}
  kMacro,        // name(params); body
  kFilterBlock,  // {% filter expr %}body{% endfilter %}; expr is a kFilter with null operand
  kBreak,
  kContinue,
};

struct Stmt {
  StmtKind kind;
  uint32_t offset;
  std::string text;                  // kText
  ExprPtr expr;                      // kOutput/kIf/kFor/kSet/kFilterBlock
  ExprPtr condition;                 // kFor: `for x in y if condition`
  std::vector<std::string> targets;  // kFor/kSet/kSetBlock names
  std::string attr;                  // kSet: `set ns.attr = ...`
  std::string name;                  // kMacro
  KeywordArgs params;                // kMacro: name, default (null when none)
  Body body;
  Body else_body;
};

}  // namespace qwen3::jinja
