// CPU forward throughput: prefill tokens/s and decode tokens/s (batch 1).
//
//   bench_cpu_forward                          # creates the tiny model in a temp folder
//   bench_cpu_forward --model DIR [--prompt N]   # any checkpoint, e.g. a 4B-geometry one
//
// Counters: tok_per_s (tokens processed per second) and GB_per_s (weight bytes streamed
// per second, decode only: the memory-bandwidth view, next to copy_1GiB's ceiling).
// JSON: add --benchmark_out=FILE.json --benchmark_out_format=json (bench/cpu/run.sh does).
#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "backends/cpu/cpu_model.h"
#include "model/init_random.h"
#include "model/weights.h"

namespace {

std::string g_model;
int64_t g_prompt = 128;
std::unique_ptr<qwen3::Qwen3Weights> g_weights;

const qwen3::Qwen3Weights& weights() {
  if (!g_weights) g_weights = qwen3::Qwen3Weights::load(g_model);
  return *g_weights;
}

std::vector<int32_t> prompt_ids(int64_t n, int64_t vocab) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[i] = static_cast<int32_t>((i * 7919 + 11) % vocab);
  return ids;
}

void BM_Prefill(benchmark::State& state) {
  const auto& w = weights();
  const qwen3::cpu::CpuModel model(w);
  const auto ids = prompt_ids(state.range(0), w.config().vocab_size);
  for (auto _ : state) {
    qwen3::cpu::KvCache cache(w.config(), state.range(0));
    benchmark::DoNotOptimize(model.forward(ids, cache, qwen3::cpu::LogitsMode::kLast));
  }
  state.counters["tok_per_s"] = benchmark::Counter(
      static_cast<double>(state.range(0)) * state.iterations(), benchmark::Counter::kIsRate);
}

void BM_Decode(benchmark::State& state) {
  const auto& w = weights();
  const qwen3::cpu::CpuModel model(w);
  const int64_t context = state.range(0);
  const auto ids = prompt_ids(context, w.config().vocab_size);
  qwen3::cpu::KvCache cache(w.config(), context + 1);
  model.forward(std::span(ids.data(), ids.size() - 1), cache, qwen3::cpu::LogitsMode::kLast);
  for (auto _ : state) {
    cache.set_length(context - 1);  // re-run the same decode step at the same context length
    benchmark::DoNotOptimize(model.forward(std::span(ids.data() + context - 1, 1), cache,
                                           qwen3::cpu::LogitsMode::kLast));
  }
  state.counters["tok_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["GB_per_s"] =
      benchmark::Counter(static_cast<double>(w.matrix_bytes()) * state.iterations() / 1e9,
                         benchmark::Counter::kIsRate);
}

// The memory-bandwidth ceiling on this machine: a parallel copy of 1 GiB, counting bytes
// read + written (the same convention as the GPU roofline in docs/PERFORMANCE.md).
void BM_Copy(benchmark::State& state) {
  const size_t n = size_t{1} << 30;
  std::vector<uint8_t> src(n, 1), dst(n, 0);
  for (auto _ : state) {
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < 64; ++c)
      std::memcpy(dst.data() + c * (n / 64), src.data() + c * (n / 64), n / 64);
    benchmark::DoNotOptimize(dst.data());
  }
  state.counters["GB_per_s"] = benchmark::Counter(
      2.0 * static_cast<double>(n) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
      g_model = argv[++i];
    } else if (std::strcmp(argv[i], "--prompt") == 0 && i + 1 < argc) {
      g_prompt = std::stoll(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  std::filesystem::path tmp;
  if (g_model.empty()) {
    tmp = std::filesystem::temp_directory_path() / "qwen3_bench_tiny";
    std::filesystem::remove_all(tmp);
    qwen3::InitRandomOptions o;
    o.config = qwen3::preset_config("tiny");
    o.out_dir = tmp.string();
    qwen3::init_random_checkpoint(o);
    g_model = o.out_dir;
  }
  benchmark::RegisterBenchmark("copy_1GiB", BM_Copy)->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark("prefill", BM_Prefill)
      ->Arg(g_prompt)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("decode", BM_Decode)
      ->Arg(g_prompt)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!tmp.empty()) std::filesystem::remove_all(tmp);
  return 0;
}
