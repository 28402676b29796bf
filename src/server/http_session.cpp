#include "server/http_session.h"

#include <fmt/core.h>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <chrono>
#include <thread>

namespace qwen3::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kPipelineLimit = 64 * 1024;  // buffered bytes of a next request while busy
constexpr int64_t kMaxConnections = 16384;

bool is_http_syntax_error(beast::error_code ec) {
  return ec.category() == beast::http::make_error_code(http::error::bad_method).category();
}

std::string chunk(std::string_view data) {
  return fmt::format("{:x}\r\n", data.size()) + std::string(data) + "\r\n";
}

}  // namespace

HttpSession::HttpSession(tcp::socket&& socket, ServerState& state)
    : stream_(std::move(socket)), state_(state) {
  state_.connections.fetch_add(1);
}

HttpSession::~HttpSession() {
  if (in_exchange_) state_.active_jobs.fetch_sub(1);
  state_.connections.fetch_sub(1);
}

void HttpSession::run() {
  net::dispatch(stream_.get_executor(),
                beast::bind_front_handler(&HttpSession::read_header, shared_from_this()));
}

void HttpSession::read_header() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  parser_->body_limit(state_.options.max_body_bytes);
  // One deadline for the whole request, from the moment we wait for it: an idle
  // keep-alive connection and a slowloris client both end when it passes.
  stream_.expires_after(state_.options.request_timeout);
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    write("HTTP/1.1 100 Continue\r\n\r\n");
  }
  if (parser_->is_done()) return on_body({});
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec2, size_t) { self->on_body(ec2); });
}

void HttpSession::on_body(beast::error_code ec) {
  if (ec) return on_read_error(ec);
  stream_.expires_never();
  dispatch_request();
}

void HttpSession::on_read_error(beast::error_code ec) {
  int status = 0;
  std::string code, message;
  if (ec == http::error::body_limit) {
    status = 413;
    code = "request_too_large";
    message = fmt::format("the request body is larger than the limit of {} bytes",
                          state_.options.max_body_bytes);
  } else if (ec == http::error::header_limit) {
    status = 431;
    code = "headers_too_large";
    message = fmt::format("the request headers are larger than {} bytes", kHeaderLimit);
  } else if (is_http_syntax_error(ec) && ec != http::error::end_of_stream &&
             ec != http::error::partial_message) {
    status = 400;
    code = "bad_http_request";
    message = "malformed HTTP request: " + ec.message();
  }
  if (status == 0) return close();  // end of stream, timeout, reset: nobody to answer
  keep_alive_ = false;
  request_unread_ = true;
  in_exchange_ = true;
  state_.active_jobs.fetch_add(1);
  response_done_ = false;
  send_response(status, "application/json",
                error_body(ApiError(status, "invalid_request_error", code, message)));
}

void HttpSession::dispatch_request() {
  http::request<http::string_body>& req = parser_->get();
  keep_alive_ = req.keep_alive() && state_.phase.load() != ServerPhase::kDraining;
  HttpRequest r{std::string(req.method_string()), std::string(req.target()),
                std::string(req[http::field::authorization]), std::move(req.body())};
  in_exchange_ = true;
  state_.active_jobs.fetch_add(1);
  response_done_ = false;
  auto executor = stream_.get_executor();
  PostFn post = [executor](std::function<void()> task) { net::post(executor, std::move(task)); };
  job_ = route_request(state_, r, shared_from_this(), std::move(post));
  if (job_ != nullptr && !response_done_) watch_client();
}

void HttpSession::watch_client() {
  if (watching_ || closed_ || buffer_.size() >= kPipelineLimit) return;
  watching_ = true;
  stream_.expires_never();  // only the read side: a write in flight keeps its deadline
  stream_.async_read_some(
      buffer_.prepare(4096),
      [self = shared_from_this()](beast::error_code ec, size_t n) { self->on_watch(ec, n); });
}

void HttpSession::on_watch(beast::error_code ec, size_t n) {
  watching_ = false;
  if (closed_) return;
  if (!ec) buffer_.commit(n);  // pipelined bytes of the next request
  if (want_next_ && (!ec || ec == net::error::operation_aborted)) {
    want_next_ = false;
    return read_header();
  }
  if (!ec) return watch_client();
  if (ec == net::error::operation_aborted && job_ == nullptr) return;
  client_gone();  // EOF, reset or a write deadline that closed the socket
}

void HttpSession::write(std::string bytes) {
  if (closed_) return;
  pending_ += bytes;
  flush();
}

void HttpSession::flush() {
  if (writing_ || closed_ || pending_.empty()) return;
  writing_ = true;
  inflight_.swap(pending_);
  pending_.clear();
  stream_.expires_after(state_.options.write_timeout);  // the write side (or both when idle)
  net::async_write(
      stream_, net::buffer(inflight_),
      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
}

void HttpSession::on_write(beast::error_code ec) {
  writing_ = false;
  inflight_.clear();
  if (closed_) return;
  if (ec) return client_gone();
  if (!pending_.empty()) return flush();
  if (response_done_ && in_exchange_) exchange_done();
}

void HttpSession::exchange_done() {
  job_.reset();
  in_exchange_ = false;
  state_.active_jobs.fetch_sub(1);
  if (!keep_alive_) return request_unread_ ? linger_close() : close();
  if (watching_) {
    want_next_ = true;
    beast::error_code ignored;
    stream_.socket().cancel(ignored);  // on_watch then reads the next request
    return;
  }
  read_header();
}

void HttpSession::client_gone() {
  if (job_ != nullptr) {
    job_->cancel();
    job_.reset();
  }
  if (in_exchange_) {
    in_exchange_ = false;
    state_.active_jobs.fetch_sub(1);
  }
  close();
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

// Closing with unread request bytes makes the kernel send RST, which can destroy the
// error response (a 413 for a body we refused to read) before the client reads it.
void HttpSession::linger_close() {
  if (closed_) return;
  if (!lingering_) {
    lingering_ = true;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(2));  // one deadline for the whole drain
  }
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(16384),
                          [self = shared_from_this()](beast::error_code ec, size_t) {
                            if (ec) return self->close();
                            self->linger_close();
                          });
}

std::string HttpSession::head(int status, std::string_view content_type,
                              const std::string* body) const {
  std::string h = fmt::format("HTTP/1.1 {} {}\r\nServer: qwen3.cpp\r\nContent-Type: {}\r\n", status,
                              std::string_view(http::obsolete_reason(http::int_to_status(status))),
                              content_type);
  if (body != nullptr) {
    h += fmt::format("Content-Length: {}\r\n", body->size());
  } else {
    h += "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\nX-Accel-Buffering: no\r\n";
  }
  if (status == 401) h += "WWW-Authenticate: Bearer\r\n";
  if (keep_alive_) {
    const auto idle =
        std::chrono::duration_cast<std::chrono::seconds>(state_.options.request_timeout);
    h += fmt::format("Connection: keep-alive\r\nKeep-Alive: timeout={}\r\n",
                     std::max<int64_t>(1, idle.count() - 1));
  } else {
    h += "Connection: close\r\n";
  }
  return h + "\r\n";
}

void HttpSession::send_response(int status, std::string_view content_type, std::string body) {
  response_done_ = true;
  write(head(status, content_type, &body) + body);
}

void HttpSession::start_stream() { write(head(200, "text/event-stream; charset=utf-8", nullptr)); }

void HttpSession::send_stream(std::string data) {
  if (!data.empty()) write(chunk(data));
}

void HttpSession::end_stream() {
  response_done_ = true;
  write("0\r\n\r\n");
}

Listener::Listener(net::io_context& ioc, const tcp::endpoint& endpoint, ServerState& state)
    : ioc_(ioc), acceptor_(net::make_strand(ioc)), state_(state) {
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    QWEN3_THROW(ErrorCode::kIo, "cannot listen on {}:{}: {}", endpoint.address().to_string(),
                endpoint.port(), ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
}

void Listener::run() { accept(); }

void Listener::stop() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void Listener::accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
}

void Listener::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors and the like: say so, pause, keep serving the others.
    fmt::print(stderr, "qwen3 serve: accept failed: {}\n", ec.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } else if (state_.connections.load() >= kMaxConnections) {
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);  // SSE chunks go out at once
    std::make_shared<HttpSession>(std::move(socket), state_)->run();
  }
  accept();
}

}  // namespace qwen3::server
