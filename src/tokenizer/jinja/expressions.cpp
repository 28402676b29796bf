// Expression evaluation for the Interpreter (statements live in interpreter.cpp).
#include <fmt/core.h>

#include "core/error.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"

namespace qwen3::jinja {

Value Interpreter::eval(const Expr& e, Scope& scope) {
  try {
    return eval_inner(e, scope);
  } catch (const TemplateFault& f) {
    fail(e.offset, f.what());
  }
}

Value Interpreter::eval_inner(const Expr& e, Scope& scope) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      return e.literal;
    case ExprKind::kName: {
      const Value* v = scope.lookup(e.name);
      return v != nullptr ? *v : Value::undefined(e.name);
    }
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kDict:
      return eval_collection(e, scope);
    case ExprKind::kAttr:
      return get_attribute(eval(*e.children[0], scope), e.name);
    case ExprKind::kIndex:
      return get_item(eval(*e.children[0], scope), eval(*e.children[1], scope));
    case ExprKind::kSlice: {
      Value bounds[3];
      for (size_t k = 0; k < 3; ++k) {
        if (e.children[k + 1]) bounds[k] = eval(*e.children[k + 1], scope);
      }
      return slice_value(eval(*e.children[0], scope), e.children[1] ? &bounds[0] : nullptr,
                         e.children[2] ? &bounds[1] : nullptr, e.children[3] ? &bounds[2] : nullptr);
    }
    case ExprKind::kCall:
      return eval_call(e, scope);
    case ExprKind::kFilter:
      return eval_filter(e, eval(*e.children[0], scope), scope);
    case ExprKind::kTest: {
      const Value operand = eval(*e.children[0], scope);
      const CallArgs args = eval_args(e, 1, scope);
      return Value::boolean(apply_test(e.name, operand, args) != e.negate);
    }
    case ExprKind::kUnary:
      return unary_op(e.name, eval(*e.children[0], scope));
    case ExprKind::kBinary:
      return eval_binary(e, scope);
    case ExprKind::kTernary:
      if (eval(*e.children[0], scope).truthy()) return eval(*e.children[1], scope);
      return e.children[2] ? eval(*e.children[2], scope) : Value::undefined();
  }
  throw TemplateFault("unknown expression");
}

Value Interpreter::eval_collection(const Expr& e, Scope& scope) {
  if (e.kind != ExprKind::kDict) {
    std::vector<Value> items;
    items.reserve(e.children.size());
    for (const ExprPtr& c : e.children) items.push_back(eval(*c, scope));
    return Value::list(std::move(items));
  }
  Dict d;
  for (size_t k = 0; k + 1 < e.children.size(); k += 2) {
    const Value key = eval(*e.children[k], scope);
    if (!key.is_string()) {
      throw TemplateFault(fmt::format("dict keys must be strings, got {}", key.type_name()));
    }
    d.set(key.as_string(), eval(*e.children[k + 1], scope));
  }
  return Value::dict(std::move(d));
}

Value Interpreter::eval_binary(const Expr& e, Scope& scope) {
  Value lhs = eval(*e.children[0], scope);
  if (e.name == "and") return lhs.truthy() ? eval(*e.children[1], scope) : lhs;
  if (e.name == "or") return lhs.truthy() ? lhs : eval(*e.children[1], scope);
  const Value rhs = eval(*e.children[1], scope);
  Value result = binary_op(e.name, lhs, rhs);
  if (result.is_string()) count_bytes(result.as_string().size());
  return result;
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first, Scope& scope) {
  CallArgs args;
  for (size_t k = first; k < e.children.size(); ++k) {
    args.positional.push_back(eval(*e.children[k], scope));
  }
  for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value, scope));
  return args;
}

Value Interpreter::eval_call(const Expr& e, Scope& scope) {
  const Value callee = eval(*e.children[0], scope);
  if (!callee.is(ValueKind::kCallable)) {
    const Expr& c = *e.children[0];
    const std::string what = c.kind == ExprKind::kName   ? "'" + c.name + "'"
                             : c.kind == ExprKind::kAttr ? "'." + c.name + "'"
                                                         : "value";
    throw TemplateFault(fmt::format("{} is not callable ({})", what,
                                    callee.is_undefined() ? "undefined" : callee.type_name()));
  }
  CallArgs args = eval_args(e, 1, scope);
  count_step();
  return callee.as_callable().fn(args);
}

Value Interpreter::eval_filter(const Expr& e, Value operand, Scope& scope) {
  const CallArgs args = eval_args(e, 1, scope);
  Value result = apply_filter(*this, e.name, operand, args);
  if (result.is_string()) count_bytes(result.as_string().size());
  return result;
}

}  // namespace qwen3::jinja
