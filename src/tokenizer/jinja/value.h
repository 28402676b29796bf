// Runtime values of the Jinja interpreter, with Python semantics.
//
// A Value is a small tagged union. Lists, dicts and namespaces are shared by
// pointer (Python reference semantics: `ns.x = 1` is seen through every alias);
// strings are copied. Dicts keep insertion order (chat data is ordered_json and
// tojson must print keys as given) and look keys up linearly: template dicts hold a
// handful of keys, so a vector beats a hash map here.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qwen3::jinja {

// Thrown by builtins; the interpreter turns it into qwen3::Error naming line:column.
class TemplateFault : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Value;
struct List;
struct Dict;
struct Callable;

enum class ValueKind {
  kUndefined,  // missing variable/attribute: falsy, renders empty (jinja2.Undefined)
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,       // list or tuple (tuples are lists here)
  kDict,
  kNamespace,  // namespace(): a dict whose attributes may be assigned
  kCallable,   // builtin, bound method or macro
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

class Value {
 public:
  Value() = default;
  static Value undefined(std::string name = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double f);
  static Value string(std::string s);
  static Value list(std::vector<Value> items);
  static Value dict(Dict d);
  static Value namespace_(Dict d);
  static Value callable(std::string name, std::function<Value(CallArgs&)> fn);
  static Value from_json(const nlohmann::ordered_json& j);

  ValueKind kind() const { return kind_; }
  bool is(ValueKind k) const { return kind_ == k; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_number() const { return kind_ == ValueKind::kInt || kind_ == ValueKind::kFloat; }
  bool is_mapping() const { return kind_ == ValueKind::kDict || kind_ == ValueKind::kNamespace; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return i_; }
  double as_double() const { return kind_ == ValueKind::kFloat ? f_ : static_cast<double>(i_); }
  const std::string& as_string() const { return s_; }  // also the undefined name
  List& as_list() const { return *list_; }
  Dict& as_dict() const { return *dict_; }
  const Callable& as_callable() const { return *fn_; }

  bool truthy() const;
  // Python str(): what {{ value }} prints. Undefined prints nothing.
  std::string str() const;
  // Python repr(): how values print inside lists and dicts.
  std::string repr() const;
  std::string_view type_name() const;

 private:
  ValueKind kind_ = ValueKind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0.0;
  std::string s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Callable> fn_;
};

struct List {
  std::vector<Value> items;
};

struct Dict {
  std::vector<std::pair<std::string, Value>> entries;  // insertion order

  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
};

struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

// Python == (1 == 1.0 == True; lists and dicts compare deeply).
bool values_equal(const Value& a, const Value& b);
// Python float repr(): shortest round-trip digits, '1e-05', '1e+16', '2.0'.
std::string float_repr(double f);

}  // namespace qwen3::jinja
