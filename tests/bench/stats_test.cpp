// Statistics on samples whose percentiles are known by hand (linear interpolation, type 7).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

TEST(BenchStats, FourSamplesExact) {
  const std::vector<double> x = {4, 1, 3, 2};  // unsorted on purpose
  const LatencyStats s = summarize(x);
  EXPECT_EQ(s.count, 4);
  EXPECT_DOUBLE_EQ(s.mean_ns, 2.5);
  EXPECT_DOUBLE_EQ(s.p50_ns, 2.5);              // h = 1.5 -> 2 + 0.5
  EXPECT_NEAR(s.p95_ns, 3.85, 1e-12);           // h = 2.85 -> 3 + 0.85
  EXPECT_NEAR(s.p99_ns, 3.97, 1e-12);           // h = 2.97
  EXPECT_DOUBLE_EQ(s.min_ns, 1);
  EXPECT_DOUBLE_EQ(s.max_ns, 4);
  EXPECT_NEAR(s.stddev_ns, std::sqrt(5.0 / 3.0), 1e-12);  // sample stddev, divisor n-1
}

TEST(BenchStats, OneToHundred) {
  std::vector<double> x(100);
  std::iota(x.begin(), x.end(), 1.0);
  std::shuffle(x.begin(), x.end(), std::mt19937(7));
  const LatencyStats s = summarize(x);
  EXPECT_NEAR(s.p50_ns, 50.5, 1e-9);
  EXPECT_NEAR(s.p95_ns, 95.05, 1e-9);
  EXPECT_NEAR(s.p99_ns, 99.01, 1e-9);
  EXPECT_DOUBLE_EQ(s.mean_ns, 50.5);
  EXPECT_NEAR(s.stddev_ns, std::sqrt(100.0 * 101.0 / 12.0), 1e-9);  // n(n+1)/12 for 1..n
}

TEST(BenchStats, PercentileEndsAndOneSample) {
  const std::vector<double> sorted = {10, 20, 30};
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 0.0), 10);
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 1.0), 30);
  EXPECT_DOUBLE_EQ(percentile_sorted(sorted, 0.25), 15);
  const std::vector<double> one = {42};
  const LatencyStats s = summarize(one);
  EXPECT_DOUBLE_EQ(s.p50_ns, 42);
  EXPECT_DOUBLE_EQ(s.p99_ns, 42);
  EXPECT_DOUBLE_EQ(s.stddev_ns, 0);
}

TEST(BenchStats, RejectsNoSamplesAndBadQuantile) {
  const std::vector<double> none;
  EXPECT_THROW(summarize(none), Error);
  const std::vector<double> sorted = {1, 2};
  EXPECT_THROW(percentile_sorted(sorted, 1.5), Error);
  EXPECT_THROW(percentile_sorted(sorted, -0.1), Error);
}

TEST(BenchStats, RoundSpread) {
  const std::vector<double> p50s = {10, 12, 11};
  EXPECT_NEAR(round_spread(p50s), 2.0 / 11.0, 1e-12);
  const std::vector<double> even = {10, 14, 11, 12};  // median 11.5
  EXPECT_NEAR(round_spread(even), 4.0 / 11.5, 1e-12);
  const std::vector<double> one = {5};
  EXPECT_DOUBLE_EQ(round_spread(one), 0);
}

}  // namespace
}  // namespace edgeq::bench
