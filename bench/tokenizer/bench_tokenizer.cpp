// Tokenizer encode throughput (MB/s of UTF-8 input), single thread and batch over threads,
// plus worst cases (1 MiB of one repeated character).
//
//   bench_tokenizer --tokenizer DIR --text FILE [google-benchmark flags]
//
// FILE is split into documents at blank lines; the same file is given to HF `tokenizers`
// by tools/gpu/bench_tokenizer_hf.py for the comparison in docs/PERFORMANCE.md.
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::unique_ptr<qwen3::text::Tokenizer> g_tok;
std::string g_text;
std::vector<std::string> g_docs;

void BM_EncodeSingleThread(benchmark::State& state) {
  size_t tokens = 0;
  for (auto _ : state) {
    for (const auto& d : g_docs) tokens += g_tok->encode(d).size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(g_text.size()) * state.iterations());
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}

void BM_EncodeBatch(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([t, threads] {
        for (size_t i = static_cast<size_t>(t); i < g_docs.size();
             i += static_cast<size_t>(threads)) {
          benchmark::DoNotOptimize(g_tok->encode(g_docs[i]));
        }
      });
    }
    for (auto& th : pool) th.join();
  }
  state.SetBytesProcessed(static_cast<int64_t>(g_text.size()) * state.iterations());
}

void BM_WorstCase(benchmark::State& state, std::string unit) {
  std::string s;
  while (s.size() < (1u << 20)) s += unit;
  for (auto _ : state) benchmark::DoNotOptimize(g_tok->encode(s));
  state.SetBytesProcessed(static_cast<int64_t>(s.size()) * state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  std::string tokenizer_dir = "third_party/tokenizer/qwen3", text_file;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc)
      tokenizer_dir = argv[++i];
    else if (std::strcmp(argv[i], "--text") == 0 && i + 1 < argc)
      text_file = argv[++i];
    else
      rest.push_back(argv[i]);
  }
  if (text_file.empty()) {
    std::fprintf(stderr,
                 "usage: bench_tokenizer --text FILE [--tokenizer DIR] (see "
                 "bench/tokenizer/make_text.sh)\n");
    return 2;
  }
  g_tok = qwen3::text::Tokenizer::load(tokenizer_dir);
  std::ifstream in(text_file);
  std::stringstream ss;
  ss << in.rdbuf();
  g_text = ss.str();
  size_t start = 0;
  for (size_t pos; (pos = g_text.find("\n\n", start)) != std::string::npos; start = pos + 2) {
    g_docs.push_back(g_text.substr(start, pos + 2 - start));
  }
  g_docs.push_back(g_text.substr(start));
  benchmark::RegisterBenchmark("encode/1thread", BM_EncodeSingleThread)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (int t : {2, 4, 8, 16}) {
    if (t <= static_cast<int>(std::thread::hardware_concurrency())) {
      benchmark::RegisterBenchmark("encode/batch", BM_EncodeBatch)
          ->Arg(t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  for (const char* unit : {"a", "中", " ", "!"}) {
    benchmark::RegisterBenchmark((std::string("worst_1MiB/") + unit).c_str(), BM_WorstCase,
                                 std::string(unit))
        ->Unit(benchmark::kMillisecond)
        ->Iterations(3);
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
