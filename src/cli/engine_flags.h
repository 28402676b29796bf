// Flags of the in-process engine (vLLM's names), shared by `bench throughput`,
// `bench latency` and `summarize`.
#pragma once

#include <CLI/CLI.hpp>

#include "engine/engine_builder.h"

namespace qwen3::cli {

void add_engine_flags(CLI::App& sub, EngineOptions& e, int& threads);
// Before build_engine: checks --kv-cache-dtype and --tensor-parallel-size against
// --device, then the default model folder and the CPU thread count.
void prepare_engine(EngineOptions& e, int threads);

}  // namespace qwen3::cli
