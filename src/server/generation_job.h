// One OpenAI generation request in flight: submits its engine request(s), turns the
// engine's RequestOutputs into the response (whole JSON or SSE chunks), keeps usage and
// latency metrics, and cancels the engine work when the client goes away.
//
// Threading: on_output() runs on the connection's executor (the engine's callback only
// posts there), so a job and its sink are never touched from two threads at once.
// Lifetime: the job holds its sink until the response is complete; the connection
// holds the job until then; posted outputs hold the job.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "server/backend.h"
#include "server/metrics.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace qwen3::server {

// The response side of one HTTP exchange. Used only from the connection's executor.
class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // A whole response. JSON bodies use content type application/json.
  virtual void send_response(int status, std::string_view content_type, std::string body) = 0;
  virtual void start_stream() = 0;                 // 200, text/event-stream, chunked
  virtual void send_stream(std::string data) = 0;  // SSE bytes
  virtual void end_stream() = 0;                   // last chunk; the exchange is complete
};

void send_error(ResponseSink& sink, const ApiError& error);
void send_json(ResponseSink& sink, int status, const Json& body);

// Everything a job uses that outlives it.
struct JobContext {
  GenerationBackend* backend = nullptr;
  const text::Tokenizer* tokenizer = nullptr;
  ServerMetrics* metrics = nullptr;
};

// Runs a task on the connection's executor (asio::post to its strand in the server).
using PostFn = std::function<void(std::function<void()>)>;

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  GenerationJob(JobContext ctx, ResponseMeta meta, const GenerationRequest& common,
                std::shared_ptr<ResponseSink> sink);
  virtual ~GenerationJob();

  // Submits one engine request per prompt (n choices each; choice index = k * n + i).
  // Throws ApiError when a submit is refused; those already submitted are aborted and
  // nothing was written.
  void start(std::vector<EngineRequest> requests, PostFn post);
  // The client went away: abort the engine work and write nothing more.
  void cancel();
  bool complete() const { return complete_; }

 protected:
  // Object names: "text_completion" or "chat.completion" / "chat.completion.chunk".
  virtual std::string_view object_name(bool chunk) const = 0;
  // Streaming only: choices of the first chunk (chat: the role; completions: echo).
  virtual Json first_chunk_choices() { return Json::array(); }
  // News of choice `index`; when streaming, appends its chunk choice (if any) to
  // `chunk_choices`; otherwise accumulates for final_choices().
  virtual void add_delta(int64_t index, ChoiceDelta& delta, Json* chunk_choices) = 0;
  virtual Json final_choices() = 0;  // non-streaming response choices, by index
  int64_t num_choices() const { return static_cast<int64_t>(requests_) * n_; }

  const JobContext ctx_;
  const std::vector<std::string> stop_strings_;

 private:
  struct Progress {  // per engine request
    uint64_t id = 0;
    bool submitted = false, finished = false, first_token = false;
    int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0;
    std::chrono::steady_clock::time_point last_output;
  };
  void on_output(size_t k, RequestOutput out);
  void record_timing(Progress& p, const RequestOutput& out);
  void fail(const Error& error);
  void finish_response();
  void send_chunk(Json choices, bool with_usage);
  Json usage() const;
  void abort_unfinished();

  ResponseMeta meta_;
  bool stream_;
  StreamOptions stream_options_;
  std::shared_ptr<ResponseSink> sink_;  // null once the response is complete or cancelled
  std::vector<Progress> progress_;
  size_t requests_ = 0;
  int64_t n_ = 1;
  size_t finished_ = 0;
  bool complete_ = false;  // response written (or client gone) and all requests finished
  bool responded_ = false;
  std::chrono::steady_clock::time_point arrival_;
};

}  // namespace qwen3::server
