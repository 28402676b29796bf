// qwen3: inference engine and tools for the Qwen3 model family.
#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <map>

#include "cli/commands.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"qwen3.cpp: fast inference for Qwen3 models (BF16 and FP8)", "qwen3"};
  app.require_subcommand(1);
  app.get_formatter()->column_width(36);
  std::map<CLI::App*, qwen3::cli::Runner> runners;
  auto add = [&](qwen3::cli::Runner (*fn)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    qwen3::cli::Runner r = fn(app);
    runners[app.get_subcommands({})[before]] = std::move(r);
  };
  add(qwen3::cli::add_generate);
  add(qwen3::cli::add_init_random);
  add(qwen3::cli::add_quantize);
  add(qwen3::cli::add_tokenize);
  add(qwen3::cli::add_serve);
  add(qwen3::cli::add_bench);
  add(qwen3::cli::add_summarize);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors exit 2, like every other bad input
  }
  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const qwen3::Error& e) {
    fmt::print(stderr, "qwen3: error: {}\n", e.what());
    return e.code() == qwen3::ErrorCode::kInternal ? 1 : 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "qwen3: internal error: {}\n", e.what());
    return 1;
  }
  return 1;
}
