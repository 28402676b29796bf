// Builtin operations shared by the interpreter: operators, attribute/item access,
// filters, tests, methods and tojson. All raise TemplateFault on bad input; the
// interpreter adds the line:column.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace qwen3::jinja {

class Interpreter;

// Argument `index` (positional) or `name` (keyword), or null when not given.
inline const Value* find_arg(const CallArgs& args, size_t index, std::string_view name) {
  if (index < args.positional.size()) return &args.positional[index];
  for (const auto& [k, v] : args.keyword) {
    if (k == name) return &v;
  }
  return nullptr;
}

// --- operators.cpp -------------------------------------------------------------
// Arithmetic, comparison, membership and `~` with Python semantics.
Value binary_op(std::string_view op, const Value& a, const Value& b);
Value unary_op(std::string_view op, const Value& v);
// a[key]: list/str index (negative from the end), dict/namespace key; missing -> undefined.
Value get_item(const Value& object, const Value& key);
// a[start:stop:step] on lists and strings (code points); null bounds are omitted ones.
Value slice_value(const Value& object, const Value* start, const Value* stop, const Value* step);
// What `for x in v` visits: list items, dict keys, string code points; undefined -> none.
std::vector<Value> iterate(const Value& v);
std::vector<Value> string_chars(const std::string& s);

// --- methods.cpp ---------------------------------------------------------------
// a.name: dict key, else a bound method of str/dict; undefined when absent.
Value get_attribute(const Value& object, const std::string& name);

// --- filters.cpp ---------------------------------------------------------------
Value apply_filter(Interpreter& in, const std::string& name, const Value& operand,
                   const CallArgs& args);

// --- tests.cpp -----------------------------------------------------------------
// `value is name(args)`; throws TemplateFault for unknown tests.
bool apply_test(const std::string& name, const Value& value, const CallArgs& args);

// --- json_dump.cpp -------------------------------------------------------------
// Python json.dumps(value, ensure_ascii=..., indent=..., sort_keys=..., separators=...):
// what transformers' `tojson` filter produces.
struct JsonStyle {
  std::optional<int> indent;
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;  // (item, key)
};
std::string to_json(const Value& v, const JsonStyle& style);

}  // namespace qwen3::jinja
