#include "bench/http_client.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <vector>

#include "core/error.h"

namespace qwen3::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Url parse_base_url(std::string_view base_url) {
  Url u;
  u.text = std::string(base_url);
  std::string_view rest = base_url;
  if (rest.starts_with("https://")) {
    QWEN3_THROW(ErrorCode::kUnsupported, "--base-url {}: https is not supported; use http://",
                base_url);
  }
  if (!rest.starts_with("http://")) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--base-url {}: expected http://HOST[:PORT][/PATH], e.g. http://127.0.0.1:8000",
                base_url);
  }
  rest.remove_prefix(7);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) u.prefix = std::string(rest.substr(slash));
  while (!u.prefix.empty() && u.prefix.back() == '/') u.prefix.pop_back();
  const size_t colon = authority.rfind(':');
  const bool bracketed = authority.starts_with('[');  // [::1]:8000
  if (colon != std::string_view::npos && (!bracketed || authority.find(']') < colon)) {
    u.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  } else {
    u.port = "80";
  }
  if (bracketed && authority.size() >= 2 && authority.back() == ']') {
    authority = authority.substr(1, authority.size() - 2);
  }
  u.host = std::string(authority);
  const bool port_ok = !u.port.empty() && u.port.size() <= 5 &&
                       u.port.find_first_not_of("0123456789") == std::string::npos;
  if (u.host.empty() || !port_ok) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--base-url {}: bad host or port", base_url);
  }
  return u;
}

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct Conn {
  explicit Conn(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
  beast::flat_buffer buf;  // bytes read past a message stay here for the next one
};

}  // namespace

struct HttpClient::Impl {
  Impl(Url u, HttpOptions o) : url(std::move(u)), opts(std::move(o)), ioc(1) {}

  Url url;
  HttpOptions opts;
  asio::io_context ioc;
  tcp::resolver::results_type endpoints;
  std::vector<std::unique_ptr<Conn>> idle;  // keep-alive connections ready for reuse

  std::chrono::steady_clock::duration timeout() const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(opts.timeout_s));
  }
  std::string connect_error(const beast::error_code& ec) const {
    return fmt::format("cannot connect to {}: {}", url.text, ec.message());
  }

  http::request<http::string_body> make_request(http::verb verb, const std::string& path,
                                                std::string body) const {
    http::request<http::string_body> req{verb, url.prefix + path, 11};
    req.set(http::field::host, url.host + ":" + url.port);
    req.set(http::field::user_agent, "qwen3-bench");
    if (!opts.api_key.empty()) req.set(http::field::authorization, "Bearer " + opts.api_key);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, "text/event-stream");
      req.body() = std::move(body);
    }
    req.keep_alive(opts.keep_alive);
    req.prepare_payload();
    return req;
  }

  asio::awaitable<std::unique_ptr<Conn>> connect(std::string& err) {
    auto conn = std::make_unique<Conn>(ioc);
    conn->stream.expires_after(timeout());
    auto [ec, ep] = co_await conn->stream.async_connect(endpoints, kNoThrow);
    if (ec) {
      err = connect_error(ec);
      co_return nullptr;
    }
    conn->stream.socket().set_option(tcp::no_delay(true));
    co_return conn;
  }

  void release(std::unique_ptr<Conn> conn, bool reusable) {
    if (reusable && opts.keep_alive) {
      conn->stream.expires_never();
      idle.push_back(std::move(conn));
      return;
    }
    beast::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  asio::awaitable<std::string> exchange(Conn& c, const http::request<http::string_body>& req,
                                        const StreamHandler& h, bool& responded, bool& reusable);
  asio::awaitable<void> stream(std::string path, std::string body, StreamHandler h);
};

// Sends `req` and streams the response body to `h`. Returns "" or what went wrong.
asio::awaitable<std::string> HttpClient::Impl::exchange(Conn& c,
                                                        const http::request<http::string_body>& req,
                                                        const StreamHandler& h, bool& responded,
                                                        bool& reusable) {
  c.stream.expires_after(timeout());
  auto [wec, wn] = co_await http::async_write(c.stream, req, kNoThrow);
  if (wec) co_return "sending the request: " + wec.message();
  http::response_parser<http::buffer_body> p;
  p.body_limit(boost::none);
  c.stream.expires_after(timeout());
  auto [hec, hn] = co_await http::async_read_header(c.stream, c.buf, p, kNoThrow);
  if (hec) co_return "reading the response: " + hec.message();
  responded = true;
  if (h.on_status) h.on_status(static_cast<int>(p.get().result_int()));
  std::array<char, 16384> chunk;
  while (!p.is_done()) {
    p.get().body().data = chunk.data();
    p.get().body().size = chunk.size();
    c.stream.expires_after(timeout());
    // read_some: returns as soon as some body arrived (async_read would wait for the
    // whole buffer), so every SSE event is stamped when it lands.
    auto [ec, n] = co_await http::async_read_some(c.stream, c.buf, p, kNoThrow);
    if (ec && ec != http::error::need_buffer)
      co_return "reading the response body: " + ec.message();
    const size_t got = chunk.size() - p.get().body().size;
    if (got > 0 && h.on_body) h.on_body(std::string_view(chunk.data(), got), Clock::now());
  }
  reusable = p.get().keep_alive();
  co_return "";
}

asio::awaitable<void> HttpClient::Impl::stream(std::string path, std::string body,
                                               StreamHandler h) {
  const auto req = make_request(http::verb::post, path, std::move(body));
  std::string err;
  // A pooled connection may have been closed by the server while idle: such a failure
  // before any response byte is retried once on a new connection.
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::unique_ptr<Conn> conn;
    if (!idle.empty()) {
      conn = std::move(idle.back());
      idle.pop_back();
    }
    const bool reused = conn != nullptr;
    if (!reused) conn = co_await connect(err);
    if (conn == nullptr) break;
    bool responded = false, reusable = false;
    err = co_await exchange(*conn, req, h, responded, reusable);
    release(std::move(conn), err.empty() && reusable);
    if (err.empty() || !reused || responded) break;
  }
  if (h.on_done) h.on_done(err);
}

HttpClient::HttpClient(Url url, HttpOptions options)
    : impl_(std::make_unique<Impl>(std::move(url), std::move(options))) {
  tcp::resolver resolver(impl_->ioc);
  beast::error_code ec;
  impl_->endpoints = resolver.resolve(impl_->url.host, impl_->url.port, ec);
  if (ec) {
    QWEN3_THROW(ErrorCode::kUnavailable, "cannot resolve {} (from {}): {}", impl_->url.host,
                impl_->url.text, ec.message());
  }
}

HttpClient::~HttpClient() = default;

const Url& HttpClient::url() const { return impl_->url; }

std::pair<int, std::string> HttpClient::get(const std::string& path) {
  std::pair<int, std::string> result{0, ""};
  std::string err;
  auto task = [&]() -> asio::awaitable<void> {
    auto conn = co_await impl_->connect(err);
    if (conn == nullptr) co_return;
    auto req = impl_->make_request(http::verb::get, path, "");
    req.keep_alive(false);
    conn->stream.expires_after(impl_->timeout());
    auto [wec, wn] = co_await http::async_write(conn->stream, req, kNoThrow);
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(conn->stream, conn->buf, res, kNoThrow);
    const beast::error_code ec = wec ? wec : rec;
    if (ec) {
      err = fmt::format("GET {}{}: {}", impl_->url.text, path, ec.message());
      co_return;
    }
    result = {static_cast<int>(res.result_int()), std::move(res.body())};
  };
  asio::co_spawn(impl_->ioc, task(), asio::detached);
  impl_->ioc.run();
  impl_->ioc.restart();
  if (!err.empty()) QWEN3_THROW(ErrorCode::kUnavailable, "{}", err);
  return result;
}

void HttpClient::post_stream(const std::string& path, std::string body, StreamHandler handler) {
  asio::co_spawn(impl_->ioc, impl_->stream(path, std::move(body), std::move(handler)),
                 asio::detached);
}

void HttpClient::at(Clock::time_point t, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->ioc, t);
  timer->async_wait([timer, fn = std::move(fn)](const beast::error_code& ec) {
    if (!ec) fn();
  });
}

void HttpClient::run() {
  impl_->ioc.run();
  impl_->ioc.restart();
}

}  // namespace qwen3::bench
