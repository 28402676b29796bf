#include "bench/bench_serve.h"

#include <fmt/core.h>
#include <fmt/format.h>
#include <sys/resource.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "bench/progress.h"
#include "bench/report.h"
#include "bench/serve_bench.h"
#include "core/error.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {

namespace fs = std::filesystem;
using nlohmann::json;

std::string resolve_tokenizer_dir(const std::string& flag,
                                  const std::vector<std::string>& candidates) {
  if (!flag.empty()) return flag;
  std::vector<std::string> tried = candidates;
  tried.push_back(std::string(QWEN3_SOURCE_DIR) + "/third_party/tokenizer/qwen3");
  std::error_code ec;
  for (const std::string& dir : tried) {
    if (!dir.empty() && fs::is_regular_file(fs::path(dir) / "tokenizer.json", ec)) return dir;
  }
  QWEN3_THROW(ErrorCode::kIo, "no tokenizer.json in any of [{}]; pass --tokenizer DIR",
              fmt::join(tried, ", "));
}

double parse_request_rate(const std::string& text) {
  if (text == "inf" || text == "Inf" || text == "INF") return INFINITY;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || !(v > 0) || !std::isfinite(v)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--request-rate: expected a number of requests/s > 0 or inf, got '{}'", text);
  }
  return v;
}

std::vector<double> parse_percentiles(const std::string& text) {
  std::vector<double> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(pos, end - pos);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || !(v > 0 && v <= 100)) {
      QWEN3_THROW(ErrorCode::kInvalidArgument,
                  "--metric-percentiles: expected numbers in (0, 100] like 90,99, got '{}'", text);
    }
    out.push_back(v);
    pos = end + 1;
  }
  return out;
}

namespace {

// Many concurrent streams need many sockets: lift the soft descriptor limit to the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::vector<BenchPrompt> make_dataset(const ServeBenchConfig& c, const text::Tokenizer& tok) {
  if (c.dataset_name == "random") return random_dataset(tok, c.random);
  if (c.dataset_name == "jsonl") {
    if (c.dataset_path.empty()) {
      QWEN3_THROW(ErrorCode::kInvalidArgument, "--dataset-name jsonl needs --dataset-path FILE");
    }
    return file_dataset(tok, {c.dataset_path, c.random.num_prompts, c.random.output_len});
  }
  QWEN3_THROW(ErrorCode::kInvalidArgument, "--dataset-name: expected random or jsonl, got '{}'",
              c.dataset_name);
}

void report(const ServeBenchConfig& c, const ServeRunInfo& info, const ServeRun& run,
            const ServeMetrics& m) {
  fmt::print("{}", format_serve_table(m, info));
  std::fflush(stdout);
  if (!c.result_file.empty()) {
    const json j = serve_result_json(m, info, run);
    write_text_file(c.result_file, j.dump(2, ' ', false, json::error_handler_t::replace) + "\n",
                    "--result-file");
    fmt::print(stderr, "result written to {}\n", c.result_file);
  }
  if (!c.plot_file.empty()) {
    write_text_file(c.plot_file, latency_plot_svg(run, info), "--plot");
    fmt::print(stderr, "plot written to {}\n", c.plot_file);
  }
}

}  // namespace

int run_bench_serve(const ServeBenchConfig& c) {
  if (c.random.num_prompts < 1) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--num-prompts must be >= 1, got {}",
                c.random.num_prompts);
  }
  if (c.max_concurrency < 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--max-concurrency must be >= 1 (or 0 = unlimited)");
  }
  const double rate = parse_request_rate(c.request_rate);
  raise_fd_limit();
  HttpOptions http;
  http.api_key = c.api_key;
  if (http.api_key.empty() && std::getenv("OPENAI_API_KEY") != nullptr) {
    http.api_key = std::getenv("OPENAI_API_KEY");
  }
  http.keep_alive = c.keep_alive;
  http.timeout_s = c.timeout_s;
  HttpClient client(parse_base_url(c.base_url), http);
  const std::string model = resolve_served_model(client, c.model);
  const auto tok = text::Tokenizer::load(c.tokenizer_dir);
  const std::vector<BenchPrompt> prompts = make_dataset(c, *tok);

  ServeRunOptions o;
  o.endpoint = c.endpoint;
  o.spec = {api_kind_for_endpoint(c.endpoint), model, c.ignore_eos};
  o.request_rate = rate;
  o.max_concurrency = c.max_concurrency;
  o.seed = c.random.seed;
  ServeRunInfo info{api_kind_backend_name(o.spec.api),
                    c.base_url,
                    c.endpoint,
                    model,
                    c.tokenizer_dir,
                    c.dataset_name,
                    c.random.num_prompts,
                    rate,
                    std::nullopt,
                    c.random.seed,
                    now_text()};
  if (c.max_concurrency > 0) info.max_concurrency = c.max_concurrency;
  fmt::print(stderr,
             "bench serve: {} {} prompts -> {}{} (model {}), rate {} req/s, max concurrency {}\n",
             prompts.size(), c.dataset_name, c.base_url, c.endpoint, model, c.request_rate,
             c.max_concurrency > 0 ? std::to_string(c.max_concurrency) : "unlimited");
  ProgressBar bar(progress_enabled(c.progress));
  if (progress_enabled(c.progress)) {
    o.on_progress = [&bar](int64_t done, int64_t failed, int64_t total, double s) {
      bar.update(done, failed, total, s);
    };
  }
  ServeRun run = run_serve_bench(client, prompts, o);
  bar.finish();
  count_missing_output_tokens(run.results, *tok);
  const ServeMetrics m = compute_serve_metrics(run, c.percentiles);
  report(c, info, run, m);
  if (m.completed == 0) {
    QWEN3_THROW(ErrorCode::kUnavailable, "all {} requests failed; the first: {}",
                run.results.size(), run.results.front().error);
  }
  return 0;
}

}  // namespace qwen3::bench
