#include "engine/stop_checker.h"

#include <algorithm>

namespace qwen3 {

StopChecker::StopChecker(std::vector<std::string> stops, bool include_stop_in_output)
    : stops_(std::move(stops)), include_(include_stop_in_output) {
  for (const auto& s : stops_) max_len_ = std::max(max_len_, s.size());
}

StopChecker::Result StopChecker::push(std::string_view text, bool check) {
  Result r;
  if (stops_.empty()) {
    r.text = std::string(text);
    return r;
  }
  // A new match must end inside the new text, so it starts after this point.
  const size_t old = held_.size();
  held_.append(text);
  if (check) {
    const size_t from = old >= max_len_ ? old - max_len_ + 1 : 0;
    size_t best = std::string::npos;
    const std::string* hit = nullptr;
    for (const auto& s : stops_) {
      const size_t pos = held_.find(s, from);
      if (pos < best) {
        best = pos;
        hit = &s;
      }
    }
    if (hit != nullptr) {
      r.stopped = true;
      r.matched = *hit;
      r.text = held_.substr(0, include_ ? best + hit->size() : best);
      held_.clear();
      return r;
    }
  }
  // Hold the longest suffix that is a proper prefix of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, held_.size()); len > keep; --len) {
      if (std::string_view(held_).substr(held_.size() - len) ==
          std::string_view(s).substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  r.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return r;
}

std::string StopChecker::flush() {
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

}  // namespace qwen3
