// Stop strings on streamed text: text that could still be the start of a stop string
// is held back until it either completes one (generation stops there) or cannot.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace qwen3 {

class StopChecker {
 public:
  StopChecker(std::vector<std::string> stops, bool include_stop_in_output);

  struct Result {
    std::string text;  // safe to emit now
    bool stopped = false;
    std::string matched;  // the stop string, when stopped
  };
  // Appends `text`; `check` = false only holds back (below min_tokens, vLLM's rule).
  Result push(std::string_view text, bool check = true);
  std::string flush();  // everything held (the generation ended another way)

 private:
  std::vector<std::string> stops_;
  bool include_;
  size_t max_len_ = 0;
  std::string held_;
};

}  // namespace qwen3
