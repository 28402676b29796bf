// Randomized mutation of real chat templates (the STYLE's "fuzz every parser", run in CI):
// every mutated template either renders or fails with qwen3::Error; nothing crashes,
// hangs or throws anything else. Small render limits keep each case fast.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "tokenizer/jinja/template.h"

namespace qwen3::jinja {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(JinjaFuzz, MutatedTemplatesRenderOrFailCleanly) {
  const std::vector<std::string> seeds = {
      read(std::string(QWEN3_TEST_DATA_DIR) + "/templates/qwen3.jinja"),
      read(std::string(QWEN3_TEST_DATA_DIR) + "/templates/synthetic_expressions.jinja"),
      read(std::string(QWEN3_TEST_DATA_DIR) + "/templates/synthetic_loops_macros.jinja")};
  const auto vars = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi <think>"},
                 {"role": "assistant", "content": "a</think>b", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
                 {"role": "tool", "content": "r"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "add_generation_prompt": true, "items": [1, 2, 3], "name": "n", "x": 2})");
  const char* fragments[] = {"{{",    "}}",   "{%",    "%}",   "{#",     "#}",    "-",
                             "(",     ")",    "[",     "]",    "'",      "\"",    "|",
                             ".",     " if ", " for ", " in ", "endfor", "endif", "set ",
                             "loop.", "~",    "*",     "//",   "\n"};
  RenderLimits limits;
  limits.max_output_bytes = 1 << 20;
  limits.max_steps = 100000;
  std::mt19937_64 rng(2026);
  int rendered = 0, rejected = 0;
  for (int iter = 0; iter < 1500; ++iter) {
    std::string src = seeds[iter % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !src.empty(); ++e) {
      const size_t pos = rng() % src.size();
      switch (rng() % 3) {
        case 0:
          src.erase(pos, 1 + rng() % 8);
          break;
        case 1:
          src.insert(pos, fragments[rng() % std::size(fragments)]);
          break;
        default:
          src.insert(pos, src.substr(rng() % src.size(), rng() % 16));
          break;
      }
    }
    try {
      const Template t(src, "fuzz.jinja");
      t.render(vars, limits);
      ++rendered;
    } catch (const Error&) {
      ++rejected;
    }
  }
  EXPECT_GT(rendered, 0);
  EXPECT_GT(rejected, 0);
  std::printf("jinja fuzz: %d rendered, %d rejected cleanly\n", rendered, rejected);
}

}  // namespace
}  // namespace qwen3::jinja
