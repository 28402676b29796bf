#include "backends/cpu/cpu_generate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace qwen3::cpu {

int32_t argmax(std::span<const float> logits) {
  QWEN3_CHECK(!logits.empty());
  // First maximum wins, as torch.argmax does.
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

GreedyResult generate_greedy(const CpuModel& model, std::span<const int32_t> prompt,
                             int64_t max_new, std::span<const int64_t> stop_ids,
                             const std::function<void(int32_t)>& on_token) {
  using clock = std::chrono::steady_clock;
  if (prompt.empty()) QWEN3_THROW(ErrorCode::kInvalidArgument, "the prompt is empty");
  if (max_new < 1)
    QWEN3_THROW(ErrorCode::kInvalidArgument, "max new tokens must be >= 1, got {}", max_new);
  const int64_t max_len = model.config().max_position_embeddings;
  const int64_t need = static_cast<int64_t>(prompt.size()) + max_new;
  if (need > max_len) {
    QWEN3_THROW(
        ErrorCode::kInvalidArgument,
        "prompt ({} tokens) + max new tokens ({}) = {} exceeds the model's context of {} tokens",
        prompt.size(), max_new, need, max_len);
  }
  KvCache cache(model.config(), need);
  GreedyResult r;
  auto t0 = clock::now();
  std::vector<float> logits = model.forward(prompt, cache, LogitsMode::kLast);
  r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  t0 = clock::now();
  for (int64_t i = 0; i < max_new; ++i) {
    const int32_t next = argmax(logits);
    r.tokens.push_back(next);
    if (on_token) on_token(next);
    if (std::find(stop_ids.begin(), stop_ids.end(), next) != stop_ids.end()) {
      r.stopped_on_eos = true;
      break;
    }
    if (i + 1 == max_new) break;
    logits = model.forward(std::span<const int32_t>(&next, 1), cache, LogitsMode::kLast);
  }
  r.decode_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  return r;
}

}  // namespace qwen3::cpu
