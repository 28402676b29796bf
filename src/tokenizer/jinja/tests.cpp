// Jinja tests (`x is defined`, `n is even`, ...) with jinja2's definitions.
#include <fmt/core.h>

#include "tokenizer/jinja/builtins.h"

namespace qwen3::jinja {
namespace {

const Value& one_arg(const std::string& name, const CallArgs& args) {
  if (args.positional.size() != 1) throw TemplateFault(fmt::format("test '{}' takes one argument", name));
  return args.positional[0];
}

int64_t int_operand(const std::string& name, const Value& v) {
  if (!v.is(ValueKind::kInt) && !v.is(ValueKind::kBool)) {
    throw TemplateFault(fmt::format("test '{}' needs an integer, got {}", name, v.type_name()));
  }
  return v.as_int();
}

}  // namespace

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  const ValueKind k = v.kind();
  if (name == "defined") return k != ValueKind::kUndefined;
  if (name == "undefined") return k == ValueKind::kUndefined;
  if (name == "none") return k == ValueKind::kNone;
  if (name == "boolean") return k == ValueKind::kBool;
  if (name == "true") return k == ValueKind::kBool && v.as_bool();
  if (name == "false") return k == ValueKind::kBool && !v.as_bool();
  if (name == "string") return k == ValueKind::kString;
  if (name == "number") return v.is_number() || k == ValueKind::kBool;  // bool is a Number
  if (name == "integer") return k == ValueKind::kInt;
  if (name == "float") return k == ValueKind::kFloat;
  if (name == "mapping") return k == ValueKind::kDict;
  if (name == "iterable") {
    return k == ValueKind::kString || k == ValueKind::kList || k == ValueKind::kDict ||
           k == ValueKind::kUndefined;
  }
  if (name == "sequence") {
    return k == ValueKind::kString || k == ValueKind::kList || k == ValueKind::kDict;
  }
  if (name == "callable") return k == ValueKind::kCallable;
  if (name == "even") return int_operand(name, v) % 2 == 0;
  if (name == "odd") return int_operand(name, v) % 2 != 0;
  if (name == "divisibleby") {
    const int64_t d = int_operand(name, one_arg(name, args));
    if (d == 0) throw TemplateFault("divisibleby 0");
    return int_operand(name, v) % d == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    for (char c : v.as_string()) {
      if (name == "lower" ? (c >= 'A' && c <= 'Z') : (c >= 'a' && c <= 'z')) return false;
    }
    return true;
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, one_arg(name, args));
  if (name == "ne" || name == "!=") return !values_equal(v, one_arg(name, args));
  if (name == "in") return binary_op("in", v, one_arg(name, args)).as_bool();
  for (const char* op : {"lt", "le", "gt", "ge"}) {
    if (name == op) {
      const std::string sym = name[0] == 'l' ? (name[1] == 't' ? "<" : "<=") : (name[1] == 't' ? ">" : ">=");
      return binary_op(sym, v, one_arg(name, args)).as_bool();
    }
  }
  throw TemplateFault(fmt::format("unknown test '{}'", name));
}

}  // namespace qwen3::jinja
