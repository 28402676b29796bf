// Errors: unsupported syntax names line:column, raise_exception surfaces its message,
// runaway templates stop at the RenderLimits, nothing renders silently wrong.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/jinja/template.h"

namespace qwen3::jinja {
namespace {

using nlohmann::ordered_json;

// Parses and renders `source`, expecting an Error whose message contains `needle`.
void expect_error(const std::string& source, const std::string& needle,
                  const ordered_json& vars = ordered_json::object(), const RenderLimits& limits = {}) {
  SCOPED_TRACE(source);
  try {
    const Template t(source, "t.jinja");
    const std::string out = t.render(vars, limits);
    ADD_FAILURE() << "rendered instead of failing: " << out;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  expect_error("hello\n  {% include 'other.jinja' %}", "t.jinja:2:6: unsupported statement 'include'");
  expect_error("{{ a $ b }}", "t.jinja:1:6: unexpected character '$'");
  expect_error("line1\nline2 {% if x %}never closed", "t.jinja:2:7: block is never closed (missing '{% endif %}')");
  expect_error("{{ x | }}", "t.jinja:1:8: expected a name");
  expect_error("{% for x in %}{% endfor %}", "t.jinja:1:13: expected an expression");
  expect_error("{{ 'unterminated }}", "t.jinja:1:4: string literal is not closed");
  expect_error("{{ '\\q' }}", "t.jinja:1:5: unsupported escape");
  expect_error("{# never closed", "t.jinja:1:1: comment is not closed");
  expect_error("{% for x in y recursive %}{% endfor %}", "recursive loops are not supported");
  expect_error("{{ f(*args) }}", "argument unpacking is not supported");
  expect_error("{% macro m(a=1, b) %}{% endmacro %}", "non-default parameter follows default");
  expect_error("{% endif %}", "t.jinja:1:4: unexpected '{% endif %}'");
  expect_error("{% if a %}{% else %}{% elif b %}{% endif %}", "t.jinja:1:24: unexpected '{% elif %}'");
}

TEST(JinjaErrors, RuntimeErrorsNameLineAndColumn) {
  expect_error("ok\n{{ 'a' + 1 }}", "t.jinja:2:8: unsupported operand types for +: 'str' and 'int'");
  expect_error("{{ x | frobnicate }}", "t.jinja:1:8: unknown filter 'frobnicate'");
  expect_error("{{ 1 is frobbed }}", "unknown test 'frobbed'");
  expect_error("{{ 'abc'.format(1) }}", "str.format() is not supported");
  expect_error("{{ nothing() }}", "'nothing' is not callable (undefined)");
  expect_error("{{ 1 // 0 }}", "division by zero");
  expect_error("{% set x.y = 1 %}", "not a namespace()");
  expect_error("{{ undefined_thing | tojson }}", "not JSON serializable");
  expect_error("{% for a, b in [1, 2] %}{% endfor %}", "cannot unpack");
  expect_error("{{ 9223372036854775807 + 1 }}", "integer overflow");
  expect_error("{% break %}", "outside a loop");
}

TEST(JinjaErrors, RaiseExceptionCarriesMessage) {
  const std::string source =
      "{%- for m in messages %}\n"
      "  {%- if m.role not in ['user', 'assistant'] %}\n"
      "    {{- raise_exception('Unexpected role: ' ~ m.role) }}\n"
      "  {%- endif %}\n"
      "{%- endfor %}";
  expect_error(source, "t.jinja:3:", ordered_json{{"messages", {{{"role", "robot"}}}}});
  expect_error(source, "raise_exception: Unexpected role: robot",
               ordered_json{{"messages", {{{"role", "robot"}}}}});
  const Template ok(source, "t.jinja");
  EXPECT_EQ(ok.render(ordered_json{{"messages", {{{"role", "user"}}}}}), "");
}

TEST(JinjaErrors, RunawayTemplatesHitLimits) {
  RenderLimits small;
  small.max_output_bytes = 1 << 20;
  expect_error("{% for i in range(1000) %}{% for j in range(1000) %}xxxxxxxxxx{% endfor %}{% endfor %}",
               "template output exceeds the limit of 1048576 bytes", ordered_json::object(), small);
  expect_error(
      "{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
      "exceeds the limit", ordered_json::object(), small);
  RenderLimits few_steps;
  few_steps.max_steps = 10000;
  expect_error("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
               "more than 10000 loop iterations", ordered_json::object(), few_steps);
  expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro calls nest deeper than 64");
  expect_error("{{ range(100000000) | length }}", "range() is longer than 1000000 items");
  expect_error("{{ " + std::string(500, '(') + "1" + std::string(500, ')') + " }}",
               "template nests deeper than 200");
  std::string deep_ifs;
  for (int k = 0; k < 300; ++k) deep_ifs += "{% if true %}";
  expect_error(deep_ifs, "template nests deeper than 200");
}

}  // namespace
}  // namespace qwen3::jinja
