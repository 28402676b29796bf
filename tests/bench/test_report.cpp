// Metrics (vLLM's definitions), the table, the JSON result keys and the SVG plot.
#include <gtest/gtest.h>

#include "bench/progress.h"
#include "bench/report.h"

namespace qwen3::bench {
namespace {

RequestResult ok(int64_t prompt, int64_t out, double ttft, double e2e, std::vector<double> itl) {
  RequestResult r;
  r.success = true;
  r.prompt_len = prompt;
  r.output_tokens = out;
  r.usage_reported = true;
  r.ttft_s = ttft;
  r.latency_s = e2e;
  r.itl_s = std::move(itl);
  r.generated_text = "x";
  return r;
}

ServeRun sample_run() {
  ServeRun run;
  run.results.push_back(ok(10, 5, 0.1, 0.5, {0.1, 0.1, 0.1, 0.1}));
  run.results.push_back(ok(20, 1, 0.2, 0.2, {}));
  RequestResult bad;
  bad.prompt_len = 30;
  bad.error = "HTTP 400: no";
  run.results.push_back(bad);
  run.duration_s = 2.0;
  run.max_in_flight = 3;
  return run;
}

ServeRunInfo sample_info() {
  ServeRunInfo info;
  info.backend = "openai";
  info.base_url = "http://127.0.0.1:1";
  info.endpoint = "/v1/completions";
  info.model_id = "m<&>";
  info.dataset_name = "random";
  info.num_prompts = 3;
  info.request_rate = INFINITY;
  info.date = "20261125-120000";
  return info;
}

TEST(BenchReport, MetricsFollowVllmDefinitions) {
  const ServeRun run = sample_run();
  const std::vector<double> ps = {90, 99};
  const ServeMetrics m = compute_serve_metrics(run, ps);
  EXPECT_EQ(m.completed, 2);
  EXPECT_EQ(m.failed, 1);
  EXPECT_EQ(m.total_input_tokens, 30);  // failed requests do not count
  EXPECT_EQ(m.total_output_tokens, 6);
  EXPECT_DOUBLE_EQ(m.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(m.input_throughput, 15.0);
  EXPECT_DOUBLE_EQ(m.output_throughput, 3.0);
  EXPECT_DOUBLE_EQ(m.total_token_throughput, 18.0);
  EXPECT_NEAR(m.ttft_ms.mean, 150, 1e-9);
  EXPECT_NEAR(m.ttft_ms.percentiles[1].second, 199, 1e-9);  // 100 + 0.99 * 100
  EXPECT_NEAR(m.tpot_ms.mean, 100, 1e-9);  // (500 - 100) / (5 - 1); the 1-token reply has none
  EXPECT_NEAR(m.tpot_ms.std, 0, 1e-9);
  EXPECT_NEAR(m.itl_ms.mean, 100, 1e-9);
  EXPECT_NEAR(m.e2el_ms.mean, 350, 1e-9);
  EXPECT_NEAR(m.e2el_ms.percentiles[0].second, 470, 1e-9);  // 200 + 0.9 * 300
  EXPECT_EQ(m.max_concurrent_requests, 3);
}

TEST(BenchReport, ResultJsonHasVllmKeys) {
  const ServeRun run = sample_run();
  const std::vector<double> ps = {90, 99, 99.9};
  const ServeMetrics m = compute_serve_metrics(run, ps);
  const nlohmann::json j = serve_result_json(m, sample_info(), run);
  for (const char* key : {"date",
                          "backend",
                          "model_id",
                          "tokenizer_id",
                          "num_prompts",
                          "request_rate",
                          "burstiness",
                          "max_concurrency",
                          "duration",
                          "completed",
                          "failed",
                          "total_input_tokens",
                          "total_output_tokens",
                          "request_throughput",
                          "input_throughput",
                          "output_throughput",
                          "total_token_throughput",
                          "max_concurrent_requests",
                          "input_lens",
                          "output_lens",
                          "ttfts",
                          "itls",
                          "generated_texts",
                          "errors"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* metric : {"ttft", "tpot", "itl", "e2el"}) {
    for (const char* stat : {"mean", "median", "std", "p90", "p99", "p99.9"}) {
      const std::string key = std::string(stat) + "_" + metric + "_ms";
      EXPECT_TRUE(j.contains(key) && j[key].is_number()) << key;
    }
  }
  EXPECT_EQ(j["request_rate"], "inf");
  EXPECT_TRUE(j["max_concurrency"].is_null());
  EXPECT_EQ(j["completed"], 2);
  EXPECT_EQ(j["output_lens"], nlohmann::json({5, 1, 0}));
  EXPECT_EQ(j["errors"][2], "HTTP 400: no");
  EXPECT_DOUBLE_EQ(j["mean_tpot_ms"].get<double>(), 100);
  EXPECT_EQ(percentile_key(99), "p99");
  EXPECT_EQ(percentile_key(99.9), "p99.9");
}

TEST(BenchReport, TableLooksLikeVllm) {
  const ServeRun run = sample_run();
  const std::vector<double> ps = {99};
  const std::string t = format_serve_table(compute_serve_metrics(run, ps), sample_info());
  EXPECT_EQ(t.substr(0, 51), "============ Serving Benchmark Result ============\n");
  for (const char* line : {"Successful requests:                     2 ",
                           "Failed requests:                         1 ",
                           "Benchmark duration (s):                  2.00",
                           "Total generated tokens:                  6",
                           "Request throughput (req/s):              1.00",
                           "Output token throughput (tok/s):         3.00",
                           "Mean TTFT (ms):                          150.00",
                           "P99 TTFT (ms):                           199.00",
                           "Mean TPOT (ms):                          100.00",
                           "---------------Time to First Token----------------",
                           "-----Time per Output Token (excl. 1st token)------",
                           "Mean E2EL (ms):                          350.00"}) {
    EXPECT_NE(t.find(line), std::string::npos) << "missing '" << line << "' in\n" << t;
  }
}

TEST(BenchReport, SvgPlotIsSelfContainedAndEscaped) {
  const std::string svg = latency_plot_svg(sample_run(), sample_info());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '<'), std::count(svg.begin(), svg.end(), '>'));
  EXPECT_NE(svg.find("m&lt;&amp;&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("m<&>"), std::string::npos);
  size_t polylines = 0;
  for (size_t p = svg.find("<polyline"); p != std::string::npos; p = svg.find("<polyline", p + 1)) {
    ++polylines;
  }
  EXPECT_EQ(polylines, 4u);  // TTFT, TPOT, ITL, E2E all have samples
  const std::string empty = latency_plot_svg(ServeRun{}, sample_info());
  EXPECT_NE(empty.find("no samples"), std::string::npos);
}

TEST(BenchProgress, LineShowsCountsRateAndTimes) {
  const std::string line = progress_line(347, 2, 1000, 28.0);
  for (const char* part : {" 347/1000", "34.7%", "12.4 req/s", "2 failed", "00:28 < 00:53"}) {
    EXPECT_NE(line.find(part), std::string::npos) << "missing '" << part << "' in " << line;
  }
  EXPECT_EQ(line.substr(0, 11), "[########  ");                           // 8 of 24 cells filled
  EXPECT_NE(progress_line(0, 0, 5, 0).find("--:--"), std::string::npos);  // no ETA yet
  EXPECT_NE(progress_line(5, 0, 5, 4000).find("1:06:40"), std::string::npos);
}

}  // namespace
}  // namespace qwen3::bench
