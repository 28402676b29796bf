// Operators, indexing, slicing and iteration with Python semantics.
#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {
namespace {

bool numeric(const Value& v) { return v.is_number() || v.is(ValueKind::kBool); }

[[noreturn]] void bad_operands(std::string_view op, const Value& a, const Value& b) {
  throw TemplateFault(fmt::format("unsupported operand types for {}: '{}' and '{}'", op,
                                  a.is_undefined() ? "undefined" : a.type_name(),
                                  b.is_undefined() ? "undefined" : b.type_name()));
}

// Applies a __builtin_*_overflow operation, failing on overflow.
template <typename Op>
int64_t checked(Op op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op(a, b, &r)) throw TemplateFault("integer overflow");
  return r;
}

double floor_mod(double a, double b) {
  const double r = std::fmod(a, b);
  return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

Value int_arith(std::string_view op, int64_t a, int64_t b) {
  if (op == "+") {
    return Value::integer(checked([](int64_t x, int64_t y, int64_t* r) { return __builtin_add_overflow(x, y, r); }, a, b));
  }
  if (op == "-") {
    return Value::integer(checked([](int64_t x, int64_t y, int64_t* r) { return __builtin_sub_overflow(x, y, r); }, a, b));
  }
  if (op == "*") {
    return Value::integer(checked([](int64_t x, int64_t y, int64_t* r) { return __builtin_mul_overflow(x, y, r); }, a, b));
  }
  if (b == 0 && (op == "/" || op == "//" || op == "%")) throw TemplateFault("division by zero");
  if (op == "/") return Value::number(static_cast<double>(a) / static_cast<double>(b));
  if (op == "//" || op == "%") {
    if (a == INT64_MIN && b == -1) throw TemplateFault("integer overflow");
    int64_t q = a / b;
    int64_t m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) {
      --q;
      m += b;
    }
    return Value::integer(op == "//" ? q : m);
  }
  // "**": negative exponents give floats, as in Python.
  if (b < 0) return Value::number(std::pow(static_cast<double>(a), static_cast<double>(b)));
  int64_t result = 1;
  for (int64_t k = 0; k < b; ++k) {
    if (__builtin_mul_overflow(result, a, &result)) throw TemplateFault("integer overflow");
    if (result == 0 || result == 1) break;
  }
  return Value::integer(result);
}

Value float_arith(std::string_view op, double a, double b) {
  if (op == "+") return Value::number(a + b);
  if (op == "-") return Value::number(a - b);
  if (op == "*") return Value::number(a * b);
  if (op == "**") return Value::number(std::pow(a, b));
  if (b == 0) throw TemplateFault("float division by zero");
  if (op == "/") return Value::number(a / b);
  if (op == "//") return Value::number(std::floor(a / b));
  return Value::number(floor_mod(a, b));
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kString:
      if (!item.is_string()) bad_operands("in", item, container);
      return container.as_string().find(item.as_string()) != std::string::npos;
    case ValueKind::kList:
      for (const Value& v : container.as_list().items) {
        if (values_equal(v, item)) return true;
      }
      return false;
    case ValueKind::kDict:
    case ValueKind::kNamespace:
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case ValueKind::kUndefined:
      return false;
    default:
      bad_operands("in", item, container);
  }
}

Value compare(std::string_view op, const Value& a, const Value& b) {
  int c = 0;
  if (numeric(a) && numeric(b)) {
    const double x = a.as_double();
    const double y = b.as_double();
    if (a.is(ValueKind::kFloat) || b.is(ValueKind::kFloat)) {
      c = x < y ? -1 : (x > y ? 1 : 0);
    } else {
      c = a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
    }
  } else if (a.is_string() && b.is_string()) {
    c = a.as_string().compare(b.as_string());  // UTF-8 byte order == code point order
  } else {
    bad_operands(op, a, b);
  }
  if (op == "<") return Value::boolean(c < 0);
  if (op == "<=") return Value::boolean(c <= 0);
  if (op == ">") return Value::boolean(c > 0);
  return Value::boolean(c >= 0);
}

}  // namespace

Value binary_op(std::string_view op, const Value& a, const Value& b) {
  if (op == "==") return Value::boolean(values_equal(a, b));
  if (op == "!=") return Value::boolean(!values_equal(a, b));
  if (op == "in") return Value::boolean(contains(b, a));
  if (op == "not in") return Value::boolean(!contains(b, a));
  if (op == "~") return Value::string(a.str() + b.str());
  if (op == "<" || op == "<=" || op == ">" || op == ">=") return compare(op, a, b);
  if (numeric(a) && numeric(b)) {
    if (a.is(ValueKind::kFloat) || b.is(ValueKind::kFloat)) {
      return float_arith(op, a.as_double(), b.as_double());
    }
    return int_arith(op, a.as_int(), b.as_int());
  }
  if (op == "+" && a.is_string() && b.is_string()) return Value::string(a.as_string() + b.as_string());
  if (op == "+" && a.is(ValueKind::kList) && b.is(ValueKind::kList)) {
    std::vector<Value> items = a.as_list().items;
    items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
    return Value::list(std::move(items));
  }
  bad_operands(op, a, b);
}

Value unary_op(std::string_view op, const Value& v) {
  if (op == "not") return Value::boolean(!v.truthy());
  if (!numeric(v)) {
    throw TemplateFault(fmt::format("bad operand type for unary {}: '{}'", op, v.type_name()));
  }
  if (op == "+") return v.is(ValueKind::kBool) ? Value::integer(v.as_int()) : v;
  if (v.is(ValueKind::kFloat)) return Value::number(-v.as_double());
  if (v.as_int() == INT64_MIN) throw TemplateFault("integer overflow");
  return Value::integer(-v.as_int());
}

std::vector<Value> string_chars(const std::string& s) {
  std::vector<Value> out;
  const std::vector<size_t> offsets = utf8_offsets(s);
  for (size_t k = 0; k + 1 < offsets.size(); ++k) {
    out.push_back(Value::string(s.substr(offsets[k], offsets[k + 1] - offsets[k])));
  }
  return out;
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_mapping()) {
    if (!key.is_string()) return Value::undefined();
    const Value* v = object.as_dict().find(key.as_string());
    return v != nullptr ? *v : Value::undefined(key.as_string());
  }
  if (object.is(ValueKind::kList) || object.is_string()) {
    if (key.is_string()) return get_attribute(object, key.as_string());
    if (!key.is(ValueKind::kInt)) {
      throw TemplateFault(fmt::format("indices must be integers, not {}", key.type_name()));
    }
    std::vector<Value> chars;
    const std::vector<Value>& items =
        object.is_string() ? (chars = string_chars(object.as_string())) : object.as_list().items;
    const auto n = static_cast<int64_t>(items.size());
    const int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
    if (i < 0 || i >= n) return Value::undefined();
    return items[static_cast<size_t>(i)];
  }
  if (object.is_undefined()) return Value::undefined();
  throw TemplateFault(fmt::format("'{}' object is not subscriptable", object.type_name()));
}

namespace {

int64_t slice_bound(const Value* v, const char* what) {
  if (!v->is(ValueKind::kInt)) {
    throw TemplateFault(fmt::format("slice {} must be an integer or none", what));
  }
  return v->as_int();
}

// Python's slice.indices(): the visited positions of a sequence of length n.
std::vector<size_t> slice_positions(int64_t n, const Value* start, const Value* stop,
                                    const Value* step) {
  const bool has = [](const Value* v) { return v != nullptr && !v->is(ValueKind::kNone); }(step);
  const int64_t st = has ? slice_bound(step, "step") : 1;
  if (st == 0) throw TemplateFault("slice step cannot be zero");
  auto clamp = [&](const Value* v, int64_t fallback) {
    if (v == nullptr || v->is(ValueKind::kNone)) return fallback;
    int64_t i = slice_bound(v, "index");
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t lo = clamp(start, st > 0 ? 0 : n - 1);
  const int64_t hi = clamp(stop, st > 0 ? n : -1);
  std::vector<size_t> out;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) out.push_back(static_cast<size_t>(i));
  return out;
}

}  // namespace

Value slice_value(const Value& object, const Value* start, const Value* stop, const Value* step) {
  if (object.is(ValueKind::kList)) {
    const auto& items = object.as_list().items;
    std::vector<Value> out;
    for (size_t i : slice_positions(static_cast<int64_t>(items.size()), start, stop, step)) {
      out.push_back(items[i]);
    }
    return Value::list(std::move(out));
  }
  if (object.is_string()) {
    const std::vector<Value> chars = string_chars(object.as_string());
    std::string out;
    for (size_t i : slice_positions(static_cast<int64_t>(chars.size()), start, stop, step)) {
      out += chars[i].as_string();
    }
    return Value::string(std::move(out));
  }
  if (object.is_undefined()) return Value::undefined();
  throw TemplateFault(fmt::format("'{}' object cannot be sliced", object.type_name()));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case ValueKind::kList:
      return v.as_list().items;
    case ValueKind::kDict: {
      std::vector<Value> keys;
      for (const auto& [k, unused] : v.as_dict().entries) keys.push_back(Value::string(k));
      return keys;
    }
    case ValueKind::kString:
      return string_chars(v.as_string());
    case ValueKind::kUndefined:
      return {};
    default:
      throw TemplateFault(fmt::format("'{}' object is not iterable", v.type_name()));
  }
}

}  // namespace qwen3::jinja
