// Request arrival times for load generation: a Poisson process (exponential gaps) from a
// seeded generator, so a run is reproducible; `vllm bench serve`'s default (burstiness 1).
#pragma once

#include <cstdint>
#include <vector>

namespace qwen3::bench {

// Start offsets in seconds of n requests: the first at 0, then gaps drawn from
// Exp(rate) (mean 1/rate). rate = +inf (or <= 0 is refused) gives all zeros.
// The same (n, rate, seed) gives the same times on every platform: the generator is
// mt19937_64 and the inverse-CDF transform is written here, not std::*_distribution.
std::vector<double> poisson_arrivals(int64_t n, double rate, uint64_t seed);

}  // namespace qwen3::bench
