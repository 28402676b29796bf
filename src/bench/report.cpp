#include "bench/report.h"

#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "core/error.h"

namespace qwen3::bench {

using nlohmann::json;

LatencySamples latency_samples(const ServeRun& run) {
  LatencySamples s;
  for (const RequestResult& r : run.results) {
    if (!r.success) continue;
    s.ttft_ms.push_back(r.ttft_s * 1e3);
    s.e2el_ms.push_back(r.latency_s * 1e3);
    if (r.output_tokens > 1) {
      s.tpot_ms.push_back((r.latency_s - r.ttft_s) / static_cast<double>(r.output_tokens - 1) *
                          1e3);
    }
    for (double gap : r.itl_s) s.itl_ms.push_back(gap * 1e3);
  }
  return s;
}

ServeMetrics compute_serve_metrics(const ServeRun& run, std::span<const double> percentiles) {
  ServeMetrics m;
  for (const RequestResult& r : run.results) {
    if (!r.success) {
      ++m.failed;
      continue;
    }
    ++m.completed;
    m.total_input_tokens += r.prompt_len;
    m.total_output_tokens += std::max<int64_t>(r.output_tokens, 0);
  }
  m.duration_s = run.duration_s;
  if (m.duration_s > 0) {
    m.request_throughput = static_cast<double>(m.completed) / m.duration_s;
    m.input_throughput = static_cast<double>(m.total_input_tokens) / m.duration_s;
    m.output_throughput = static_cast<double>(m.total_output_tokens) / m.duration_s;
    m.total_token_throughput = m.input_throughput + m.output_throughput;
  }
  m.max_concurrent_requests = run.max_in_flight;
  const LatencySamples s = latency_samples(run);
  m.ttft_ms = summarize(s.ttft_ms, percentiles);
  m.tpot_ms = summarize(s.tpot_ms, percentiles);
  m.itl_ms = summarize(s.itl_ms, percentiles);
  m.e2el_ms = summarize(s.e2el_ms, percentiles);
  return m;
}

void write_text_file(const std::string& path, const std::string& text, const char* flag) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) QWEN3_THROW(ErrorCode::kIo, "{} {}: cannot write", flag, path);
}

std::string percentile_key(double p) {
  // (GCC 12 warns falsely on "p" + std::string under -O3: -Wrestrict.)
  return p == std::floor(p) ? fmt::format("p{}", static_cast<int64_t>(p)) : fmt::format("p{}", p);
}

namespace {

struct MetricName {
  const char* key;    // "ttft"
  const char* label;  // "TTFT"
  const char* title;  // section title
  Summary ServeMetrics::*field;
};

constexpr MetricName kMetrics[] = {
    {"ttft", "TTFT", "Time to First Token", &ServeMetrics::ttft_ms},
    {"tpot", "TPOT", "Time per Output Token (excl. 1st token)", &ServeMetrics::tpot_ms},
    {"itl", "ITL", "Inter-token Latency", &ServeMetrics::itl_ms},
    {"e2el", "E2EL", "End-to-end Latency", &ServeMetrics::e2el_ms},
};

std::string rate_text(double rate) { return std::isinf(rate) ? "inf" : fmt::format("{}", rate); }

// vLLM's "{s:{c}^{n}}" section rule: the title centred in 50 characters of `fill`.
std::string rule(const std::string& title, char fill) {
  const size_t n = 50;
  if (title.size() >= n) return fmt::format("{}\n", title);
  const size_t left = (n - title.size()) / 2;
  return fmt::format("{}{}{}\n", std::string(left, fill), title,
                     std::string(n - title.size() - left, fill));
}

void row(std::string& out, const std::string& name, const std::string& value) {
  out += fmt::format("{:<40} {:<10}\n", name, value);
}

}  // namespace

std::string format_result_block(const std::string& title,
                                const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string out = rule(" " + title + " ", '=');
  for (const auto& [name, value] : rows) row(out, name, value);
  out += fmt::format("{}\n", std::string(50, '='));
  return out;
}

std::string format_serve_table(const ServeMetrics& m, const ServeRunInfo& info) {
  std::string out = rule(" Serving Benchmark Result ", '=');
  const auto f2 = [](double v) { return fmt::format("{:.2f}", v); };
  row(out, "Successful requests:", std::to_string(m.completed));
  row(out, "Failed requests:", std::to_string(m.failed));
  if (info.max_concurrency) {
    row(out, "Maximum request concurrency:", std::to_string(*info.max_concurrency));
  }
  row(out, "Request rate (req/s):", rate_text(info.request_rate));
  row(out, "Benchmark duration (s):", f2(m.duration_s));
  row(out, "Total input tokens:", std::to_string(m.total_input_tokens));
  row(out, "Total generated tokens:", std::to_string(m.total_output_tokens));
  row(out, "Request throughput (req/s):", f2(m.request_throughput));
  row(out, "Input token throughput (tok/s):", f2(m.input_throughput));
  row(out, "Output token throughput (tok/s):", f2(m.output_throughput));
  row(out, "Total Token throughput (tok/s):", f2(m.total_token_throughput));
  row(out, "Peak concurrent requests:", std::to_string(m.max_concurrent_requests));
  for (const MetricName& k : kMetrics) {
    const Summary& s = m.*k.field;
    out += rule(std::string(k.title), '-');
    row(out, fmt::format("Mean {} (ms):", k.label), f2(s.mean));
    row(out, fmt::format("Median {} (ms):", k.label), f2(s.median));
    row(out, fmt::format("Std {} (ms):", k.label), f2(s.std));
    for (const auto& [p, v] : s.percentiles) {
      row(out, fmt::format("P{} {} (ms):", percentile_key(p).substr(1), k.label), f2(v));
    }
  }
  out += fmt::format("{}\n", std::string(50, '='));
  return out;
}

json serve_result_json(const ServeMetrics& m, const ServeRunInfo& info, const ServeRun& run) {
  json j = {{"date", info.date},
            {"backend", info.backend},
            {"base_url", info.base_url},
            {"endpoint", info.endpoint},
            {"model_id", info.model_id},
            {"tokenizer_id", info.tokenizer_id},
            {"dataset_name", info.dataset_name},
            {"num_prompts", info.num_prompts},
            {"seed", info.seed},
            {"burstiness", 1.0},
            {"max_concurrency", info.max_concurrency ? json(*info.max_concurrency) : json()},
            {"duration", m.duration_s},
            {"completed", m.completed},
            {"failed", m.failed},
            {"total_input_tokens", m.total_input_tokens},
            {"total_output_tokens", m.total_output_tokens},
            {"request_throughput", m.request_throughput},
            {"input_throughput", m.input_throughput},
            {"output_throughput", m.output_throughput},
            {"total_token_throughput", m.total_token_throughput},
            {"max_concurrent_requests", m.max_concurrent_requests}};
  j["request_rate"] = std::isinf(info.request_rate) ? json("inf") : json(info.request_rate);
  for (const MetricName& k : kMetrics) {
    const Summary& s = m.*k.field;
    j[fmt::format("mean_{}_ms", k.key)] = s.mean;
    j[fmt::format("median_{}_ms", k.key)] = s.median;
    j[fmt::format("std_{}_ms", k.key)] = s.std;
    for (const auto& [p, v] : s.percentiles)
      j[fmt::format("{}_{}_ms", percentile_key(p), k.key)] = v;
  }
  json input_lens = json::array(), output_lens = json::array(), ttfts = json::array(),
       itls = json::array(), texts = json::array(), errors = json::array(),
       usage_prompt = json::array();
  for (const RequestResult& r : run.results) {
    input_lens.push_back(r.prompt_len);
    output_lens.push_back(r.success ? std::max<int64_t>(r.output_tokens, 0) : 0);
    ttfts.push_back(r.success ? r.ttft_s : 0.0);
    itls.push_back(r.itl_s);
    texts.push_back(r.generated_text);
    errors.push_back(r.error);
    usage_prompt.push_back(r.usage_prompt_tokens >= 0 ? json(r.usage_prompt_tokens) : json());
  }
  j["input_lens"] = std::move(input_lens);
  j["output_lens"] = std::move(output_lens);
  j["ttfts"] = std::move(ttfts);
  j["itls"] = std::move(itls);
  j["generated_texts"] = std::move(texts);
  j["errors"] = std::move(errors);
  j["usage_prompt_tokens"] = std::move(usage_prompt);
  return j;
}

}  // namespace qwen3::bench
