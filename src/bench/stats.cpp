// Latency statistics: percentiles by linear interpolation between closest ranks (type 7), the same
// method tools/peers/ort_bench.mjs uses, so the two sides of a comparison are computed alike.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "edgeq/bench.h"

namespace edgeq::bench {

double percentile_sorted(std::span<const double> sorted, double q) {
  if (sorted.empty()) throw Error(ErrorCode::kInvalidArgument, "percentile: no samples");
  if (!(q >= 0.0 && q <= 1.0)) throw Error(ErrorCode::kInvalidArgument, "percentile: q must be in [0, 1]");
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

LatencyStats summarize(std::span<const double> samples_ns) {
  if (samples_ns.empty()) throw Error(ErrorCode::kInvalidArgument, "summarize: no latency samples");
  std::vector<double> sorted(samples_ns.begin(), samples_ns.end());
  std::sort(sorted.begin(), sorted.end());
  LatencyStats s;
  s.count = static_cast<int64_t>(sorted.size());
  s.mean_ns = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(sorted.size());
  s.p50_ns = percentile_sorted(sorted, 0.50);
  s.p95_ns = percentile_sorted(sorted, 0.95);
  s.p99_ns = percentile_sorted(sorted, 0.99);
  s.min_ns = sorted.front();
  s.max_ns = sorted.back();
  if (sorted.size() > 1) {
    double sq = 0;
    for (double v : sorted) sq += (v - s.mean_ns) * (v - s.mean_ns);
    s.stddev_ns = std::sqrt(sq / static_cast<double>(sorted.size() - 1));
  }
  return s;
}

double round_spread(std::span<const double> round_p50s) {
  if (round_p50s.size() < 2) return 0.0;
  std::vector<double> sorted(round_p50s.begin(), round_p50s.end());
  std::sort(sorted.begin(), sorted.end());
  const double median = percentile_sorted(sorted, 0.5);
  if (median <= 0) return 0.0;
  return (sorted.back() - sorted.front()) / median;
}

}  // namespace edgeq::bench
