// `qwen3 bench serve|throughput|latency|accuracy`: the load generator for OpenAI-compatible
// servers, the in-process engine benchmarks and the model-vs-reference logits comparison. Flags keep vLLM's `vllm bench` names.
#include <omp.h>

#include "bench/accuracy.h"
#include "bench/bench_serve.h"
#include "bench/engine_bench.h"
#include "cli/commands.h"
#include "cli/engine_flags.h"
#include "core/error.h"

namespace qwen3::cli {
namespace {

struct ServeFlags {
  bench::ServeBenchConfig c;
  std::string percentiles = "90,99";
};

int run_serve(ServeFlags& f) {
  f.c.percentiles = bench::parse_percentiles(f.percentiles);
  f.c.tokenizer_dir = bench::resolve_tokenizer_dir(
      f.c.tokenizer_dir, {f.c.model, default_model_dir(), "third_party/tokenizer/qwen3"});
  return bench::run_bench_serve(f.c);
}

void add_serve_flags(CLI::App& sub, ServeFlags& f) {
  bench::ServeBenchConfig& c = f.c;
  sub.add_option("--base-url", c.base_url, "Server URL, http://HOST:PORT[/PREFIX]")
      ->capture_default_str();
  sub.add_option("--endpoint", c.endpoint, "/v1/completions or /v1/chat/completions")
      ->capture_default_str();
  sub.add_option("--model", c.model, "Model name to request (default: first of GET /v1/models)");
  sub.add_option("--api-key", c.api_key, "Bearer token (default: $OPENAI_API_KEY)");
  sub.add_option("--tokenizer", c.tokenizer_dir,
                 "Folder with tokenizer.json for token counts (default: --model if a folder, "
                 "$QWEN3_MODEL / models/default, third_party/tokenizer/qwen3)");
  sub.add_option("--dataset-name", c.dataset_name, "random or jsonl")
      ->check(CLI::IsMember({"random", "jsonl"}))
      ->capture_default_str();
  sub.add_option("--dataset-path", c.dataset_path,
                 "JSONL file: {\"prompt\": ...} or ShareGPT {\"conversations\": [...]} per line");
  sub.add_option("--random-input-len", c.random.input_len, "Prompt tokens (random dataset)")
      ->capture_default_str();
  sub.add_option("--random-output-len", c.random.output_len,
                 "max_tokens per request (jsonl: when a line names none)")
      ->capture_default_str();
  sub.add_option("--random-range-ratio", c.random.range_ratio,
                 "Lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str();
  sub.add_option("--num-prompts", c.random.num_prompts, "Requests to send")->capture_default_str();
  sub.add_option("--request-rate", c.request_rate, "Requests/s (Poisson arrivals) or inf")
      ->capture_default_str();
  sub.add_option("--max-concurrency", c.max_concurrency, "Most requests in flight (0 = unlimited)")
      ->capture_default_str();
  sub.add_option("--seed", c.random.seed, "Seed of the dataset and the arrivals")
      ->capture_default_str();
  sub.add_flag("--ignore-eos", c.ignore_eos, "Send ignore_eos: true (vLLM extension)");
  sub.add_flag("--keep-alive,!--no-keep-alive", c.keep_alive, "Reuse connections (default on)");
  sub.add_option("--timeout", c.timeout_s, "Seconds allowed for connect, send and each read")
      ->capture_default_str();
  sub.add_option("--metric-percentiles", f.percentiles, "Percentiles to report")
      ->capture_default_str();
  sub.add_option("--result-file", c.result_file, "Write the JSON result here");
  sub.add_option("--plot", c.plot_file, "Write an SVG plot of latency percentiles here");
  sub.add_flag("--progress{1},--no-progress{0}", c.progress,
               "Progress bar on stderr (default: when stderr is a terminal)");
}

struct ThroughputFlags {
  bench::ThroughputConfig c;
  int threads = 0;
};

struct LatencyFlags {
  bench::LatencyConfig c;
  int threads = 0;
};

CLI::App* add_throughput(CLI::App& bench, ThroughputFlags& f) {
  CLI::App* sub = bench.add_subcommand(
      "throughput", "Offline throughput: all prompts at once to the in-process engine");
  add_engine_flags(*sub, f.c.engine, f.threads);
  sub->add_option("--num-prompts", f.c.num_prompts, "Requests")->capture_default_str();
  sub->add_option("--input-len", f.c.input_len, "Prompt tokens (random)")->capture_default_str();
  sub->add_option("--output-len", f.c.output_len, "Tokens to generate (ignore_eos)")
      ->capture_default_str();
  sub->add_option("--random-range-ratio", f.c.range_ratio,
                  "Lengths uniform in [len*(1-r), len*(1+r)]")
      ->capture_default_str();
  sub->add_option("--seed", f.c.seed, "Seed of prompts and sampling")->capture_default_str();
  sub->add_option("--output-json", f.c.output_json, "Write the results here");
  return sub;
}

CLI::App* add_latency(CLI::App& bench, LatencyFlags& f) {
  CLI::App* sub = bench.add_subcommand(
      "latency", "Offline latency of one batch: prefill, decode and end to end");
  add_engine_flags(*sub, f.c.engine, f.threads);
  sub->add_option("--input-len", f.c.input_len, "Prompt tokens (random ids)")
      ->capture_default_str();
  sub->add_option("--output-len", f.c.output_len, "Tokens to generate (ignore_eos)")
      ->capture_default_str();
  sub->add_option("--batch-size", f.c.batch_size, "Prompts per iteration")->capture_default_str();
  sub->add_option("--num-iters-warmup", f.c.num_iters_warmup, "Unmeasured iterations first")
      ->capture_default_str();
  sub->add_option("--num-iters", f.c.num_iters, "Measured iterations")->capture_default_str();
  sub->add_option("--seed", f.c.seed, "Seed of prompts and sampling")->capture_default_str();
  sub->add_option("--output-json", f.c.output_json, "Write the results here");
  return sub;
}

CLI::App* add_accuracy(CLI::App& bench, bench::AccuracyConfig& c) {
  CLI::App* sub = bench.add_subcommand(
      "accuracy",
      "Compare a model's logits with a reference model's (e.g. FP8 vs BF16) over teacher-forced "
      "greedy decoding: top-1 agreement, cosine, max |diff|, KL");
  sub->add_option("--model", c.model_dir, "Model under test (folder)")->required();
  sub->add_option("--reference", c.reference_dir, "Reference model (folder), same geometry")
      ->required();
  sub->add_option("--device", c.device, "cpu, cuda or auto")->capture_default_str();
  sub->add_option("--reference-device", c.reference_device,
                  "Backend of the reference (default: --device)");
  sub->add_option("--prompt-len", c.prompt_len, "Random prompt tokens")->capture_default_str();
  sub->add_option("--steps", c.steps, "Decode steps compared after the prompt")
      ->capture_default_str();
  sub->add_option("--seed", c.seed, "Seed of the prompt")->capture_default_str();
  sub->add_option("--output-json", c.output_json, "Write the results here");
  return sub;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  CLI::App* bench =
      app.add_subcommand("bench", "Benchmarks: serve (HTTP load), throughput, latency, accuracy");
  bench->require_subcommand(1);
  auto serve = std::make_shared<ServeFlags>();
  CLI::App* serve_cmd = bench->add_subcommand(
      "serve",
      "Load an OpenAI-compatible server and report TTFT/TPOT/ITL/E2E like vllm bench serve");
  add_serve_flags(*serve_cmd, *serve);
  auto tput = std::make_shared<ThroughputFlags>();
  CLI::App* tput_cmd = add_throughput(*bench, *tput);
  auto lat = std::make_shared<LatencyFlags>();
  CLI::App* lat_cmd = add_latency(*bench, *lat);
  auto acc = std::make_shared<bench::AccuracyConfig>();
  CLI::App* acc_cmd = add_accuracy(*bench, *acc);
  return [=]() -> int {
    if (acc_cmd->parsed()) return bench::run_bench_accuracy(*acc);
    if (serve_cmd->parsed()) return run_serve(*serve);
    if (tput_cmd->parsed()) {
      prepare_engine(tput->c.engine, tput->threads);
      return bench::run_bench_throughput(tput->c);
    }
    if (lat_cmd->parsed()) {
      prepare_engine(lat->c.engine, lat->threads);
      return bench::run_bench_latency(lat->c);
    }
    return 2;
  };
}

}  // namespace qwen3::cli
