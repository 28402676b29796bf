// Subcommands of the `qwen3` binary. Each registers its flags on the CLI11 app and
// returns the function that runs it (exit code).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace qwen3::cli {

using Runner = std::function<int()>;

Runner add_generate(CLI::App& app);
Runner add_init_random(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_serve(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_quantize(CLI::App& app);
Runner add_summarize(CLI::App& app);

// The model folder used when none is given: $QWEN3_MODEL, else ./models/default.
std::string default_model_dir();

}  // namespace qwen3::cli
