// Python/jinja2 semantics (what transformers renders) in places where the
// @huggingface/jinja reference differs or has no support; every expected string below
// was produced by jinja2 3.1 configured like transformers (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols, tojson = json.dumps(ensure_ascii=False)).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/template.h"

namespace qwen3::jinja {
namespace {

struct Case {
  const char* source;
  const char* expected;
};

const nlohmann::ordered_json& variables() {
  static const nlohmann::ordered_json v = nlohmann::ordered_json::parse(
      R"({"data": {"b": 1.0, "2": [1.5, -0.0, 1e-7, 12345678901234567890.0],)"
      R"( "s": "é\u0001\"", "t": true, "n": null}})");
  return v;
}

TEST(JinjaSemantics, MatchesPythonJinja2) {
  const Case cases[] = {
    {R"J({{ none }}|{{ true }}|{{ false }}|{{ [1, 'a', none, 2.5] }}|{{ {'a': "it's", 'b': [true]} }})J",
     R"J(None|True|False|[1, 'a', None, 2.5]|{'a': "it's", 'b': [True]})J"},
    {R"J({{ 10.0 ** 20 }} {{ 1.0 / 100000 }} {{ 10.0 ** 16 }} {{ 10.0 ** 15 }} {{ 2 ** -1 }} {{ 0.1 * 3 }})J",
     R"J(1e+20 1e-05 1e+16 1000000000000000.0 0.5 0.30000000000000004)J"},
    {R"J({{ -7 % 3 }} {{ 7 % -3 }} {{ -7.5 // 2 }} {{ 5.5 % 2 }})J",
     R"J(2 -2 -4.0 1.5)J"},
    {R"J({{ 'xxhixx'.strip('x') }}|{{ '\n\n  x\n'.lstrip('\n') }}|{{ 'ab\n '.rstrip('\n') }}|{{ '\u3000wide\u00a0'.strip() }})J",
     R"J(hi|  x
|ab
 |wide)J"},
    {R"J({{ 'hELLO wORLD' | title }} {{ 'hELLO' | capitalize }} {{ "they're 3rd".title() }})J",
     R"J(Hello World Hello They'Re 3Rd)J"},
    {R"J({{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(1) }} {{ 7 | round }} {{ 2.1 | round(0, 'ceil') }})J",
     R"J(2.0 4.0 2.7 7 3.0)J"},
    {R"J({{ data | tojson }})J",
     R"J({"b": 1.0, "2": [1.5, -0.0, 1e-07, 1.2345678901234567e+19], "s": "é\u0001\"", "t": true, "n": null})J"},
    {R"J({{ data.b }} {{ data['2'][0] }} {{ data.t }})J",
     R"J(1.0 1.5 True)J"},
    {R"J({{ data | tojson(indent=2, sort_keys=true) }})J",
     R"J({
  "2": [
    1.5,
    -0.0,
    1e-07,
    1.2345678901234567e+19
  ],
  "b": 1.0,
  "n": null,
  "s": "é\u0001\"",
  "t": true
})J"},
    {R"J({{ data.s | tojson(ensure_ascii=true) }} {{ '🚀' | tojson(ensure_ascii=true) }})J",
     R"J("\u00e9\u0001\"" "\ud83d\ude80")J"},
    {R"J({{ [1, 2, 3, 4] | select('odd') | join(',') }} {{ [1, 2, 3, 4] | reject('odd') | join(',') }} {{ ['a', 'A', 'b'] | unique | join }} {{ [0, 1, '', 'x'] | select | list | length }})J",
     R"J(1,3 2,4 ab 2)J"},
    {R"J({{ x | default('d') }}{{ none | default('d') }}{{ 0 | default('z', true) }})J",
     R"J(dNonez)J"},
    {R"J({{ [1, 2] | map('string') | join(',') }} {{ 'a,b' | list }} {{ {'k': 1} | list }} {{ 'abc' | reverse }})J",
     R"J(1,2 ['a', ',', 'b'] ['k'] cba)J"},
    {R"J({% for a in [1, 2] %}{% set y = a %}{% endfor %}[{{ y }}]{% for a in [] %}x{% else %}empty{% endfor %})J",
     R"J([]empty)J"},
    {R"J({{ '12abc' | int }} {{ '3.7' | int }} {{ -3.7 | int }} {{ 'x' | float }} {{ '1e3' | float }} {{ true | int }})J",
     R"J(0 3 -3 0.0 1000.0 1)J"},
    {R"J({{ 'a b  c '.split(none, 1) }} {{ ' a  b '.split() }} {{ 'a--b--c'.split('--') }} {{ 'héllo'.find('l') }} {{ 'abc'.replace('', '-') }})J",
     R"J(['a', 'b  c '] ['a', 'b'] ['a', 'b', 'c'] 2 -a-b-c-)J"},
    {R"J({{ 'x' in none if false else 'ok' }} {{ [1, [2]] == [1, [2]] }} {{ 1 == 1.0 }} {{ true == 1 }} {{ {'a': 1} == {'a': 1} }})J",
     R"J(ok True True True True)J"},
    {R"J({% macro m(a, b=a ~ '!') %}{{ a }}{{ b }}{% endmacro %}{{ m('x') }} {{ m('x', 'y') }} {{ m(b='q', a='p') }})J",
     R"J(xx! xy pq)J"},
    {R"J({{ 'é' | length }} {{ '日本語'[::-1] }} {{ '🚀x'[0] }} {{ [1, 2, 3][5] is defined }} {{ [1, 2, 3][-5:10] }})J",
     R"J(1 語本日 🚀 False [1, 2, 3])J"},
    {R"J({% set ns = namespace(d={'a': 1}) %}{{ ns.d.a }}{% set t = (1, 'a') %}{{ t[1] }}{{ (1,) | length }})J",
     R"J(1a1)J"},
    {R"J({% filter upper %}shout {{ 'this' }}{% endfilter %})J",
     R"J(SHOUT THIS)J"},
    {R"J({{ 'a<b>&"\'' | e }} {{ 7 is divisibleby(7) }} {{ 5 is gt(3) }} {{ 'x' is in(['x']) }})J",
     R"J(a&lt;b&gt;&amp;&#34;&#39; True True True)J"},
    {R"J({{ messages is defined }} {{ 'Hello' is lower }} {{ 'HI' is upper }} {{ true is number }} {{ true is integer }} {{ range(3) | list }})J",
     R"J(False False True True False [0, 1, 2])J"},  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.source);
    EXPECT_EQ(Template(c.source, "t.jinja").render(variables()), c.expected);
  }
}

TEST(JinjaSemantics, StrftimeNowUsesInjectedClock) {
  const Clock fixed = [] {
    std::tm tm{};
    tm.tm_year = 2025 - 1900;
    tm.tm_mon = 6;
    tm.tm_mday = 4;
    tm.tm_hour = 9;
    tm.tm_min = 5;
    return tm;
  };
  const Template t("Today is {{ strftime_now('%d %b %Y, %H:%M') }}.", "t.jinja");
  EXPECT_EQ(t.render(nlohmann::ordered_json::object(), {}, fixed), "Today is 04 Jul 2025, 09:05.");
}

TEST(JinjaSemantics, GenerationTagsAreNoOps) {
  const Template t("a{% generation %}b{%- endgeneration %} c", "t.jinja");
  EXPECT_EQ(t.render(nlohmann::ordered_json::object()), "ab c");
}

TEST(JinjaSemantics, CallerVariablesShadowGlobals) {
  const Template t("{{ range }}", "t.jinja");
  EXPECT_EQ(t.render(nlohmann::ordered_json{{"range", "mine"}}), "mine");
}

}  // namespace
}  // namespace qwen3::jinja
