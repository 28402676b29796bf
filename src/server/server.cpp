#include "server/server.h"

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <sys/resource.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <thread>

#include "server/http_session.h"

namespace qwen3::server {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

// 1,000 concurrent clients need more descriptors than the usual soft limit of 1,024.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

class ServerRun {
 public:
  ServerRun(const ServerOptions& options, const ModelLoader& load)
      : state_(options),
        ioc_(std::max(1, options.http_threads)),
        signals_(ioc_, SIGINT, SIGTERM),
        load_(load) {}

  int run();

 private:
  void load_model();
  void on_signal();
  void drain();

  ServerState state_;
  net::io_context ioc_;
  net::signal_set signals_;
  const ModelLoader& load_;
  std::shared_ptr<Listener> listener_;
  std::thread loader_, drainer_;
  std::atomic<int> signals_seen_{0};
  std::atomic<bool> engine_down_{false};
  int exit_code_ = 0;
};

int ServerRun::run() {
  raise_fd_limit();
  const auto address = net::ip::make_address(state_.options.host);
  listener_ = std::make_shared<Listener>(ioc_, tcp::endpoint(address, state_.options.port), state_);
  listener_->run();
  log_line(fmt::format("listening on http://{}:{} ({} HTTP threads); loading the model",
                       state_.options.host, listener_->port(), state_.options.http_threads));
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) on_signal();
  });
  loader_ = std::thread([this] { load_model(); });
  std::vector<std::thread> threads;
  for (int i = 1; i < state_.options.http_threads; ++i)
    threads.emplace_back([this] { ioc_.run(); });
  ioc_.run();
  for (std::thread& t : threads) t.join();
  if (loader_.joinable()) loader_.join();
  if (drainer_.joinable()) drainer_.join();
  // The engine goes before the io_context: its callbacks post to connection strands.
  if (state_.model != nullptr && !engine_down_) state_.model->backend->shutdown(false);
  state_.model.reset();
  log_line("stopped");
  return exit_code_;
}

void ServerRun::load_model() {
  try {
    std::shared_ptr<ServedModel> model = load_();
    state_.model = std::move(model);
    ServerPhase expected = ServerPhase::kLoading;
    if (state_.phase.compare_exchange_strong(expected, ServerPhase::kServing)) {
      log_line(fmt::format("serving '{}' on http://{}:{}", state_.model_name(), state_.options.host,
                           listener_->port()));
      return;
    }
    // A signal came while loading: nothing was accepted, stop now.
    net::post(ioc_, [this] { drain(); });
  } catch (const std::exception& e) {
    log_line(fmt::format("error: {}", e.what()));
    exit_code_ = 2;
    state_.phase.store(ServerPhase::kFailed);
    net::post(ioc_, [this] { ioc_.stop(); });
  }
}

void ServerRun::on_signal() {
  const int n = ++signals_seen_;
  signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (!ec) on_signal();
  });
  if (n > 1) {
    log_line("second signal: exiting without finishing the requests in flight");
    std::_Exit(1);
  }
  const ServerPhase before = state_.phase.exchange(ServerPhase::kDraining);
  listener_->stop();
  if (before == ServerPhase::kLoading) {
    log_line("signal while loading: exiting once the load returns");
    return;
  }
  drain();
}

// Runs off the io_context threads: the engine's drain blocks until every accepted request
// finished, then the connections get a moment to write the last bytes.
void ServerRun::drain() {
  if (drainer_.joinable()) return;
  log_line(fmt::format("draining {} request(s), then exiting (signal again to abort)",
                       state_.active_jobs.load()));
  drainer_ = std::thread([this] {
    if (state_.model != nullptr) state_.model->backend->shutdown(true);
    engine_down_ = true;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (state_.active_jobs.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    net::post(ioc_, [this] { ioc_.stop(); });
  });
}

}  // namespace

void log_line(std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  fmt::print(stderr, "{:%Y-%m-%d %H:%M:%S} qwen3 serve: {}\n",
             std::chrono::floor<std::chrono::seconds>(now), message);
}

int run_server(const ServerOptions& options, const ModelLoader& load) {
  ServerRun server(options, load);
  return server.run();
}

}  // namespace qwen3::server
