#include "bench/serve_bench.h"

#include <fmt/core.h>

#include <deque>

#include "bench/arrivals.h"
#include "bench/sse.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::bench {
namespace {

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// One request on the wire: its parser and timing state.
struct Active {
  size_t index = 0;
  Clock::time_point sent;
  Clock::time_point last_text;
  bool got_text = false;
  int64_t num_events = 0;
  int status = 0;
  std::string error_body;  // a non-200 body, for the error message
  std::string stream_error;
  SseParser sse;
  std::vector<std::string> events;
};

class ServeRunner {
 public:
  ServeRunner(HttpClient& client, const std::vector<BenchPrompt>& prompts, const ServeRunOptions& o)
      : client_(client), prompts_(prompts), o_(o) {
    run_.results.resize(prompts.size());
    arrivals_ = poisson_arrivals(static_cast<int64_t>(prompts.size()), o.request_rate, o.seed);
  }

  ServeRun run() {
    t0_ = Clock::now();
    if (!prompts_.empty()) arrive_from(0);
    if (o_.on_progress) tick();
    client_.run();
    run_.duration_s = seconds(end_ - t0_);
    if (o_.on_progress) o_.on_progress(done_, failed_, total(), run_.duration_s);
    return std::move(run_);
  }

 private:
  int64_t total() const { return static_cast<int64_t>(prompts_.size()); }
  Clock::time_point arrival_time(size_t i) const {
    return t0_ +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(arrivals_[i]));
  }

  // Requests whose arrival time has come join the ready queue; one timer waits for the next.
  void arrive_from(size_t i) {
    const Clock::time_point now = Clock::now();
    while (i < prompts_.size() && arrival_time(i) <= now) ready_.push_back(i++);
    pump();
    if (i < prompts_.size()) client_.at(arrival_time(i), [this, i] { arrive_from(i); });
  }

  void pump() {
    while (!ready_.empty() && (o_.max_concurrency <= 0 || in_flight_ < o_.max_concurrency)) {
      start(ready_.front());
      ready_.pop_front();
    }
  }

  void tick() {
    if (done_ >= total()) return;
    o_.on_progress(done_, failed_, total(), seconds(Clock::now() - t0_));
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o_.progress_interval_s));
    client_.at(Clock::now() + interval, [this] { tick(); });
  }

  void start(size_t i);
  void on_events(Active& a, Clock::time_point at);
  void finish(Active& a, const std::string& error);

  HttpClient& client_;
  const std::vector<BenchPrompt>& prompts_;
  const ServeRunOptions& o_;
  std::vector<double> arrivals_;
  std::deque<size_t> ready_;
  ServeRun run_;
  Clock::time_point t0_, end_;
  int64_t in_flight_ = 0, done_ = 0, failed_ = 0;
};

void ServeRunner::start(size_t i) {
  auto a = std::make_shared<Active>();
  a->index = i;
  a->sent = Clock::now();
  run_.results[i].start_s = seconds(a->sent - t0_);
  run_.results[i].prompt_len = prompts_[i].prompt_len;
  ++in_flight_;
  run_.max_in_flight = std::max(run_.max_in_flight, in_flight_);
  StreamHandler h;
  h.on_status = [a](int status) { a->status = status; };
  h.on_body = [this, a](std::string_view bytes, Clock::time_point at) {
    if (a->status != 200) {
      if (a->error_body.size() < 1000) a->error_body.append(bytes.substr(0, 1000));
      return;
    }
    a->sse.feed(bytes, a->events);
    on_events(*a, at);
  };
  h.on_done = [this, a](const std::string& error) {
    a->sse.finish(a->events);
    on_events(*a, Clock::now());
    finish(*a, error);
  };
  const BenchPrompt& p = prompts_[i];
  client_.post_stream(o_.endpoint, build_request_body(o_.spec, p.prompt, p.output_len),
                      std::move(h));
}

void ServeRunner::on_events(Active& a, Clock::time_point at) {
  RequestResult& r = run_.results[a.index];
  a.num_events += static_cast<int64_t>(a.events.size());
  for (const std::string& data : a.events) {
    const StreamChunk c = parse_stream_chunk(o_.spec.api, data);
    if (!c.error.empty() && a.stream_error.empty()) a.stream_error = c.error;
    if (c.completion_tokens) {
      r.output_tokens = *c.completion_tokens;
      r.usage_reported = true;
    }
    if (c.prompt_tokens) r.usage_prompt_tokens = *c.prompt_tokens;
    if (c.text.empty()) continue;
    if (!a.got_text) {
      r.ttft_s = seconds(at - a.sent);
      a.got_text = true;
    } else {
      r.itl_s.push_back(seconds(at - a.last_text));
    }
    a.last_text = at;
    r.generated_text += c.text;
  }
  a.events.clear();
}

void ServeRunner::finish(Active& a, const std::string& error) {
  RequestResult& r = run_.results[a.index];
  end_ = Clock::now();
  r.latency_s = seconds(end_ - a.sent);
  if (!a.got_text) r.ttft_s = r.latency_s;
  if (!error.empty()) {
    r.error = error;
  } else if (a.status != 200) {
    r.error = fmt::format("HTTP {}: {}", a.status, a.error_body);
  } else if (!a.stream_error.empty()) {
    r.error = "error in the stream: " + a.stream_error;
  } else if (a.num_events == 0) {
    r.error = "the response had no SSE events (does the server stream with stream: true?)";
  }
  r.success = r.error.empty();
  --in_flight_;
  ++done_;
  if (!r.success) ++failed_;
  pump();
}

}  // namespace

ServeRun run_serve_bench(HttpClient& client, const std::vector<BenchPrompt>& prompts,
                         const ServeRunOptions& options) {
  return ServeRunner(client, prompts, options).run();
}

void count_missing_output_tokens(std::vector<RequestResult>& results, const text::Tokenizer& tok) {
  for (RequestResult& r : results) {
    if (r.usage_reported || !r.success) continue;
    r.output_tokens = static_cast<int64_t>(tok.encode(r.generated_text).size());
  }
}

}  // namespace qwen3::bench
