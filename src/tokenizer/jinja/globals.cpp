// Global functions every chat template sees: range, namespace, raise_exception,
// strftime_now (transformers adds the last two).
#include <fmt/core.h>

#include "core/error.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/interpreter.h"

namespace qwen3::jinja {
namespace {

int64_t int_arg(const Value& v, const char* what) {
  if (!v.is(ValueKind::kInt)) {
    throw TemplateFault(fmt::format("range() {} must be an integer, got {}", what, v.type_name()));
  }
  return v.as_int();
}

// range(stop) / range(start, stop[, step]); at most 1M items.
Value range_fn(CallArgs& args) {
  const auto& p = args.positional;
  if (p.empty() || p.size() > 3 || !args.keyword.empty()) {
    throw TemplateFault("range() takes 1 to 3 positional arguments");
  }
  int64_t start = 0;
  int64_t stop = int_arg(p[0], "stop");
  int64_t step = 1;
  if (p.size() >= 2) {
    start = stop;
    stop = int_arg(p[1], "stop");
  }
  if (p.size() == 3) step = int_arg(p[2], "step");
  if (step == 0) throw TemplateFault("range() step must not be zero");
  std::vector<Value> items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (items.size() >= 1'000'000) throw TemplateFault("range() is longer than 1000000 items");
    items.push_back(Value::integer(i));
  }
  return Value::list(std::move(items));
}

// namespace(**kwargs) or namespace(dict, **kwargs).
Value namespace_fn(CallArgs& args) {
  Dict d;
  if (args.positional.size() > 1) throw TemplateFault("namespace() takes at most 1 argument");
  if (args.positional.size() == 1) {
    const Value& src = args.positional[0];
    if (!src.is(ValueKind::kDict)) throw TemplateFault("namespace() argument must be a dict");
    d.entries = src.as_dict().entries;
  }
  for (auto& [k, v] : args.keyword) d.set(k, v);
  return Value::namespace_(std::move(d));
}

}  // namespace

void Interpreter::install_globals(Scope& globals) {
  globals.set("range", Value::callable("range", range_fn));
  globals.set("namespace", Value::callable("namespace", namespace_fn));
  globals.set("raise_exception", Value::callable("raise_exception", [](CallArgs& args) -> Value {
                const std::string msg =
                    args.positional.empty() ? std::string() : args.positional[0].str();
                throw TemplateFault("raise_exception: " + msg);
              }));
  globals.set("strftime_now", Value::callable("strftime_now", [this](CallArgs& args) -> Value {
                if (args.positional.size() != 1 || !args.positional[0].is_string()) {
                  throw TemplateFault("strftime_now() takes one format string");
                }
                const std::tm tm = clock_();
                char buf[256];
                const size_t n = std::strftime(buf, sizeof(buf),
                                               args.positional[0].as_string().c_str(), &tm);
                return Value::string(std::string(buf, n));
              }));
}

}  // namespace qwen3::jinja
