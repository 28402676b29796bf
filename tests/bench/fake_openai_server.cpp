#include "fake_openai_server.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <thread>

namespace qwen3::bench::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using nlohmann::json;

struct FakeOpenAiServer::Impl {
  explicit Impl(FakeServerConfig c)
      : config(std::move(c)),
        acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  FakeServerConfig config;
  asio::io_context ioc;
  tcp::acceptor acceptor;
  std::thread thread;
  std::atomic<int> in_flight{0}, max_in_flight{0}, requests{0}, connections{0};

  asio::awaitable<void> pause(tcp::socket& s, double seconds) {
    asio::steady_timer t(s.get_executor(), std::chrono::duration_cast<asio::steady_timer::duration>(
                                               std::chrono::duration<double>(seconds)));
    co_await t.async_wait(asio::use_awaitable);
  }

  asio::awaitable<void> send_event(tcp::socket& s, const std::string& data) {
    const std::string ev = "data: " + data + "\n\n";
    if (config.split_events) {
      const size_t half = ev.size() / 2;
      co_await asio::async_write(s, http::make_chunk(asio::buffer(ev.data(), half)),
                                 asio::use_awaitable);
      co_await pause(s, 0.001);
      co_await asio::async_write(s,
                                 http::make_chunk(asio::buffer(ev.data() + half, ev.size() - half)),
                                 asio::use_awaitable);
    } else {
      co_await asio::async_write(s, http::make_chunk(asio::buffer(ev)), asio::use_awaitable);
    }
  }

  json token_chunk(bool chat, const std::string& text, bool last) const {
    json choice = {{"index", 0}, {"finish_reason", last ? json("length") : json()}};
    if (chat) {
      choice["delta"] = {{"content", text}};
    } else {
      choice["text"] = text;
    }
    return {{"id", "x"}, {"model", config.model}, {"choices", json::array({choice})}};
  }

  asio::awaitable<void> stream_reply(tcp::socket& s, const json& body, bool chat, bool keep) {
    const std::string prompt = chat ? body["messages"][0]["content"].get<std::string>()
                                    : body["prompt"].get<std::string>();
    const int64_t n = body.value("max_tokens", 16);
    http::response<http::empty_body> res{http::status::ok, 11};
    res.set(http::field::content_type, "text/event-stream");
    res.keep_alive(keep);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    co_await http::async_write_header(s, sr, asio::use_awaitable);
    // (String literals are named first: GCC 12 rejects an array initializer inside co_await.)
    const std::string role_chunk =
        R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})";
    const std::string error_chunk = R"({"error":{"message":"engine failed","type":"internal"}})";
    const std::string done = "[DONE]";
    if (chat) co_await send_event(s, role_chunk);
    if (prompt.find("STALL") != std::string::npos) co_await pause(s, 3.0);
    for (int64_t i = 0; i < n; ++i) {
      co_await pause(s, i == 0 ? config.ttft_s : config.itl_s);
      if (i == 1 && prompt.find("STREAMERR") != std::string::npos) {
        co_await send_event(s, error_chunk);
        break;
      }
      co_await send_event(s, token_chunk(chat, config.token_text, i + 1 == n).dump());
    }
    const bool usage =
        body.contains("stream_options") && body["stream_options"].value("include_usage", false);
    if (usage && config.send_usage) {
      const json u = {{"prompt_tokens", 1}, {"completion_tokens", n}, {"total_tokens", n + 1}};
      const std::string usage_chunk = json{{"choices", json::array()}, {"usage", u}}.dump();
      co_await send_event(s, usage_chunk);
    }
    co_await send_event(s, done);
    co_await asio::async_write(s, http::make_chunk_last(), asio::use_awaitable);
  }

  asio::awaitable<void> reply_json(tcp::socket& s, http::status st, const json& j, bool keep) {
    http::response<http::string_body> res{st, 11};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(keep);
    res.body() = j.dump();
    res.prepare_payload();
    co_await http::async_write(s, res, asio::use_awaitable);
  }

  asio::awaitable<void> handle(tcp::socket& s, http::request<http::string_body>& req) {
    const bool keep = req.keep_alive();
    if (req.method() == http::verb::get && req.target() == "/v1/models") {
      const json models = {{"object", "list"}, {"data", json::array({{{"id", config.model}}})}};
      co_await reply_json(s, http::status::ok, models, keep);
      co_return;
    }
    const bool chat = req.target() == "/v1/chat/completions";
    if (req.method() != http::verb::post || (!chat && req.target() != "/v1/completions")) {
      const json err = {{"error", {{"message", "no route"}}}};
      co_await reply_json(s, http::status::not_found, err, keep);
      co_return;
    }
    ++requests;
    const json body = json::parse(req.body());
    const std::string text = chat ? body["messages"][0]["content"].dump() : body["prompt"].dump();
    if (text.find("NOSTREAM") != std::string::npos) {  // ignores stream: true
      const json whole = {{"choices", json::array({{{"text", "whole"}}})}};
      co_await reply_json(s, http::status::ok, whole, keep);
      co_return;
    }
    if (text.find("FAIL") != std::string::npos) {
      const json err = {{"error", {{"message", "bad prompt"}}}};
      co_await reply_json(s, http::status::bad_request, err, keep);
      co_return;
    }
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    co_await stream_reply(s, body, chat, keep);
    --in_flight;
  }

  asio::awaitable<void> session(tcp::socket s) {
    ++connections;
    s.set_option(tcp::no_delay(true));  // each event leaves at once, as real servers do
    beast::flat_buffer buf;
    try {
      for (;;) {
        http::request<http::string_body> req;
        co_await http::async_read(s, buf, req, asio::use_awaitable);
        co_await handle(s, req);
        if (!req.keep_alive()) break;
      }
    } catch (const std::exception&) {
      // client went away
    }
    beast::error_code ec;
    s.shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
      asio::co_spawn(ioc, session(std::move(s)), asio::detached);
    }
  }
};

FakeOpenAiServer::FakeOpenAiServer(FakeServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(config))) {
  asio::co_spawn(impl_->ioc, impl_->accept_loop(), asio::detached);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
}

FakeOpenAiServer::~FakeOpenAiServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::string FakeOpenAiServer::url() const {
  return "http://127.0.0.1:" + std::to_string(impl_->acceptor.local_endpoint().port());
}
int FakeOpenAiServer::max_in_flight() const { return impl_->max_in_flight; }
int FakeOpenAiServer::requests() const { return impl_->requests; }
int FakeOpenAiServer::connections() const { return impl_->connections; }

}  // namespace qwen3::bench::test
