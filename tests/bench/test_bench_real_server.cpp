// The CLI's clients against the real `qwen3 serve` on a tiny random model over loopback:
// `qwen3 bench serve`, `qwen3 summarize --url`, and a request longer than the KV pool
// under `--attention-window`. Skipped when the binary has no serve subcommand.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "bench_test_util.h"

extern char** environ;

namespace qwen3::bench {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;

int sh(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

// The port of "listening on http://127.0.0.1:PORT" in the server's log; 0 if not yet.
int logged_port(const std::string& log) {
  const std::string key = "listening on http://127.0.0.1:";
  const size_t at = log.find(key);
  return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + key.size());
}

// One request to `path` (a JSON body when given): (status, body), or (0, "") when nothing
// answers.
std::pair<int, std::string> http_call(int port, http::verb verb, const char* path,
                                      const json* body = nullptr) {
  try {
    asio::io_context ioc;
    asio::ip::tcp::socket s(ioc);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::host, "127.0.0.1");
    if (body != nullptr) {
      req.set(http::field::content_type, "application/json");
      req.body() = body->dump();
    }
    req.prepare_payload();
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    return {static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception&) {
    return {0, ""};
  }
}

std::pair<int, std::string> http_get(int port, const char* path) {
  return http_call(port, http::verb::get, path);
}

std::pair<int, std::string> http_post(int port, const char* path, const json& body) {
  return http_call(port, http::verb::post, path, &body);
}

int health(int port) { return http_get(port, "/health").first; }

// A `qwen3 serve` child process, stopped (SIGTERM) and reaped on destruction.
class ServeProcess {
 public:
  // `extra`: more serve flags after the defaults (a later flag wins).
  ServeProcess(const std::string& model, const std::string& log,
               const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {test::qwen3_binary(), "serve", model};
    for (const char* a : {"--host", "127.0.0.1", "--port", "0", "--kv-cache-memory", "256MiB",
                          "--max-model-len", "512"}) {
      args.emplace_back(a);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, args[0].c_str(), &fa, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~ServeProcess() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (waitpid(pid_, &status, WNOHANG) == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
  }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

// The server tests' model when CTest made it (same recipe), else our own in `dir`.
std::string tiny_model(const test::ScratchDir& dir) {
  const char* shared = std::getenv("QWEN3_SERVER_MODEL");
  std::string model = shared != nullptr ? shared : "";
  if (model.empty() || !std::filesystem::exists(model + "/config.json")) {
    model = dir.file("tiny");
    EXPECT_EQ(sh(test::qwen3_binary() + " init-random --like tiny --seed 1 --out " + model +
                 " --tokenizer " + QWEN3_TOKENIZER_DIR + " >/dev/null 2>&1"),
              0);
  }
  return model;
}

// Waits for the server's port and /health; 0 (with a test failure) when it never came.
int wait_ready(const ServeProcess& server, const test::ScratchDir& dir) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int port = 0;  // --port 0: the server logs the port it got
  while (port == 0 && server.running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    port = logged_port(test::slurp(dir.file("serve.log")));
  }
  while (port > 0 && health(port) != 200 && server.running() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (port == 0 || health(port) != 200) {
    ADD_FAILURE() << "the server did not come up:\n" << test::slurp(dir.file("serve.log"));
    return 0;
  }
  return port;
}

bool has_serve() { return sh(test::qwen3_binary() + " serve --help >/dev/null 2>&1") == 0; }

// Each test gets a `qwen3 serve` on the tiny model, up and healthy.
class RealServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_serve()) GTEST_SKIP() << "this qwen3 has no serve subcommand";
    model = tiny_model(dir);
    server = std::make_unique<ServeProcess>(model, dir.file("serve.log"));
    port = wait_ready(*server, dir);
    ASSERT_GT(port, 0);
  }
  test::ScratchDir dir;
  std::string model;
  std::unique_ptr<ServeProcess> server;
  int port = 0;
};
using BenchServeRealServer = RealServer;
using SummarizeRealServer = RealServer;

TEST_F(BenchServeRealServer, TinyRandomModelCompletionsAndChat) {
  const std::string base = test::qwen3_binary() +
                           " bench serve --base-url http://127.0.0.1:" + std::to_string(port) +
                           " --tokenizer " + model + " --no-progress --ignore-eos --seed 4 ";
  for (const char* endpoint : {"/v1/completions", "/v1/chat/completions"}) {
    const std::string result = dir.file("r.json");
    const int code = sh(base + "--endpoint " + endpoint +
                        " --random-input-len 24 --random-output-len 6 --num-prompts 12 "
                        "--max-concurrency 4 --result-file " +
                        result + " >" + dir.file("out") + " 2>&1");
    ASSERT_EQ(code, 0) << test::slurp(dir.file("out")) << test::slurp(dir.file("serve.log"));
    const json j = json::parse(test::slurp(result));
    EXPECT_EQ(j["completed"], 12) << j["errors"];
    EXPECT_EQ(j["failed"], 0);
    EXPECT_EQ(j["total_output_tokens"], 12 * 6);  // usage from the server, ignore_eos
    EXPECT_EQ(j["total_input_tokens"], 12 * 24);
    if (std::string(endpoint) == "/v1/completions") {
      // Our token counts are the server's: the prompt is exactly 24 tokens there too.
      EXPECT_EQ(j["usage_prompt_tokens"], json(std::vector<int>(12, 24)));
    }
    EXPECT_EQ(j["output_lens"], json(std::vector<int>(12, 6)));
    EXPECT_GT(j["mean_ttft_ms"].get<double>(), 0);
    EXPECT_GT(j["mean_itl_ms"].get<double>(), 0);
    EXPECT_LE(j["max_concurrent_requests"].get<int>(), 4);
  }
}

// Every chunk and merge request goes through the server (its request counter says so),
// and the summary is the server's last answer written to -o.
TEST_F(SummarizeRealServer, ChunksAndMergesThroughTheServer) {
  {
    std::ofstream doc(dir.file("doc.txt"));
    for (int i = 0; i < 12; ++i) {
      doc << "Item " << i << ": the library extended its opening hours and bought new "
          << "atlases for the reading room.\n\n";
    }
  }
  auto finished = [this] {
    const std::string m = http_get(port, "/metrics").second;
    int64_t n = 0;
    for (size_t at = 0; (at = m.find("vllm:request_success_total{", at)) != std::string::npos;) {
      at = m.find('}', at) + 1;
      n += std::atoll(m.c_str() + at);
    }
    return n;
  };
  const int64_t before = finished();
  const int code = sh(test::qwen3_binary() + " summarize " + dir.file("doc.txt") +
                      " --url http://127.0.0.1:" + std::to_string(port) + " --tokenizer " + model +
                      " --chunk-tokens 48 --chunk-overlap 8 -n 5 --temperature 0 "
                      "--max-concurrency 3 --no-progress -o " + dir.file("summary.txt") + " 2>" +
                      dir.file("err"));
  const std::string err = test::slurp(dir.file("err"));
  ASSERT_EQ(code, 0) << err << test::slurp(dir.file("serve.log"));
  const size_t c = err.find(" chunks (");
  const size_t mr = err.find(" merge request");
  ASSERT_NE(c, std::string::npos) << err;
  ASSERT_NE(mr, std::string::npos) << err;
  const int64_t chunks = std::atoll(err.c_str() + err.rfind(' ', c - 1) + 1);
  const int64_t merges = std::atoll(err.c_str() + err.rfind(' ', mr - 1) + 1);
  EXPECT_GE(chunks, 4) << err;
  EXPECT_GE(merges, 1) << err;
  EXPECT_EQ(finished() - before, chunks + merges) << err;
  EXPECT_NE(err.find("via http://127.0.0.1:"), std::string::npos) << err;
  EXPECT_TRUE(std::filesystem::exists(dir.file("summary.txt")));
}

// `serve --attention-window`: 8 usable blocks of 16 tokens (128 tokens of KV) serve a
// 300-token request, because a request holds at most the sink block, the window and a
// chunk; the start-up log says so. (Without the window the same pool refuses the
// 512-token --max-model-len at start-up.)
TEST(ServeAttentionWindow, ARequestLongerThanThePoolCompletes) {
  if (!has_serve()) GTEST_SKIP() << "this qwen3 has no serve subcommand";
  test::ScratchDir dir;
  const std::string model = tiny_model(dir);
  const std::vector<std::string> pool = {"--device",       "cpu", "--num-gpu-blocks-override", "9",
                                         "--block-size",   "16",  "--max-num-batched-tokens",  "16",
                                         "--max-num-seqs", "2"};
  {
    std::vector<std::string> flags = pool;
    flags.insert(flags.end(), {"--attention-window", "32"});
    ServeProcess server(model, dir.file("serve.log"), flags);
    const int port = wait_ready(server, dir);
    ASSERT_GT(port, 0);
    const std::string log = test::slurp(dir.file("serve.log"));
    EXPECT_NE(log.find("attention window 32 + 4 sinks"), std::string::npos) << log;
    EXPECT_NE(log.find("holds at most 96 tokens of KV"), std::string::npos) << log;
    std::vector<int> prompt(250);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = 100 + static_cast<int>(i % 50);
    const auto [status, body] = http_post(port, "/v1/completions",
                                          {{"model", model},
                                           {"prompt", prompt},
                                           {"max_tokens", 50},
                                           {"ignore_eos", true},
                                           {"temperature", 0}});
    ASSERT_EQ(status, 200) << body << log;
    const json j = json::parse(body);
    EXPECT_EQ(j["usage"]["prompt_tokens"], 250) << body;
    EXPECT_EQ(j["usage"]["completion_tokens"], 50) << body;
  }
  // The same pool without a window: 512 tokens do not fit, exit 2 naming --max-model-len.
  std::string cmd =
      test::qwen3_binary() + " serve " + model + " --host 127.0.0.1 --port 0 --max-model-len 512";
  for (const auto& f : pool) cmd += " " + f;
  EXPECT_EQ(sh(cmd + " >" + dir.file("refused.log") + " 2>&1"), 2);
  EXPECT_NE(test::slurp(dir.file("refused.log")).find("--max-model-len"), std::string::npos)
      << test::slurp(dir.file("refused.log"));
}

}  // namespace
}  // namespace qwen3::bench
