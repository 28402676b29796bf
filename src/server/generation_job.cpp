#include "server/generation_job.h"

namespace qwen3::server {
namespace {

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

void send_error(ResponseSink& sink, const ApiError& error) {
  sink.send_response(error.status(), "application/json", error_body(error));
}

void send_json(ResponseSink& sink, int status, const Json& body) {
  sink.send_response(status, "application/json", dump_json(body));
}

GenerationJob::GenerationJob(JobContext ctx, ResponseMeta meta, const GenerationRequest& common,
                             std::shared_ptr<ResponseSink> sink)
    : ctx_(ctx),
      stop_strings_(common.sampling.stop.value_or(std::vector<std::string>{})),
      meta_(std::move(meta)),
      stream_(common.stream),
      stream_options_(common.stream_options),
      sink_(std::move(sink)),
      arrival_(std::chrono::steady_clock::now()) {}

GenerationJob::~GenerationJob() { abort_unfinished(); }

void GenerationJob::start(std::vector<EngineRequest> requests, PostFn post) {
  requests_ = requests.size();
  n_ = requests.empty() ? 1 : requests.front().params.n;
  progress_.assign(requests_, Progress{});
  std::shared_ptr<GenerationJob> self = shared_from_this();
  for (size_t k = 0; k < requests_; ++k) {
    try {
      progress_[k].id =
          ctx_.backend->submit(std::move(requests[k]), [self, k, post](RequestOutput out) {
            post([self, k, out = std::move(out)]() mutable { self->on_output(k, std::move(out)); });
          });
      progress_[k].submitted = true;
      if (ctx_.metrics != nullptr) ctx_.metrics->requests_in_engine.fetch_add(1);
    } catch (const Error& e) {
      for (size_t j = k; j < requests_; ++j) progress_[j].finished = true;
      finished_ = requests_ - k;
      sink_.reset();
      responded_ = true;
      abort_unfinished();
      throw api_error_from(e);
    }
  }
  if (!stream_) return;
  sink_->start_stream();
  Json first = first_chunk_choices();
  if (!first.empty()) send_chunk(std::move(first), false);
}

void GenerationJob::cancel() {
  if (sink_ == nullptr) return;
  sink_.reset();
  responded_ = true;
  abort_unfinished();
}

void GenerationJob::abort_unfinished() {
  for (const Progress& p : progress_) {
    if (p.submitted && !p.finished) ctx_.backend->abort(p.id);
  }
}

void GenerationJob::on_output(size_t k, RequestOutput out) {
  Progress& p = progress_[k];
  if (p.finished) return;
  p.prompt_tokens = out.prompt_tokens;
  p.cached_tokens = out.cached_prompt_tokens;
  record_timing(p, out);
  p.completion_tokens = out.completion_tokens;
  for (const ChoiceDelta& d : out.choices) {
    if (d.finish_reason != FinishReason::kNone) ctx_.metrics->count_finished(d.finish_reason);
  }
  if (out.finished) {
    p.finished = true;
    ++finished_;
    if (ctx_.metrics != nullptr) ctx_.metrics->requests_in_engine.fetch_sub(1);
  }
  if (sink_ == nullptr) {
    complete_ = finished_ == requests_;
    return;
  }
  if (out.error) return fail(*out.error);
  Json chunk = Json::array();
  for (ChoiceDelta& d : out.choices) {
    add_delta(static_cast<int64_t>(k) * n_ + d.index, d, stream_ ? &chunk : nullptr);
  }
  if (stream_ && !chunk.empty()) {
    send_chunk(std::move(chunk), stream_options_.continuous_usage_stats);
  }
  if (finished_ == requests_) finish_response();
}

void GenerationJob::record_timing(Progress& p, const RequestOutput& out) {
  if (ctx_.metrics == nullptr) return;
  const auto now = std::chrono::steady_clock::now();
  if (out.completion_tokens > p.completion_tokens) {
    if (!p.first_token) {
      ctx_.metrics->time_to_first_token.observe(seconds(now - arrival_));
      p.first_token = true;
    } else {
      ctx_.metrics->inter_token_latency.observe(seconds(now - p.last_output));
    }
    p.last_output = now;
  }
  if (out.finished) {
    ctx_.metrics->e2e_request_latency.observe(seconds(now - arrival_));
    ctx_.metrics->request_prompt_tokens.observe(static_cast<double>(out.prompt_tokens));
    ctx_.metrics->request_generation_tokens.observe(static_cast<double>(out.completion_tokens));
  }
}

void GenerationJob::fail(const Error& error) {
  const ApiError e = api_error_from(error);
  if (stream_) {
    sink_->send_stream("data: " + error_body(e) + "\n\n");
    sink_->send_stream(std::string(kSseDone));
    sink_->end_stream();
  } else {
    send_error(*sink_, e);
  }
  sink_.reset();
  responded_ = true;
  abort_unfinished();
  complete_ = finished_ == requests_;
}

void GenerationJob::finish_response() {
  if (stream_) {
    if (stream_options_.include_usage) send_chunk(Json::array(), true);
    sink_->send_stream(std::string(kSseDone));
    sink_->end_stream();
  } else {
    send_json(*sink_, 200, envelope(meta_, object_name(false), final_choices(), usage()));
  }
  sink_.reset();
  responded_ = true;
  complete_ = true;
}

void GenerationJob::send_chunk(Json choices, bool with_usage) {
  Json j = envelope(meta_, object_name(true), std::move(choices), with_usage ? usage() : Json());
  if (stream_options_.include_usage && !with_usage) j["usage"] = nullptr;
  sink_->send_stream(sse_event(j));
}

Json GenerationJob::usage() const {
  int64_t prompt = 0, completion = 0, cached = 0;
  for (const Progress& p : progress_) {
    prompt += p.prompt_tokens;
    completion += p.completion_tokens;
    cached += p.cached_tokens;
  }
  return usage_json(prompt, completion, cached);
}

}  // namespace qwen3::server
