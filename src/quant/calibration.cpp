// Calibration statistics, streaming: each collector folds batches into a few numbers (min/max) or a
// fixed-size histogram, so calibrating on thousands of samples never holds their activations.
// The histogram spans [-R, R] with an even bin count per side; when a value exceeds R, R doubles and
// neighbouring bins merge in pairs, which redistributes counts exactly (no re-binning error).
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeq/quant.h"

namespace edgeq::quant {

const char* method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kMinMax: return "minmax";
    case CalibrationMethod::kPercentile: return "percentile";
    case CalibrationMethod::kEntropy: return "entropy";
  }
  return "?";
}

CalibrationMethod parse_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::kMinMax;
  if (name == "percentile") return CalibrationMethod::kPercentile;
  if (name == "entropy") return CalibrationMethod::kEntropy;
  throw Error(ErrorCode::kInvalidArgument, "unknown calibration method '" + name + "' (minmax, percentile, entropy)");
}

namespace {

Range with_zero(float lo, float hi) { return {std::min(0.f, lo), std::max(0.f, hi)}; }

class MinMaxCollector : public RangeCollector {
 public:
  void add(std::span<const float> values) override {
    for (float v : values) {
      min_ = std::min(min_, v);
      max_ = std::max(max_, v);
    }
    count_ += static_cast<int64_t>(values.size());
  }
  Range range() const override {
    if (count_ == 0) throw Error(ErrorCode::kInvalidArgument, "calibration saw no values for this tensor");
    return with_zero(min_, max_);
  }

 protected:
  float min_ = std::numeric_limits<float>::infinity();
  float max_ = -std::numeric_limits<float>::infinity();
  int64_t count_ = 0;
};

class HistogramCollector : public MinMaxCollector {
 public:
  explicit HistogramCollector(const CollectorOptions& o) : options_(o), side_(std::max(2, o.histogram_bins) & ~1) {
    hist_.assign(2 * static_cast<size_t>(side_), 0.0);
  }

  void add(std::span<const float> values) override {
    float amax = 0.f;
    for (float v : values) {
      if (!std::isfinite(v)) throw Error(ErrorCode::kInvalidArgument, "calibration activations hold NaN or Inf");
      amax = std::max(amax, std::fabs(v));
    }
    MinMaxCollector::add(values);
    for (float v : values) zeros_ += v == 0.f;
    if (amax > 0.f) {
      if (radius_ == 0.f) {
        radius_ = amax;
      } else {
        while (radius_ < amax) grow();
      }
    }
    if (radius_ == 0.f) {  // only zeros so far: they land in the bin right of 0 once R is known
      pending_zeros_ += static_cast<double>(values.size());
      return;
    }
    if (pending_zeros_ > 0) {
      hist_[static_cast<size_t>(side_)] += pending_zeros_;
      pending_zeros_ = 0;
    }
    const double inv_width = side_ / static_cast<double>(radius_);
    const int64_t last = 2 * side_ - 1;
    for (float v : values) {
      const int64_t i = static_cast<int64_t>(std::floor((static_cast<double>(v) + radius_) * inv_width));
      hist_[static_cast<size_t>(std::clamp<int64_t>(i, 0, last))] += 1.0;
    }
  }

  Range range() const override {
    const Range observed = MinMaxCollector::range();
    if (radius_ == 0.f) return observed;  // all zeros
    Range r = options_.method == CalibrationMethod::kPercentile ? percentile_range() : entropy_range();
    r.min = std::max(r.min, observed.min);
    r.max = std::min(r.max, observed.max);
    return with_zero(r.min, r.max);
  }

 private:
  // Doubles R: new bin j covers old bins 2j-side and 2j-side+1 (side is even, so pairs line up).
  void grow() {
    std::vector<double> merged(hist_.size(), 0.0);
    for (int64_t i = 0; i < 2 * side_; ++i) merged[static_cast<size_t>((side_ + i) / 2)] += hist_[static_cast<size_t>(i)];
    hist_.swap(merged);
    radius_ *= 2.f;
  }

  double bin_width() const { return radius_ / static_cast<double>(side_); }

  // Two tails cut separately: a ReLU output's lower bound stays at 0, a signed tensor keeps its skew.
  Range percentile_range() const {
    double total = 0;
    for (double c : hist_) total += c;
    const double tail = total * std::clamp(1.0 - options_.percentile / 100.0, 0.0, 1.0);
    const int64_t n = 2 * side_;
    double cum = 0;
    int64_t lo = 0;
    for (; lo < n; ++lo) {
      cum += hist_[static_cast<size_t>(lo)];
      if (cum > tail) break;
    }
    cum = 0;
    int64_t hi = n - 1;
    for (; hi >= 0; --hi) {
      cum += hist_[static_cast<size_t>(hi)];
      if (cum > tail) break;
    }
    const double w = bin_width();
    return {static_cast<float>(-radius_ + lo * w), static_cast<float>(-radius_ + (hi + 1) * w)};
  }

  Range entropy_range() const {
    std::vector<double> abs_hist(static_cast<size_t>(side_));
    for (int64_t k = 0; k < side_; ++k)
      abs_hist[static_cast<size_t>(k)] = hist_[static_cast<size_t>(side_ + k)] + hist_[static_cast<size_t>(side_ - 1 - k)];
    // Exact zeros (half of a ReLU output) cost nothing to represent; left in, their spike in the first
    // bin dominates the KL search and drags the threshold far into the bulk.
    abs_hist[0] = std::max(0.0, abs_hist[0] - zeros_);
    // A non-negative tensor (after ReLU) gets all 256 levels of its asymmetric range; a signed one
    // spends half of them per side.
    const int levels = min_ >= 0.f ? 255 : 128;
    const float t = entropy_threshold(abs_hist, radius_, levels);
    return {-t, t};
  }

  CollectorOptions options_;
  int64_t side_;
  std::vector<double> hist_;
  float radius_ = 0.f;
  double pending_zeros_ = 0;
  double zeros_ = 0;
};

}  // namespace

float entropy_threshold(std::span<const double> abs_hist, float max_abs, int levels) {
  const int64_t bins = static_cast<int64_t>(abs_hist.size());
  if (bins == 0 || levels <= 0) throw Error(ErrorCode::kInvalidArgument, "entropy_threshold: empty histogram");
  if (bins <= levels) return max_abs;
  // The search only needs the occupied part: past the last non-empty bin every threshold sees the same P.
  int64_t last_nonzero = bins - 1;
  while (last_nonzero > 0 && abs_hist[static_cast<size_t>(last_nonzero)] == 0) --last_nonzero;
  const int64_t stop = std::max<int64_t>(levels, last_nonzero + 1);
  std::vector<double> suffix(static_cast<size_t>(bins) + 1, 0.0);
  for (int64_t i = bins - 1; i >= 0; --i) suffix[static_cast<size_t>(i)] = suffix[static_cast<size_t>(i) + 1] + abs_hist[static_cast<size_t>(i)];
  double best_kl = std::numeric_limits<double>::infinity();
  int64_t best_i = stop;
  std::vector<double> p, q;
  for (int64_t i = levels; i <= stop; ++i) {
    // P: the first i bins with everything beyond clipped into the last one.
    p.assign(abs_hist.begin(), abs_hist.begin() + i);
    p[static_cast<size_t>(i) - 1] += suffix[static_cast<size_t>(i)];
    // Q: the first i bins merged into `levels` groups, each group's mass spread over its non-empty bins.
    q.assign(static_cast<size_t>(i), 0.0);
    const double per_level = static_cast<double>(i) / levels;
    for (int j = 0; j < levels; ++j) {
      const int64_t start = static_cast<int64_t>(std::floor(j * per_level));
      const int64_t end = j == levels - 1 ? i : static_cast<int64_t>(std::floor((j + 1) * per_level));
      double mass = 0;
      int64_t nonempty = 0;
      for (int64_t k = start; k < end; ++k) {
        mass += abs_hist[static_cast<size_t>(k)];
        if (abs_hist[static_cast<size_t>(k)] != 0) ++nonempty;
      }
      if (nonempty == 0) continue;
      for (int64_t k = start; k < end; ++k)
        if (abs_hist[static_cast<size_t>(k)] != 0) q[static_cast<size_t>(k)] = mass / nonempty;
    }
    double p_sum = 0, q_sum = 0;
    for (int64_t k = 0; k < i; ++k) {
      p_sum += p[static_cast<size_t>(k)];
      q_sum += q[static_cast<size_t>(k)];
    }
    if (p_sum == 0) continue;
    double kl = 0;
    for (int64_t k = 0; k < i; ++k) {
      const double pk = p[static_cast<size_t>(k)] / p_sum;
      if (pk == 0) continue;
      // Q empty where P is not (the clipped outliers in the last bin): smooth like MXNet/ncnn do.
      const double qk = q_sum > 0 ? std::max(q[static_cast<size_t>(k)] / q_sum, 1e-12) : 1e-12;
      kl += pk * std::log(pk / qk);
    }
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return static_cast<float>(max_abs * static_cast<double>(best_i) / static_cast<double>(bins));
}

std::unique_ptr<RangeCollector> make_collector(const CollectorOptions& options) {
  if (options.method == CalibrationMethod::kMinMax) return std::make_unique<MinMaxCollector>();
  if (options.method == CalibrationMethod::kPercentile && !(options.percentile > 0 && options.percentile <= 100))
    throw Error(ErrorCode::kInvalidArgument, "percentile must be in (0, 100], got " + std::to_string(options.percentile));
  if (options.histogram_bins < 16) throw Error(ErrorCode::kInvalidArgument, "histogram needs at least 16 bins per side");
  return std::make_unique<HistogramCollector>(options);
}

}  // namespace edgeq::quant
