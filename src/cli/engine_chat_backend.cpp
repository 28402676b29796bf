#include "cli/engine_chat_backend.h"

#include <condition_variable>
#include <mutex>
#include <optional>

#include "cli/chat_prompt.h"
#include "core/error.h"
#include "engine/async_engine.h"
#include "tokenizer/parsers/chat_output_parser.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::cli {

EngineChatBackend::EngineChatBackend(EngineBundle& bundle, const std::string& model_dir,
                                     SamplingParams params, std::string template_file,
                                     std::string kwargs_json)
    : bundle_(bundle),
      template_(load_chat_template(model_dir, template_file)),
      params_(std::move(params)),
      kwargs_json_(std::move(kwargs_json)) {
  if (!bundle_.tokenizer) {
    QWEN3_THROW(ErrorCode::kInvalidModel, "{}: summarize needs the model's tokenizer.json",
                model_dir);
  }
}

int64_t EngineChatBackend::count_tokens(std::string_view text) const {
  return static_cast<int64_t>(bundle_.tokenizer->encode(text, /*parse_special=*/false).size());
}

std::vector<std::string> EngineChatBackend::complete(const std::vector<summarize::ChatTurn>& turns,
                                                     const std::function<void()>& on_done) {
  // Shared with the callbacks: a submit() that throws half-way aborts the requests already
  // queued (guards), whose final callbacks may then run after this function has returned.
  struct Answer {
    ChatOutputParser parser;
    ChatOutput message;
  };
  struct State {
    std::vector<Answer> answers;
    std::mutex mu;
    std::condition_variable cv;
    size_t finished = 0;
    std::optional<Error> failure;
    bool caller_waiting = true;  // false once complete() has left: on_done is gone
  };
  auto st = std::make_shared<State>();
  std::vector<RenderedChat> prompts;
  for (const summarize::ChatTurn& t : turns) {
    prompts.push_back(render_chat(template_, t.system, t.user, kwargs_json_));
    st->answers.push_back(
        {ChatOutputParser({.starts_in_reasoning = prompts.back().starts_in_reasoning,
                           .parse_tool_calls = false}),
         {}});
  }
  struct Leave {  // runs on every exit, before the guards abort what is still running
    State& st;
    ~Leave() {
      std::lock_guard<std::mutex> lock(st.mu);
      st.caller_waiting = false;
    }
  };
  std::vector<RequestGuard> guards;
  const Leave leave{*st};
  for (size_t i = 0; i < turns.size(); ++i) {
    EngineRequest request{bundle_.tokenizer->encode(prompts[i].prompt), params_, 0};
    const uint64_t id =
        bundle_.engine->submit(std::move(request), [st, i, on_done](RequestOutput out) {
          Answer& a = st->answers[i];
          for (const ChoiceDelta& d : out.choices)
            apply_chat_delta(a.parser.feed(d.text), a.message);
          if (!out.finished) return;
          apply_chat_delta(a.parser.finish(), a.message);
          std::lock_guard<std::mutex> lock(st->mu);
          if (out.error && !st->failure) st->failure = *out.error;
          ++st->finished;
          if (st->caller_waiting) on_done();
          st->cv.notify_all();
        });
    guards.emplace_back(bundle_.engine.get(), id);
  }
  {
    std::unique_lock<std::mutex> lock(st->mu);
    st->cv.wait(lock, [&] { return st->finished == turns.size(); });
  }
  for (RequestGuard& g : guards) g.release();
  if (st->failure) throw *st->failure;
  std::vector<std::string> out;
  for (Answer& a : st->answers) out.push_back(std::move(a.message.content));
  return out;
}

}  // namespace qwen3::cli
