// Summary statistics for benchmark latencies, computed the way `vllm bench serve` does
// (numpy): mean, population standard deviation, median and percentiles with numpy's
// default "linear" interpolation. Empty inputs give 0 everywhere, as numpy on `[0]` does.
#pragma once

#include <span>
#include <utility>
#include <vector>

namespace qwen3::bench {

// numpy.percentile(values, p): sorted x, rank h = p/100 * (n - 1), x[floor h] +
// (h - floor h) * (x[floor h + 1] - x[floor h]). `sorted` must be ascending; p in [0, 100].
double percentile_sorted(std::span<const double> sorted, double p);

struct Summary {
  double mean = 0;
  double median = 0;
  double std = 0;                                      // population (ddof = 0), like numpy
  std::vector<std::pair<double, double>> percentiles;  // (p, value), in the order asked
};

// O(n log n): sorts a copy.
Summary summarize(std::span<const double> values, std::span<const double> percentiles);

}  // namespace qwen3::bench
