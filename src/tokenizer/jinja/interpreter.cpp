#include "tokenizer/jinja/interpreter.h"

#include <fmt/core.h>

#include "core/error.h"
#include "tokenizer/jinja/builtins.h"

namespace qwen3::jinja {

std::tm local_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

const Value* Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    const auto it = s->vars_.find(name);
    if (it != s->vars_.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::Interpreter(const SourceMap& map, const RenderLimits& limits, Clock clock)
    : map_(map), limits_(limits), clock_(std::move(clock)) {}

void Interpreter::fail(uint32_t offset, const std::string& what) const {
  QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: {}", map_.where(offset), what);
}

void Interpreter::count_bytes(size_t n) {
  bytes_ += n;
  if (bytes_ > limits_.max_output_bytes) {
    throw TemplateFault(fmt::format("template output exceeds the limit of {} bytes",
                                    limits_.max_output_bytes));
  }
}

void Interpreter::count_step() {
  if (++steps_ > limits_.max_steps) {
    throw TemplateFault(
        fmt::format("template runs more than {} loop iterations/calls", limits_.max_steps));
  }
}

std::string Interpreter::render(const Body& body, Scope& globals) {
  root_ = &globals;
  std::string out;
  if (exec_body(body, globals, out) != Flow::kNormal) {
    throw TemplateFault("'break' or 'continue' outside a loop");
  }
  return out;
}

Interpreter::Flow Interpreter::exec_body(const Body& body, Scope& scope, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow flow = exec(*s, scope, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, Scope& scope, std::string& out) {
  try {
    switch (s.kind) {
      case StmtKind::kText:
        count_bytes(s.text.size());
        out += s.text;
        return Flow::kNormal;
      case StmtKind::kOutput: {
        const std::string text = eval(*s.expr, scope).str();
        count_bytes(text.size());
        out += text;
        return Flow::kNormal;
      }
      case StmtKind::kIf:
        return exec_body(eval(*s.expr, scope).truthy() ? s.body : s.else_body, scope, out);
      case StmtKind::kFor:
        exec_for(s, scope, out);
        return Flow::kNormal;
      case StmtKind::kSet:
      case StmtKind::kSetBlock:
        exec_set(s, scope);
        return Flow::kNormal;
      case StmtKind::kMacro:
        define_macro(s, scope);
        return Flow::kNormal;
      case StmtKind::kFilterBlock: {
        std::string inner;
        if (exec_body(s.body, scope, inner) != Flow::kNormal) fail(s.offset, "break in filter");
        const Value v = eval_filter(*s.expr, Value::string(std::move(inner)), scope);
        out += v.str();
        return Flow::kNormal;
      }
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
    }
  } catch (const TemplateFault& f) {
    fail(s.offset, f.what());
  }
  return Flow::kNormal;
}

void Interpreter::bind_targets(const std::vector<std::string>& targets, const Value& v,
                               Scope& scope) {
  if (targets.size() == 1) {
    scope.set(targets[0], v);
    return;
  }
  if (!v.is(ValueKind::kList)) {
    throw TemplateFault(fmt::format("cannot unpack a {} into {} names", v.type_name(),
                                    targets.size()));
  }
  const auto& items = v.as_list().items;
  if (items.size() != targets.size()) {
    throw TemplateFault(fmt::format("cannot unpack {} values into {} names", items.size(),
                                    targets.size()));
  }
  for (size_t k = 0; k < targets.size(); ++k) scope.set(targets[k], items[k]);
}

// loop.* follows jinja2: index/index0/revindex/revindex0/first/last/length/previtem/nextitem.
void Interpreter::exec_for(const Stmt& s, Scope& scope, std::string& out) {
  Scope loop_scope(&scope);
  std::vector<Value> items;
  for (Value& item : iterate(eval(*s.expr, scope))) {
    if (s.condition) {
      bind_targets(s.targets, item, loop_scope);
      if (!eval(*s.condition, loop_scope).truthy()) continue;
    }
    items.push_back(std::move(item));
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    count_step();
    Dict loop;
    loop.entries = {
        {"index", Value::integer(i + 1)},
        {"index0", Value::integer(i)},
        {"revindex", Value::integer(n - i)},
        {"revindex0", Value::integer(n - i - 1)},
        {"first", Value::boolean(i == 0)},
        {"last", Value::boolean(i == n - 1)},
        {"length", Value::integer(n)},
        {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("previtem")},
        {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("nextitem")},
    };
    loop_scope.set("loop", Value::dict(std::move(loop)));
    bind_targets(s.targets, items[static_cast<size_t>(i)], loop_scope);
    if (exec_body(s.body, loop_scope, out) == Flow::kBreak) break;
  }
  if (items.empty()) exec_body(s.else_body, scope, out);
}

void Interpreter::exec_set(const Stmt& s, Scope& scope) {
  Value v;
  if (s.kind == StmtKind::kSetBlock) {
    std::string inner;
    if (exec_body(s.body, scope, inner) != Flow::kNormal) fail(s.offset, "break in set block");
    v = Value::string(std::move(inner));
  } else {
    v = eval(*s.expr, scope);
  }
  if (s.attr.empty()) {
    bind_targets(s.targets, v, scope);
    return;
  }
  const Value* target = scope.lookup(s.targets[0]);
  if (target == nullptr || !target->is(ValueKind::kNamespace)) {
    throw TemplateFault(fmt::format("cannot set attribute '{}' on '{}': not a namespace()", s.attr,
                                    s.targets[0]));
  }
  target->as_dict().set(s.attr, std::move(v));
}

void Interpreter::define_macro(const Stmt& s, Scope& scope) {
  const Stmt* macro = &s;
  scope.set(s.name, Value::callable(s.name, [this, macro](CallArgs& args) {
              return call_macro(*macro, args);
            }));
}

// Binds positional args, then keywords, then defaults (evaluated in the macro scope).
Value Interpreter::call_macro(const Stmt& s, CallArgs& args) {
  if (args.positional.size() > s.params.size()) {
    throw TemplateFault(fmt::format("macro '{}' takes at most {} arguments, got {}", s.name,
                                    s.params.size(), args.positional.size()));
  }
  count_step();
  if (call_depth_ >= limits_.max_call_depth) {
    throw TemplateFault(fmt::format("macro calls nest deeper than {}", limits_.max_call_depth));
  }
  struct DepthGuard {
    int& depth;
    ~DepthGuard() { --depth; }
  } guard{++call_depth_};
  Scope scope(root_);
  std::vector<bool> bound(s.params.size(), false);
  for (size_t k = 0; k < args.positional.size(); ++k) {
    scope.set(s.params[k].first, args.positional[k]);
    bound[k] = true;
  }
  for (auto& [key, value] : args.keyword) {
    size_t k = 0;
    while (k < s.params.size() && s.params[k].first != key) ++k;
    if (k == s.params.size() || bound[k]) {
      throw TemplateFault(fmt::format("macro '{}' got an unexpected argument '{}'", s.name, key));
    }
    scope.set(key, value);
    bound[k] = true;
  }
  for (size_t k = 0; k < s.params.size(); ++k) {
    if (bound[k]) continue;
    const auto& [name, fallback] = s.params[k];
    scope.set(name, fallback ? eval(*fallback, scope) : Value::undefined(name));
  }
  std::string out;
  exec_body(s.body, scope, out);
  return Value::string(std::move(out));
}

}  // namespace qwen3::jinja
