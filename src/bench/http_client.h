// A single-threaded HTTP/1.1 client for load generation (Boost.Beast over Asio): many
// requests stream at once on one thread, each handing its body bytes (chunked coding
// removed) to its handler the moment they arrive, stamped with the arrival time.
// Keep-alive connections are pooled and reused; a reused connection the server closed
// meanwhile is retried once on a fresh one. Every network step has a timeout.
// Beast stays inside http_client.cpp: this header is plain C++.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace qwen3::bench {

using Clock = std::chrono::steady_clock;

struct Url {
  std::string host;
  std::string port;    // "80" when the URL has none
  std::string prefix;  // path before the endpoint, without a trailing '/', e.g. "" or "/api"
  std::string text;    // as given, for messages
};

// "http://host[:port][/prefix]". https is refused (Error kUnsupported), anything else
// that is not such a URL is kInvalidArgument.
Url parse_base_url(std::string_view base_url);

struct HttpOptions {
  std::string api_key;     // sent as "Authorization: Bearer KEY" when non-empty
  bool keep_alive = true;  // false: "Connection: close", one connection per request
  double timeout_s = 600;  // per step: connect, send, each read
};

// Callbacks of one streamed request, called on the loop thread.
struct StreamHandler {
  std::function<void(int status)> on_status;  // status line and headers read
  std::function<void(std::string_view bytes, Clock::time_point at)> on_body;
  std::function<void(const std::string& error)> on_done;  // "" = whole body received
};

class HttpClient {
 public:
  // Resolves the host now. Throws Error(kUnavailable) naming the URL when it cannot.
  HttpClient(Url url, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Blocking GET of prefix + path, for setup before run(): (status, body). Throws
  // Error(kUnavailable) "cannot connect to URL: reason" when the server is not there.
  std::pair<int, std::string> get(const std::string& path);

  // Queues a POST of a JSON body to prefix + path; it starts when run() runs (or at once
  // when called from a callback during run()).
  void post_stream(const std::string& path, std::string body, StreamHandler handler);
  // Calls fn on the loop at time t.
  void at(Clock::time_point t, std::function<void()> fn);
  // Runs until no request or timer is left.
  void run();

  const Url& url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qwen3::bench
