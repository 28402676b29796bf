// Jinja filters (`value | name(args)`) with jinja2's semantics, plus transformers'
// tojson. Filters that take a filter or test name (map, select, ...) recurse here.
#include <fmt/core.h>

#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {
namespace {

bool flag_arg(const CallArgs& args, size_t index, std::string_view name, bool fallback) {
  const Value* v = find_arg(args, index, name);
  return v == nullptr ? fallback : v->truthy();
}

std::string string_of(const Value& v) { return v.str(); }

// Nested attribute lookup for map/selectattr/sort: "a.b" or "0".
Value attribute_path(const Value& item, const std::string& path) {
  Value v = item;
  size_t begin = 0;
  while (true) {
    const size_t dot = path.find('.', begin);
    const std::string part = path.substr(begin, dot == std::string::npos ? dot : dot - begin);
    const bool digits = !part.empty() && part.find_first_not_of("0123456789") == std::string::npos;
    v = digits && v.is(ValueKind::kList) ? get_item(v, Value::integer(std::atoll(part.c_str())))
                                         : get_item(v, Value::string(part));
    if (dot == std::string::npos) return v;
    begin = dot + 1;
  }
}

JsonStyle json_style(const CallArgs& args) {
  JsonStyle style;
  if (const Value* indent = find_arg(args, 0, "indent"); indent && !indent->is(ValueKind::kNone)) {
    if (!indent->is(ValueKind::kInt) || indent->as_int() < 0 || indent->as_int() > 64) {
      throw TemplateFault("tojson: indent must be an integer in [0, 64]");
    }
    style.indent = static_cast<int>(indent->as_int());
  }
  style.ensure_ascii = flag_arg(args, 99, "ensure_ascii", false);
  style.sort_keys = flag_arg(args, 99, "sort_keys", false);
  if (const Value* sep = find_arg(args, 99, "separators"); sep && !sep->is(ValueKind::kNone)) {
    const auto* items = sep->is(ValueKind::kList) ? &sep->as_list().items : nullptr;
    if (items == nullptr || items->size() != 2 || !(*items)[0].is_string() ||
        !(*items)[1].is_string()) {
      throw TemplateFault("tojson: separators must be two strings");
    }
    style.separators = std::make_pair((*items)[0].as_string(), (*items)[1].as_string());
  }
  return style;
}

// int(value, default=0): jinja2 tries int(), then int(float()).
Value to_int(const Value& v, const CallArgs& args) {
  const Value* fallback = find_arg(args, 0, "default");
  const Value dflt = fallback ? *fallback : Value::integer(0);
  if (v.is(ValueKind::kInt) || v.is(ValueKind::kBool)) return Value::integer(v.as_int());
  if (v.is(ValueKind::kFloat)) {
    if (!std::isfinite(v.as_double()) || std::fabs(v.as_double()) > 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(std::trunc(v.as_double())));
  }
  if (!v.is_string()) return dflt;
  const std::string s = py_strip(v.as_string(), nullptr, StripSide::kBoth);
  char* end = nullptr;
  errno = 0;
  const long long i = std::strtoll(s.c_str(), &end, 10);
  if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Value::integer(i);
  const double d = std::strtod(s.c_str(), &end);
  if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18) {
    return Value::integer(static_cast<int64_t>(std::trunc(d)));
  }
  return dflt;
}

Value to_float(const Value& v, const CallArgs& args) {
  const Value* fallback = find_arg(args, 0, "default");
  const Value dflt = fallback ? *fallback : Value::number(0.0);
  if (v.is_number() || v.is(ValueKind::kBool)) return Value::number(v.as_double());
  if (!v.is_string()) return dflt;
  const std::string s = py_strip(v.as_string(), nullptr, StripSide::kBoth);
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() ? Value::number(d) : dflt;
}

// round(value, precision=0, method='common'); 'common' is Python round(): ties to even.
Value round_value(const Value& v, const CallArgs& args) {
  if (!v.is_number() && !v.is(ValueKind::kBool)) throw TemplateFault("round: not a number");
  const Value* precision = find_arg(args, 0, "precision");
  const Value* method = find_arg(args, 1, "method");
  const int64_t p = precision && precision->is(ValueKind::kInt) ? precision->as_int() : 0;
  const std::string m = method && method->is_string() ? method->as_string() : "common";
  if (m == "common" && !v.is(ValueKind::kFloat)) return Value::integer(v.as_int());  // int round()
  const double scale = std::pow(10.0, static_cast<double>(p));
  const double x = v.as_double() * scale;
  double r = 0;
  if (m == "common") {
    r = std::nearbyint(x);
  } else if (m == "ceil") {
    r = std::ceil(x);
  } else if (m == "floor") {
    r = std::floor(x);
  } else {
    throw TemplateFault("round: method must be 'common', 'ceil' or 'floor'");
  }
  return Value::number(r / scale);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// Arguments after the first `skip` positionals, for a filter/test named by a string.
CallArgs rest_args(const CallArgs& args, size_t skip) {
  CallArgs rest;
  for (size_t k = skip; k < args.positional.size(); ++k) rest.positional.push_back(args.positional[k]);
  return rest;
}

// select/reject(test, args...), selectattr/rejectattr(attr, test, args...).
Value select_items(const std::string& name, const Value& operand, const CallArgs& args) {
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  const size_t test_index = by_attr ? 1 : 0;
  std::string attr;
  if (by_attr) {
    if (args.positional.empty() || !args.positional[0].is_string()) {
      throw TemplateFault(name + ": attribute name must be a string");
    }
    attr = args.positional[0].as_string();
  }
  const bool has_test = args.positional.size() > test_index;
  if (has_test && !args.positional[test_index].is_string()) throw TemplateFault(name + ": test name must be a string");
  const CallArgs test_args = rest_args(args, test_index + 1);
  std::vector<Value> out;
  for (const Value& item : iterate(operand)) {
    const Value subject = by_attr ? attribute_path(item, attr) : item;
    const bool pass = has_test ? apply_test(args.positional[test_index].as_string(), subject, test_args)
                               : subject.truthy();
    if (pass == keep) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value map_items(Interpreter& in, const Value& operand, const CallArgs& args) {
  std::vector<Value> out;
  const Value* attribute = find_arg(args, 99, "attribute");
  if (attribute != nullptr) {
    const Value* fallback = find_arg(args, 99, "default");
    for (const Value& item : iterate(operand)) {
      Value v = attribute_path(item, attribute->str());
      out.push_back(v.is_undefined() && fallback ? *fallback : v);
    }
    return Value::list(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) {
    throw TemplateFault("map: expected a filter name or attribute=");
  }
  const CallArgs filter_args = rest_args(args, 1);
  for (const Value& item : iterate(operand)) {
    out.push_back(apply_filter(in, args.positional[0].as_string(), item, filter_args));
  }
  return Value::list(std::move(out));
}

// unique(case_sensitive=False): first occurrence wins.
Value unique_items(const Value& operand, const CallArgs& args) {
  const bool case_sensitive = flag_arg(args, 0, "case_sensitive", false);
  std::vector<Value> out;
  std::vector<Value> seen;
  for (const Value& item : iterate(operand)) {
    const Value key = !case_sensitive && item.is_string() ? Value::string(ascii_lower(item.as_string())) : item;
    bool dup = false;
    for (const Value& s : seen) dup = dup || values_equal(s, key);
    if (dup) continue;
    seen.push_back(key);
    out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value first_or_last(const Value& operand, bool first) {
  const std::vector<Value> items = iterate(operand);
  if (items.empty()) return Value::undefined();
  return first ? items.front() : items.back();
}

Value string_filter(const std::string& name, const Value& operand, const CallArgs& args) {
  const std::string s = string_of(operand);
  if (name == "upper") return Value::string(ascii_upper(s));
  if (name == "lower") return Value::string(ascii_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "escape" || name == "e") return Value::string(html_escape(s));
  if (name == "trim") {
    const Value* chars = find_arg(args, 0, "chars");
    const std::string* set = chars && chars->is_string() ? &chars->as_string() : nullptr;
    return Value::string(py_strip(s, set, StripSide::kBoth));
  }
  // replace(old, new, count=None)
  const Value* from = find_arg(args, 0, "old");
  const Value* to = find_arg(args, 1, "new");
  if (!from || !to) throw TemplateFault("replace: needs old and new strings");
  CallArgs method_args;
  method_args.positional = {Value::string(from->str()), Value::string(to->str())};
  if (const Value* count = find_arg(args, 2, "count")) method_args.positional.push_back(*count);
  return get_attribute(Value::string(s), "replace").as_callable().fn(method_args);
}

Value sequence_filter(const std::string& name, const Value& operand, const CallArgs& args) {
  if (name == "length" || name == "count") {
    if (operand.is_string()) return Value::integer(static_cast<int64_t>(utf8_length(operand.as_string())));
    return Value::integer(static_cast<int64_t>(iterate(operand).size()));
  }
  if (name == "list") return Value::list(iterate(operand));
  if (name == "first" || name == "last") return first_or_last(operand, name == "first");
  if (name == "reverse") {
    std::vector<Value> items = iterate(operand);
    std::reverse(items.begin(), items.end());
    if (!operand.is_string()) return Value::list(std::move(items));
    std::string out;
    for (const Value& c : items) out += c.as_string();
    return Value::string(std::move(out));
  }
  if (name == "items") {
    if (operand.is_undefined()) return Value::list({});
    if (!operand.is(ValueKind::kDict)) throw TemplateFault("items: expected a dict");
    CallArgs none;
    return get_attribute(operand, "items").as_callable().fn(none);
  }
  // join(d='', attribute=None)
  const Value* sep = find_arg(args, 0, "d");
  const Value* attribute = find_arg(args, 1, "attribute");
  std::string out;
  bool first = true;
  for (const Value& item : iterate(operand)) {
    if (!first && sep) out += sep->str();
    first = false;
    out += (attribute ? attribute_path(item, attribute->str()) : item).str();
  }
  return Value::string(std::move(out));
}

bool is_one_of(const std::string& name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, const Value& operand,
                   const CallArgs& args) {
  in.count_step();
  if (name == "tojson") return Value::string(to_json(operand, json_style(args)));
  if (name == "safe") return operand;
  if (name == "string") return Value::string(string_of(operand));
  if (name == "default" || name == "d") {
    const Value* fallback = find_arg(args, 0, "default_value");
    const bool boolean = flag_arg(args, 1, "boolean", false);
    if (operand.is_undefined() || (boolean && !operand.truthy())) {
      return fallback ? *fallback : Value::string("");
    }
    return operand;
  }
  if (is_one_of(name, {"upper", "lower", "title", "capitalize", "escape", "e", "trim", "replace"})) {
    return string_filter(name, operand, args);
  }
  if (is_one_of(name, {"length", "count", "list", "first", "last", "reverse", "items", "join"})) {
    return sequence_filter(name, operand, args);
  }
  if (name == "int") return to_int(operand, args);
  if (name == "float") return to_float(operand, args);
  if (name == "round") return round_value(operand, args);
  if (name == "abs") {
    if (operand.is(ValueKind::kFloat)) return Value::number(std::fabs(operand.as_double()));
    if (!operand.is(ValueKind::kInt) && !operand.is(ValueKind::kBool)) throw TemplateFault("abs: not a number");
    return unary_op(operand.as_int() < 0 ? "-" : "+", operand);
  }
  if (name == "map") return map_items(in, operand, args);
  if (is_one_of(name, {"select", "reject", "selectattr", "rejectattr"})) {
    return select_items(name, operand, args);
  }
  if (name == "unique") return unique_items(operand, args);
  throw TemplateFault(fmt::format("unknown filter '{}'", name));
}

}  // namespace qwen3::jinja
