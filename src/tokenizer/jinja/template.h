// A parsed Jinja template: parse once, render many times, from many threads.
//
// Supported: the subset Hugging Face chat templates use (see chat_template.h and the
// report in tests/jinja). Whitespace rules follow transformers' trim_blocks=True,
// lstrip_blocks=True, as implemented by the @huggingface/jinja reference. Values
// follow Python/jinja2 semantics (what transformers renders).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "tokenizer/jinja/interpreter.h"

namespace qwen3::jinja {

class Template {
 public:
  // Throws qwen3::Error (kInvalidArgument) naming `name:line:column` on a syntax error.
  Template(std::string source, std::string name);

  // `variables` is a JSON object; its keys become template variables (key order kept).
  // Throws qwen3::Error (kInvalidArgument) naming `name:line:column` on a runtime error
  // (raise_exception included) or when a RenderLimits bound is hit.
  std::string render(const nlohmann::ordered_json& variables, const RenderLimits& limits = {},
                     const Clock& clock = local_now) const;

  const std::string& name() const { return map_->name(); }

 private:
  std::string source_;
  std::unique_ptr<SourceMap> map_;
  Body body_;
};

}  // namespace qwen3::jinja
