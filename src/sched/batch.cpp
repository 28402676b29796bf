#include "sched/batch.h"

#include "core/error.h"

namespace qwen3 {

void check_attention_window(const AttentionWindow& w) {
  if (w.window < 0 || w.sinks < 0) {  // (EngineOptions' -1 sinks is resolved before)
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--attention-window ({}) and --attention-sinks ({}) must be >= 0", w.window,
                w.sinks);
  }
  if (!w.on() && w.sinks > 0) {
    QWEN3_THROW(ErrorCode::kInvalidArgument,
                "--attention-sinks {} needs --attention-window (sinks are kept beside a window)",
                w.sinks);
  }
}

void ModelRunner::set_attention_window(const AttentionWindow& w) {
  if (!w.on()) return;
  QWEN3_THROW(ErrorCode::kUnsupported,
              "--attention-window: the {} backend has no sliding-window attention yet (the CPU "
              "backend has); drop the flag or use --device cpu",
              name());
}

}  // namespace qwen3
