// Engine stand-ins for server tests.
//  ManualBackend: records submits; the test delivers outputs itself (no threads).
//  ScriptedBackend: an engine thread that "generates" a scripted text (the prompt's text
//    after "SCRIPT:" up to "<|im_end|>"), a few tokens per output, honouring n,
//    max_tokens, logprobs and abort. Used by qwen3_fake_server for deterministic tool
//    calls and reasoning in the node tests.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "server/backend.h"
#include "tokenizer/tokenizer.h"

namespace qwen3::server::test {

class ManualBackend final : public GenerationBackend {
 public:
  uint64_t submit(EngineRequest request, OutputFn on_output) override;
  void abort(uint64_t id) override { aborted.push_back(id); }
  EngineStats stats() const override { return stats_value; }
  void shutdown(bool) override {}

  // Delivers `out` to request `id` (its callback).
  void emit(uint64_t id, RequestOutput out);

  std::optional<Error> refuse;  // thrown by the next submit
  std::vector<EngineRequest> requests;
  std::vector<uint64_t> aborted;
  EngineStats stats_value;

 private:
  std::map<uint64_t, OutputFn> callbacks_;
  uint64_t next_id_ = 1;
};

// The real Qwen3 tokenizer (QWEN3_TOKENIZER_DIR), loaded once per test binary.
std::shared_ptr<const text::Tokenizer> shared_tokenizer();

// A RequestOutput with one choice's delta.
RequestOutput text_output(uint64_t id, int64_t index, std::string text, int64_t completion_tokens,
                          FinishReason finish = FinishReason::kNone, bool finished = false);

class ScriptedBackend final : public GenerationBackend {
 public:
  explicit ScriptedBackend(const text::Tokenizer& tok);
  ~ScriptedBackend() override;
  uint64_t submit(EngineRequest request, OutputFn on_output) override;
  void abort(uint64_t id) override;
  EngineStats stats() const override;
  void shutdown(bool drain) override;

 private:
  struct Job {
    uint64_t id;
    EngineRequest request;
    OutputFn fn;
    std::vector<int32_t> script;
    size_t pos = 0;
  };
  void run();
  bool step(Job& job);  // true when finished

  const text::Tokenizer& tok_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<uint64_t> aborts_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  bool accepting_ = true;
  int64_t finished_total_ = 0;
  std::thread thread_;
};

}  // namespace qwen3::server::test
