// Attribute access and the Python str/dict methods templates call (`s.startswith(x)`,
// `d.items()`, ...). A method is returned as a callable bound to its receiver.
#include <fmt/core.h>

#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/utf8.h"

namespace qwen3::jinja {
namespace {

const std::string& str_arg(const CallArgs& args, size_t index, std::string_view name,
                           std::string_view method) {
  const Value* v = find_arg(args, index, name);
  if (v == nullptr || !v->is_string()) {
    throw TemplateFault(fmt::format("{}() argument '{}' must be a string", method, name));
  }
  return v->as_string();
}

// Optional string argument: null when absent or none.
const std::string* opt_str_arg(const CallArgs& args, size_t index, std::string_view name,
                               std::string_view method) {
  const Value* v = find_arg(args, index, name);
  if (v == nullptr || v->is(ValueKind::kNone)) return nullptr;
  return &str_arg(args, index, name, method);
}

int64_t opt_int_arg(const CallArgs& args, size_t index, std::string_view name, int64_t fallback) {
  const Value* v = find_arg(args, index, name);
  if (v == nullptr || v->is(ValueKind::kNone)) return fallback;
  if (!v->is(ValueKind::kInt)) throw TemplateFault(fmt::format("'{}' must be an integer", name));
  return v->as_int();
}

// startswith/endswith accept a string or a tuple of strings.
bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw TemplateFault("startswith/endswith argument must be a string");
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (!affix.is(ValueKind::kList)) return one(affix);
  for (const Value& a : affix.as_list().items) {
    if (one(a)) return true;
  }
  return false;
}

// Python str.split(sep=None, maxsplit=-1).
Value split(const std::string& s, const std::string* sep, int64_t maxsplit) {
  std::vector<Value> parts;
  if (sep != nullptr) {
    if (sep->empty()) throw TemplateFault("split(): empty separator");
    size_t begin = 0;
    size_t at = 0;
    while ((maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) &&
           (at = s.find(*sep, begin)) != std::string::npos) {
      parts.push_back(Value::string(s.substr(begin, at - begin)));
      begin = at + sep->size();
    }
    parts.push_back(Value::string(s.substr(begin)));
    return Value::list(std::move(parts));
  }
  size_t pos = 0;
  while (true) {
    while (size_t n = space_len(s, pos)) pos += n;
    if (pos >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      parts.push_back(Value::string(s.substr(pos)));
      break;
    }
    const size_t begin = pos;
    while (pos < s.size() && space_len(s, pos) == 0) {
      size_t len = 1;
      utf8_decode(s, pos, len);
      pos += len;
    }
    parts.push_back(Value::string(s.substr(begin, pos - begin)));
  }
  return Value::list(std::move(parts));
}

// Python str.replace(old, new, count=-1); an empty `old` inserts between code points.
std::string replace(const std::string& s, const std::string& from, const std::string& to,
                    int64_t count) {
  std::string out;
  if (from.empty()) {
    const std::vector<Value> chars = string_chars(s);
    int64_t done = 0;
    for (size_t k = 0; k <= chars.size(); ++k) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      if (k < chars.size()) out += chars[k].as_string();
    }
    return out;
  }
  size_t begin = 0;
  size_t at = 0;
  int64_t done = 0;
  while ((count < 0 || done < count) && (at = s.find(from, begin)) != std::string::npos) {
    out.append(s, begin, at - begin);
    out += to;
    begin = at + from.size();
    ++done;
  }
  out.append(s, begin, std::string::npos);
  return out;
}

Value join(const std::string& sep, const Value& items) {
  std::string out;
  bool first = true;
  for (const Value& v : iterate(items)) {
    if (!first) out += sep;
    first = false;
    if (!v.is_string()) throw TemplateFault("join() items must be strings");
    out += v.as_string();
  }
  return Value::string(std::move(out));
}

Value call_string_method(const std::string& s, const std::string& name, const CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    const Value* affix = find_arg(args, 0, "prefix");
    if (affix == nullptr) throw TemplateFault(name + "() takes an argument");
    return Value::boolean(affix_match(s, *affix, name == "startswith"));
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const StripSide side = name == "strip"    ? StripSide::kBoth
                           : name == "lstrip" ? StripSide::kLeft
                                              : StripSide::kRight;
    return Value::string(py_strip(s, opt_str_arg(args, 0, "chars", name), side));
  }
  if (name == "split") {
    return split(s, opt_str_arg(args, 0, "sep", name), opt_int_arg(args, 1, "maxsplit", -1));
  }
  if (name == "upper") return Value::string(ascii_upper(s));
  if (name == "lower") return Value::string(ascii_lower(s));
  if (name == "title") return Value::string(py_title(s));
  if (name == "capitalize") return Value::string(py_capitalize(s));
  if (name == "replace") {
    return Value::string(replace(s, str_arg(args, 0, "old", name), str_arg(args, 1, "new", name),
                                 opt_int_arg(args, 2, "count", -1)));
  }
  if (name == "find" || name == "rfind") {
    const std::string& sub = str_arg(args, 0, "sub", name);
    const size_t at = name == "find" ? s.find(sub) : s.rfind(sub);
    if (at == std::string::npos) return Value::integer(-1);
    return Value::integer(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, at))));
  }
  if (name == "count") {
    const std::string& sub = str_arg(args, 0, "sub", name);
    if (sub.empty()) return Value::integer(static_cast<int64_t>(utf8_length(s) + 1));
    int64_t n = 0;
    for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size())) ++n;
    return Value::integer(n);
  }
  if (name == "join") {
    const Value* items = find_arg(args, 0, "iterable");
    if (items == nullptr) throw TemplateFault("join() takes an argument");
    return join(s, *items);
  }
  throw TemplateFault(fmt::format("str.{}() is not supported", name));
}

Value call_dict_method(const Value& d, const std::string& name, const CallArgs& args) {
  const auto& entries = d.as_dict().entries;
  std::vector<Value> out;
  if (name == "items") {
    for (const auto& [k, v] : entries) out.push_back(Value::list({Value::string(k), v}));
  } else if (name == "keys") {
    for (const auto& [k, v] : entries) out.push_back(Value::string(k));
  } else if (name == "values") {
    for (const auto& [k, v] : entries) out.push_back(v);
  } else {  // get
    const Value* key = find_arg(args, 0, "key");
    if (key == nullptr) throw TemplateFault("get() takes a key");
    const Value* fallback = find_arg(args, 1, "default");
    const Value* found = key->is_string() ? d.as_dict().find(key->as_string()) : nullptr;
    if (found != nullptr) return *found;
    return fallback != nullptr ? *fallback : Value::none();
  }
  return Value::list(std::move(out));
}

bool is_string_method(const std::string& name) {
  static const char* const kNames[] = {"startswith", "endswith", "strip",   "lstrip", "rstrip",
                                       "split",      "upper",    "lower",   "title",  "capitalize",
                                       "replace",    "find",     "rfind",   "count",  "join",
                                       "format",     "rsplit",   "splitlines"};
  for (const char* n : kNames) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_mapping()) {
    if (const Value* v = object.as_dict().find(name)) return *v;
    const bool method = name == "items" || name == "keys" || name == "values" || name == "get";
    if (object.is(ValueKind::kDict) && method) {
      return Value::callable(name, [object, name](CallArgs& args) {
        return call_dict_method(object, name, args);
      });
    }
    return Value::undefined(name);
  }
  if (object.is_string() && is_string_method(name)) {
    return Value::callable(name, [s = object.as_string(), name](CallArgs& args) {
      return call_string_method(s, name, args);
    });
  }
  return Value::undefined(name);
}

}  // namespace qwen3::jinja
