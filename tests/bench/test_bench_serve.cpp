// `qwen3 bench serve` end to end: the real binary against a fake OpenAI server with
// known delays and token counts (counts checked exactly, latencies within loose bounds),
// and its errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include "bench/arrivals.h"
#include "bench_test_util.h"
#include "fake_openai_server.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {
namespace {

using nlohmann::json;

struct CmdResult {
  int code = -1;
  std::string out, err;
};

CmdResult run_qwen3(const std::string& args) {
  test::ScratchDir tmp;
  const std::string out = tmp.file("out"), err = tmp.file("err");
  const int status =
      std::system((test::qwen3_binary() + " " + args + " >" + out + " 2>" + err).c_str());
  CmdResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = test::slurp(out);
  r.err = test::slurp(err);
  return r;
}

std::string bench_args(const std::string& url, const std::string& extra) {
  return "bench serve --base-url " + url + " --tokenizer " + QWEN3_TOKENIZER_DIR +
         " --no-progress " + extra;
}

json run_bench(const std::string& url, const std::string& extra, CmdResult* result = nullptr) {
  test::ScratchDir dir;
  const std::string file = dir.file("r.json");
  CmdResult r = run_qwen3(bench_args(url, extra + " --result-file " + file));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  if (result != nullptr) *result = r;
  json j = json::parse(test::slurp(file), nullptr, false);
  EXPECT_TRUE(j.is_object()) << r.out << r.err;
  return j;
}

TEST(BenchServeE2e, CompletionsCountsExactLatenciesPlausible) {
  test::FakeOpenAiServer server({});  // TTFT 50 ms, then a token every 10 ms
  test::ScratchDir dir;
  CmdResult r;
  const json j = run_bench(server.url(),
                           "--dataset-name random --random-input-len 16 --random-output-len 8 "
                           "--num-prompts 24 --max-concurrency 4 --seed 3 --plot " +
                               dir.file("p.svg"),
                           &r);
  EXPECT_EQ(j["completed"], 24);
  EXPECT_EQ(j["failed"], 0);
  EXPECT_EQ(j["total_input_tokens"], 24 * 16);
  EXPECT_EQ(j["total_output_tokens"], 24 * 8);
  EXPECT_EQ(j["output_lens"], json(std::vector<int>(24, 8)));
  EXPECT_EQ(j["model_id"], "fake-model");  // from GET /v1/models
  EXPECT_EQ(j["max_concurrency"], 4);
  EXPECT_EQ(j["max_concurrent_requests"], 4);
  EXPECT_LE(server.max_in_flight(), 4);
  EXPECT_LE(server.connections(), 5);  // keep-alive: 4 streams + the GET
  EXPECT_EQ(server.requests(), 24);
  // Loose bounds: the machine may be busy (sanitizers, parallel tests).
  const double ttft = j["mean_ttft_ms"], itl = j["median_itl_ms"], tpot = j["median_tpot_ms"];
  const double e2e = j["mean_e2el_ms"];
  EXPECT_GE(ttft, 49);
  EXPECT_LT(ttft, 400);
  EXPECT_GE(itl, 9);
  EXPECT_LT(itl, 60);
  EXPECT_GE(tpot, 9);
  EXPECT_LT(tpot, 60);
  EXPECT_GE(e2e, 49 + 7 * 10);
  EXPECT_GE(j["p99_ttft_ms"].get<double>(), j["median_ttft_ms"].get<double>());
  EXPECT_EQ(j["itls"][0].size(), 7u);  // 8 token chunks, 7 gaps
  const double duration = j["duration"];
  EXPECT_GE(duration, 6 * 0.119);  // 6 waves of 4, each >= 50 + 7 * 10 ms
  EXPECT_NEAR(j["request_throughput"].get<double>(), 24 / duration, 1e-9);
  EXPECT_NEAR(j["output_throughput"].get<double>(), 24 * 8 / duration, 1e-9);
  EXPECT_NE(r.out.find("Serving Benchmark Result"), std::string::npos);
  EXPECT_NE(r.out.find("Successful requests:                     24"), std::string::npos) << r.out;
  EXPECT_EQ(test::slurp(dir.file("p.svg")).rfind("<svg", 0), 0u);
}

TEST(BenchServeE2e, ChatWithoutUsageRetokenizesAndSkipsRoleChunk) {
  test::FakeServerConfig c;
  c.send_usage = false;
  c.token_text = " hello";
  c.split_events = false;
  test::FakeOpenAiServer server(c);
  const json j = run_bench(server.url(),
                           "--endpoint /v1/chat/completions --random-input-len 8 "
                           "--random-output-len 6 --num-prompts 5 --no-keep-alive");
  const auto tok = text::Tokenizer::load(QWEN3_TOKENIZER_DIR);
  std::string text;
  for (int i = 0; i < 6; ++i) text += " hello";
  const int64_t expected = static_cast<int64_t>(tok->encode(text).size());
  EXPECT_EQ(j["completed"], 5);
  EXPECT_EQ(j["total_output_tokens"], 5 * expected);
  EXPECT_EQ(j["backend"], "openai-chat");
  EXPECT_EQ(j["generated_texts"][0], text);
  EXPECT_GE(j["mean_ttft_ms"].get<double>(), 49);  // the role-only chunk is not a token
  EXPECT_EQ(server.connections(), 6);              // --no-keep-alive: one per request + the GET
}

TEST(BenchServeE2e, FailedRequestsAreCountedWithTheirErrors) {
  test::FakeServerConfig c;
  c.ttft_s = 0.005;
  c.itl_s = 0.001;
  test::FakeOpenAiServer server(c);
  test::ScratchDir dir;
  test::write_file(dir.file("d.jsonl"),
                   "{\"prompt\": \"fine\", \"output_len\": 4}\n"
                   "{\"prompt\": \"please FAIL\"}\n"
                   "{\"prompt\": \"STREAMERR now\", \"output_len\": 4}\n"
                   "{\"prompt\": \"STALL\", \"output_len\": 4}\n"
                   "{\"prompt\": \"NOSTREAM\", \"output_len\": 4}\n");
  const json j = run_bench(server.url(), "--model other --dataset-name jsonl --dataset-path " +
                                             dir.file("d.jsonl") + " --num-prompts 5 --timeout 1");
  EXPECT_EQ(j["completed"], 1);
  EXPECT_EQ(j["failed"], 4);
  EXPECT_EQ(j["total_output_tokens"], 4);
  EXPECT_EQ(j["model_id"], "other");
  EXPECT_NE(j["errors"][1].get<std::string>().find("HTTP 400"), std::string::npos) << j["errors"];
  EXPECT_NE(j["errors"][2].get<std::string>().find("engine failed"), std::string::npos)
      << j["errors"];
  EXPECT_NE(j["errors"][3].get<std::string>().find("timeout"), std::string::npos) << j["errors"];
  EXPECT_NE(j["errors"][4].get<std::string>().find("no SSE events"), std::string::npos)
      << j["errors"];
}

TEST(BenchServeE2e, PoissonArrivalsSpreadTheRun) {
  test::FakeServerConfig c;
  c.ttft_s = 0.002;
  c.itl_s = 0.001;
  test::FakeOpenAiServer server(c);
  const json j = run_bench(server.url(),
                           "--random-input-len 4 --random-output-len 2 --num-prompts 12 "
                           "--request-rate 20 --seed 11");
  EXPECT_EQ(j["completed"], 12);
  EXPECT_EQ(j["request_rate"], 20.0);
  // The last request is sent at its arrival time, so the run lasts at least that long.
  const double last_arrival = poisson_arrivals(12, 20.0, 11).back();
  EXPECT_GE(j["duration"].get<double>(), last_arrival);
  EXPECT_LT(j["duration"].get<double>(), last_arrival + 2.0);
}

TEST(BenchServeE2e, HundredsOfConcurrentStreamsOnOneThread) {
  test::FakeServerConfig c;
  c.ttft_s = 0.5;  // long enough for every request to be open at once
  c.itl_s = 0.002;
  c.split_events = false;
  test::FakeOpenAiServer server(c);
  const json j =
      run_bench(server.url(), "--random-input-len 4 --random-output-len 3 --num-prompts 400");
  EXPECT_EQ(j["completed"], 400);
  EXPECT_EQ(j["total_output_tokens"], 1200);
  EXPECT_EQ(j["max_concurrent_requests"], 400);
  EXPECT_EQ(server.max_in_flight(), 400);
  EXPECT_GE(j["median_ttft_ms"].get<double>(), 499);
}

int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();  // closed on return: nothing listens there
}

TEST(BenchServeE2e, ConnectionRefusedNamesTheUrlAndExits2) {
  const std::string url = "http://127.0.0.1:" + std::to_string(free_port());
  const CmdResult r = run_qwen3(bench_args(url, "--num-prompts 2 --random-input-len 4"));
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("cannot connect to " + url), std::string::npos) << r.err;
  EXPECT_EQ(run_qwen3(bench_args("https://x", "")).code, 2);
  EXPECT_EQ(run_qwen3(bench_args(url, "--request-rate zero")).code, 2);
  EXPECT_EQ(run_qwen3("bench serve --dataset-name nope").code, 2);
}

}  // namespace
}  // namespace qwen3::bench
