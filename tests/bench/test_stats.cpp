// Statistics and arrivals of `qwen3 bench serve` against hand-computed numpy values.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "bench/arrivals.h"
#include "bench/stats.h"

namespace qwen3::bench {
namespace {

// numpy.percentile([1..10], p) and numpy.std (ddof 0), computed by hand:
// rank h = p/100 * 9; p90 -> h 8.1 -> 9 + 0.1 = 9.1; p99 -> h 8.91 -> 9.91;
// var = sum((i - 5.5)^2) / 10 = 82.5 / 10 = 8.25.
TEST(BenchStats, PercentilesMatchNumpyLinear) {
  const std::vector<double> v = {7, 3, 10, 1, 5, 9, 2, 8, 6, 4};  // unsorted on purpose
  const std::vector<double> ps = {90, 99, 100, 0, 25};
  const Summary s = summarize(v, ps);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_NEAR(s.std, std::sqrt(8.25), 1e-12);
  ASSERT_EQ(s.percentiles.size(), 5u);
  EXPECT_EQ(s.percentiles[0].first, 90);
  EXPECT_NEAR(s.percentiles[0].second, 9.1, 1e-12);
  EXPECT_NEAR(s.percentiles[1].second, 9.91, 1e-12);
  EXPECT_DOUBLE_EQ(s.percentiles[2].second, 10);
  EXPECT_DOUBLE_EQ(s.percentiles[3].second, 1);
  EXPECT_NEAR(s.percentiles[4].second, 3.25, 1e-12);  // h = 2.25 -> 3 + 0.25
}

TEST(BenchStats, UnevenValuesAndEdgeCases) {
  const std::vector<double> sorted = {15, 20, 35, 40, 50};
  EXPECT_NEAR(percentile_sorted(sorted, 40), 29, 1e-12);  // h 1.6 -> 20 + 0.6 * 15
  EXPECT_NEAR(percentile_sorted(sorted, 90), 46, 1e-12);  // h 3.6 -> 40 + 0.6 * 10
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 50), 35);
  const std::vector<double> one = {4.5};
  EXPECT_DOUBLE_EQ(percentile_sorted(one, 99), 4.5);
  const Summary empty = summarize({}, std::vector<double>{99});
  EXPECT_EQ(empty.mean, 0);
  EXPECT_EQ(empty.median, 0);
  EXPECT_EQ(empty.std, 0);
  EXPECT_EQ(empty.percentiles[0].second, 0);
  // Even count median: the mean of the middle two.
  const Summary even = summarize(std::vector<double>{1, 2, 3, 100}, {});
  EXPECT_DOUBLE_EQ(even.median, 2.5);
}

TEST(BenchArrivals, PoissonMeanGapAndSeedReproducibility) {
  const int64_t n = 200000;
  const double rate = 8.0;
  const std::vector<double> t = poisson_arrivals(n, rate, 42);
  ASSERT_EQ(t.size(), static_cast<size_t>(n));
  EXPECT_EQ(t[0], 0.0);
  std::vector<double> gaps;
  for (size_t i = 1; i < t.size(); ++i) {
    ASSERT_GE(t[i], t[i - 1]);
    gaps.push_back(t[i] - t[i - 1]);
  }
  const Summary s = summarize(gaps, std::vector<double>{50});
  // Exponential(rate): mean = std = 1/rate, median = ln 2 / rate. 200k samples: the
  // standard error of the mean is 0.22%, so 1.5% is > 6 sigma.
  EXPECT_NEAR(s.mean, 1 / rate, 0.015 / rate);
  EXPECT_NEAR(s.std, 1 / rate, 0.02 / rate);
  EXPECT_NEAR(s.median, std::log(2.0) / rate, 0.02 / rate);
  EXPECT_EQ(poisson_arrivals(n, rate, 42), t);
  EXPECT_NE(poisson_arrivals(n, rate, 43), t);
  // Deterministic on every platform: the first gaps are fixed numbers.
  const std::vector<double> small = poisson_arrivals(3, 1.0, 0);
  EXPECT_EQ(small, poisson_arrivals(3, 1.0, 0));
  EXPECT_GT(small[1], 0);
}

TEST(BenchArrivals, InfiniteRateSendsAllAtOnceAndBadRateIsRefused) {
  const std::vector<double> t = poisson_arrivals(5, INFINITY, 1);
  EXPECT_EQ(t, std::vector<double>(5, 0.0));
  EXPECT_THROW(poisson_arrivals(5, 0.0, 1), std::exception);
  EXPECT_THROW(poisson_arrivals(5, -1.0, 1), std::exception);
  EXPECT_THROW(poisson_arrivals(5, NAN, 1), std::exception);
  EXPECT_TRUE(poisson_arrivals(0, 1.0, 1).empty());
}

}  // namespace
}  // namespace qwen3::bench
