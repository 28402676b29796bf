#include "bench/arrivals.h"

#include <cmath>
#include <random>

#include "core/error.h"

namespace qwen3::bench {

std::vector<double> poisson_arrivals(int64_t n, double rate, uint64_t seed) {
  if (!(rate > 0)) {
    QWEN3_THROW(ErrorCode::kInvalidArgument, "--request-rate must be > 0 or inf, got {}", rate);
  }
  std::vector<double> t(static_cast<size_t>(std::max<int64_t>(n, 0)), 0.0);
  if (std::isinf(rate)) return t;
  std::mt19937_64 gen(seed);
  double now = 0;
  for (size_t i = 1; i < t.size(); ++i) {
    const double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;  // [0, 1)
    now += -std::log1p(-u) / rate;
    t[i] = now;
  }
  return t;
}

}  // namespace qwen3::bench
