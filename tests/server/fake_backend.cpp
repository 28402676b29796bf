#include "fake_backend.h"

#include <chrono>

#include "tokenizer/detokenizer.h"

namespace qwen3::server::test {

uint64_t ManualBackend::submit(EngineRequest request, OutputFn on_output) {
  if (refuse) {
    Error e = *refuse;
    refuse.reset();
    throw e;
  }
  requests.push_back(std::move(request));
  callbacks_[next_id_] = std::move(on_output);
  return next_id_++;
}

void ManualBackend::emit(uint64_t id, RequestOutput out) {
  out.request_id = id;
  const bool last = out.finished;
  callbacks_.at(id)(std::move(out));
  if (last) callbacks_.erase(id);
}

std::shared_ptr<const text::Tokenizer> shared_tokenizer() {
#ifdef QWEN3_TOKENIZER_DIR
  static const std::shared_ptr<const text::Tokenizer> tok =
      text::Tokenizer::load(QWEN3_TOKENIZER_DIR);
  return tok;
#else
  return nullptr;
#endif
}

RequestOutput text_output(uint64_t id, int64_t index, std::string text, int64_t completion_tokens,
                          FinishReason finish, bool finished) {
  RequestOutput o;
  o.request_id = id;
  ChoiceDelta d;
  d.index = index;
  d.text = std::move(text);
  d.token_ids = {42};
  d.finish_reason = finish;
  o.choices.push_back(std::move(d));
  o.finished = finished;
  o.prompt_tokens = 5;
  o.completion_tokens = completion_tokens;
  return o;
}

ScriptedBackend::ScriptedBackend(const text::Tokenizer& tok) : tok_(tok) {
  thread_ = std::thread([this] { run(); });
}

ScriptedBackend::~ScriptedBackend() { shutdown(false); }

uint64_t ScriptedBackend::submit(EngineRequest request, OutputFn on_output) {
  const std::string prompt = tok_.decode(request.prompt);
  std::string script = "Hello from the scripted engine.";
  if (const size_t at = prompt.rfind("SCRIPT:"); at != std::string::npos) {
    const size_t end = prompt.find("<|im_end|>", at);
    script = prompt.substr(at + 7, end == std::string::npos ? std::string::npos : end - at - 7);
  }
  std::lock_guard lock(mu_);
  if (!accepting_) throw Error(ErrorCode::kUnavailable, "shutting down");
  Job job{next_id_++, std::move(request), std::move(on_output), tok_.encode(script, false)};
  jobs_.push_back(std::move(job));
  cv_.notify_all();
  return jobs_.back().id;
}

void ScriptedBackend::abort(uint64_t id) {
  std::lock_guard lock(mu_);
  aborts_.push_back(id);
  cv_.notify_all();
}

EngineStats ScriptedBackend::stats() const {
  std::lock_guard lock(mu_);
  EngineStats s;
  s.running = static_cast<int64_t>(jobs_.size());
  s.requests_finished_total = finished_total_;
  return s;
}

void ScriptedBackend::shutdown(bool drain) {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
    if (!drain) {
      for (const Job& j : jobs_) aborts_.push_back(j.id);
    }
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

// Emits up to 3 tokens of every choice per step; all n choices get the same text.
bool ScriptedBackend::step(Job& job) {
  const SamplingParams& p = job.request.params;
  const size_t limit =
      p.max_tokens < 0 ? job.script.size() : std::min(job.script.size(), size_t(p.max_tokens));
  const size_t end = std::min(limit, job.pos + 3);
  RequestOutput out;
  out.request_id = job.id;
  out.prompt_tokens = static_cast<int64_t>(job.request.prompt.size());
  const std::vector<int32_t> before(job.script.begin(), job.script.begin() + job.pos);
  const std::vector<int32_t> upto(job.script.begin(), job.script.begin() + end);
  const std::string text = tok_.decode(upto).substr(tok_.decode(before).size());
  const bool done = end >= limit;
  for (int64_t i = 0; i < p.n; ++i) {
    ChoiceDelta d;
    d.index = i;
    d.token_ids.assign(job.script.begin() + job.pos, job.script.begin() + end);
    d.text = text;
    if (p.logprobs >= 0) {
      for (int32_t t : d.token_ids) d.logprobs.push_back({t, -0.5f, {{t, -0.5f}}});
    }
    if (done)
      d.finish_reason = end < job.script.size() ? FinishReason::kLength : FinishReason::kStop;
    out.choices.push_back(std::move(d));
  }
  job.pos = end;
  out.completion_tokens = static_cast<int64_t>(end) * p.n;
  out.finished = done;
  job.fn(std::move(out));
  return done;
}

void ScriptedBackend::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !jobs_.empty() || !aborts_.empty(); });
    for (uint64_t id : aborts_) {
      for (auto it = jobs_.begin(); it != jobs_.end(); ++it) {
        if (it->id != id) continue;
        RequestOutput o;
        o.request_id = id;
        o.finished = true;
        for (int64_t i = 0; i < it->request.params.n; ++i) {
          ChoiceDelta d;
          d.index = i;
          d.finish_reason = FinishReason::kAbort;
          o.choices.push_back(std::move(d));
        }
        it->fn(std::move(o));
        jobs_.erase(it);
        ++finished_total_;
        break;
      }
    }
    aborts_.clear();
    if (jobs_.empty() && stop_) return;
    std::deque<Job> batch;
    batch.swap(jobs_);
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::deque<Job> rest;
    for (Job& j : batch) {
      if (!step(j)) rest.push_back(std::move(j));
    }
    lock.lock();
    finished_total_ += static_cast<int64_t>(batch.size() - rest.size());
    for (Job& j : jobs_) rest.push_back(std::move(j));
    jobs_.swap(rest);
  }
}

}  // namespace qwen3::server::test
