// One HTTP/1.1 connection on Boost.Beast: reads requests (header and whole-request
// deadlines against slow clients, a body limit answered with 413), hands them to the
// router, and writes responses, whole or streamed (chunked SSE). While a generation runs,
// a read stays pending on the socket so that a client that disconnects is noticed at
// once and its engine request cancelled. All of a session runs on its own strand; the
// io_context runs on a small thread pool shared by every connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>
#include <string>

#include "server/routes.h"
#include "server/server_state.h"

namespace qwen3::server {

class HttpSession : public ResponseSink, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, ServerState& state);
  ~HttpSession() override;
  void run();

  void send_response(int status, std::string_view content_type, std::string body) override;
  void start_stream() override;
  void send_stream(std::string data) override;
  void end_stream() override;

 private:
  void read_header();
  void on_header(boost::beast::error_code ec);
  void on_body(boost::beast::error_code ec);
  void on_read_error(boost::beast::error_code ec);
  void dispatch_request();
  void watch_client();
  void on_watch(boost::beast::error_code ec, size_t n);
  void write(std::string bytes);
  void flush();
  void on_write(boost::beast::error_code ec);
  void exchange_done();
  void client_gone();
  void close();
  void linger_close();  // half-close, drain what the client still sends, then close
  std::string head(int status, std::string_view content_type, const std::string* body) const;

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  ServerState& state_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::shared_ptr<GenerationJob> job_;  // the generation answering the current request
  std::string pending_;                 // bytes queued behind the write in flight
  std::string inflight_;                // bytes of the write in flight
  bool writing_ = false;
  bool response_done_ = false;  // the whole response is queued
  bool in_exchange_ = false;    // a request is being answered (counted in state_.active_jobs)
  bool keep_alive_ = true;
  bool watching_ = false;   // the disconnect-watch read is pending
  bool want_next_ = false;  // the response is written; read the next request once the watch ends
  bool closed_ = false;
  bool lingering_ = false;
  bool request_unread_ = false;  // answered an unread request (413, 400): drain before close
};

// Accepts connections and starts a session on its own strand for each.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens; throws Error(kIo) naming the address when that fails.
  Listener(boost::asio::io_context& ioc, const boost::asio::ip::tcp::endpoint& endpoint,
           ServerState& state);
  void run();
  void stop();  // closes the acceptor (from any thread)
  uint16_t port() const { return port_; }

 private:
  void accept();
  void on_accept(boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  ServerState& state_;
  uint16_t port_ = 0;
};

}  // namespace qwen3::server
