#include "tokenizer/jinja/template.h"

#include "core/error.h"
#include "tokenizer/jinja/parser.h"

namespace qwen3::jinja {

Template::Template(std::string source, std::string name)
    : source_(std::move(source)), map_(std::make_unique<SourceMap>(std::move(name), source_)) {
  body_ = parse(tokenize(source_, *map_), *map_);
}

std::string Template::render(const nlohmann::ordered_json& variables, const RenderLimits& limits,
                             const Clock& clock) const {
  if (!variables.is_object()) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: template variables must be a JSON object",
                map_->name());
  }
  Interpreter interpreter(*map_, limits, clock);
  Scope builtins;
  interpreter.install_globals(builtins);
  Scope globals(&builtins);
  try {
    for (const auto& [key, value] : variables.items()) globals.set(key, Value::from_json(value));
    return interpreter.render(body_, globals);
  } catch (const TemplateFault& f) {  // faults outside any statement (break at top level)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "{}: {}", map_->name(), f.what());
  }
}

}  // namespace qwen3::jinja
