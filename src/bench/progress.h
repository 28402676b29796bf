// A one-line progress bar on stderr, redrawn in place ("\r"): done/total, rate, failures,
// elapsed and estimated time left.
#pragma once

#include <cstdint>
#include <string>

namespace qwen3::bench {

// Whether to draw: `forced` 1 (--progress), 0 (--no-progress), -1 (auto: stderr is a TTY).
bool progress_enabled(int forced);

// The text of one update (no "\r"), e.g.
// "[#########           ]  347/1000  34.7% | 12.3 req/s | 0 failed | 00:28 < 00:53".
std::string progress_line(int64_t done, int64_t failed, int64_t total, double elapsed_s);

class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void update(int64_t done, int64_t failed, int64_t total, double elapsed_s);
  void finish();  // ends the line

 private:
  bool enabled_;
  bool drawn_ = false;
  size_t last_len_ = 0;
  std::string last_line_;
};

}  // namespace qwen3::bench
