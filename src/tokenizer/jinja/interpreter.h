// Tree-walking interpreter: one Interpreter per render call, so a parsed template can
// be rendered from many threads at once (the tree is read-only; all state is here).
//
// Runaway templates are stopped by RenderLimits: total bytes produced (output plus
// strings built along the way), macro call depth and loop/call steps. Every failure is
// a qwen3::Error (kInvalidArgument) naming template:line:column.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/value.h"

namespace qwen3::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // output + intermediate strings, in bytes
  int max_call_depth = 64;                     // nested macro calls
  int64_t max_steps = 10'000'000;              // loop iterations + calls
};

// Local time for strftime_now(); injectable so tests get a fixed clock.
using Clock = std::function<std::tm()>;
std::tm local_now();

// Variables of one scope; lookups walk to the parent. Loops and macros open scopes.
class Scope {
 public:
  explicit Scope(const Scope* parent = nullptr) : parent_(parent) {}
  const Value* lookup(const std::string& name) const;
  void set(const std::string& name, Value value) { vars_[name] = std::move(value); }

 private:
  const Scope* parent_;
  std::unordered_map<std::string, Value> vars_;
};

class Interpreter {
 public:
  Interpreter(const SourceMap& map, const RenderLimits& limits, Clock clock);

  // Renders `body` with `globals` as the template's top-level scope.
  std::string render(const Body& body, Scope& globals);
  // Defines range, namespace, raise_exception, strftime_now (a parent of `globals`, so
  // caller variables shadow them as in jinja2).
  void install_globals(Scope& builtins);

  // Used by builtins (map/select call other filters and tests; macros render bodies).
  void count_bytes(size_t n);
  void count_step();

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_body(const Body& body, Scope& scope, std::string& out);
  Flow exec(const Stmt& s, Scope& scope, std::string& out);
  void exec_for(const Stmt& s, Scope& scope, std::string& out);
  void exec_set(const Stmt& s, Scope& scope);
  void define_macro(const Stmt& s, Scope& scope);
  Value call_macro(const Stmt& s, CallArgs& args);
  void bind_targets(const std::vector<std::string>& targets, const Value& v, Scope& scope);

  Value eval(const Expr& e, Scope& scope);
  Value eval_inner(const Expr& e, Scope& scope);
  Value eval_binary(const Expr& e, Scope& scope);
  Value eval_call(const Expr& e, Scope& scope);
  Value eval_filter(const Expr& e, Value operand, Scope& scope);
  CallArgs eval_args(const Expr& e, size_t first, Scope& scope);
  Value eval_collection(const Expr& e, Scope& scope);

  [[noreturn]] void fail(uint32_t offset, const std::string& what) const;

  const SourceMap& map_;
  RenderLimits limits_;
  Clock clock_;
  Scope* root_ = nullptr;  // the template's top-level scope (macros resolve names here)
  size_t bytes_ = 0;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace qwen3::jinja
