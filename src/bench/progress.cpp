#include "bench/progress.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace qwen3::bench {

bool progress_enabled(int forced) { return forced >= 0 ? forced == 1 : isatty(STDERR_FILENO) == 1; }

namespace {

std::string clock_text(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const int64_t t = static_cast<int64_t>(s + 0.5);
  return t >= 3600 ? fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
                   : fmt::format("{:02}:{:02}", t / 60, t % 60);
}

}  // namespace

std::string progress_line(int64_t done, int64_t failed, int64_t total, double elapsed_s) {
  constexpr int kWidth = 24;
  const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int filled = static_cast<int>(frac * kWidth);
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  const double left = rate > 0 ? static_cast<double>(total - done) / rate : -1.0;
  const int digits = static_cast<int>(std::to_string(total).size());
  return fmt::format("[{}{}] {:>{}}/{} {:5.1f}% | {:.1f} req/s | {} failed | {} < {}",
                     std::string(static_cast<size_t>(filled), '#'),
                     std::string(static_cast<size_t>(kWidth - filled), ' '), done, digits, total,
                     frac * 100, rate, failed, clock_text(elapsed_s), clock_text(left));
}

void ProgressBar::update(int64_t done, int64_t failed, int64_t total, double elapsed_s) {
  if (!enabled_) return;
  const std::string line = progress_line(done, failed, total, elapsed_s);
  if (drawn_ && line == last_line_) return;  // redraw only on change (about 1/s when idle)
  last_line_ = line;
  const size_t pad = last_len_ > line.size() ? last_len_ - line.size() : 0;
  fmt::print(stderr, "\r{}{}", line, std::string(pad, ' '));
  std::fflush(stderr);
  last_len_ = line.size();
  drawn_ = true;
}

void ProgressBar::finish() {
  if (enabled_ && drawn_) fmt::print(stderr, "\n");
  drawn_ = false;
  last_len_ = 0;
}

}  // namespace qwen3::bench
