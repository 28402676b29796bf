#include "bench/stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace qwen3::bench {

double percentile_sorted(std::span<const double> sorted, double p) {
  if (sorted.empty()) return 0.0;
  const double h = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

Summary summarize(std::span<const double> values, std::span<const double> percentiles) {
  Summary s;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty()) {
    const double n = static_cast<double>(sorted.size());
    s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / n;
    double sq = 0;
    for (double v : sorted) sq += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(sq / n);
  }
  s.median = percentile_sorted(sorted, 50.0);
  for (double p : percentiles) s.percentiles.emplace_back(p, percentile_sorted(sorted, p));
  return s;
}

}  // namespace qwen3::bench
