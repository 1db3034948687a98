// Reference normalizations over groups of elements: InstanceNormalization (per sample and channel),
// MeanVarianceNormalization (over chosen axes) and LRN (across neighbouring channels). Statistics in
// double.
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

// Element i of `shape` belongs to group group_of(i): its index with the `normalized` dims dropped.
struct Groups {
  Shape shape;
  std::vector<int64_t> group_stride;  // per dim: stride in the group index, 0 for a normalized dim
  int64_t count = 1, size = 1;         // number of groups, elements per group
  int64_t group_of(int64_t i) const {
    int64_t g = 0;
    for (size_t d = shape.size(); d-- > 0;) {
      g += (i % shape[d]) * group_stride[d];
      i /= shape[d];
    }
    return g;
  }
};

Groups make_groups(const Shape& shape, const std::vector<bool>& normalized) {
  Groups g;
  g.shape = shape;
  g.group_stride.assign(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    if (normalized[d]) {
      g.size *= shape[d];
    } else {
      g.group_stride[d] = g.count;
      g.count *= shape[d];
    }
  }
  return g;
}

// Mean and 1 / (sqrt(variance + eps) [+ std_eps]) of each group.
void group_stats(const float* x, const Groups& g, double eps, double std_eps, std::vector<double>& mean, std::vector<double>& inv) {
  const int64_t n = numel(g.shape);
  mean.assign(static_cast<size_t>(g.count), 0.0);
  std::vector<double> var(static_cast<size_t>(g.count), 0.0);
  for (int64_t i = 0; i < n; ++i) mean[g.group_of(i)] += x[i];
  for (double& m : mean) m /= static_cast<double>(g.size);
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean[g.group_of(i)];
    var[g.group_of(i)] += d * d;
  }
  inv.resize(var.size());
  for (size_t k = 0; k < var.size(); ++k) inv[k] = 1.0 / (std::sqrt(var[k] / static_cast<double>(g.size) + eps) + std_eps);
}

}  // namespace

void compile_instance_normalization(Builder& b) {
  for (size_t i = 0; i < 3; ++i) b.check_dtype(i, {DType::kF32});
  const Shape shape = b.input(0).shape;
  if (shape.size() < 3) b.invalid("input must have rank >= 3");
  const int64_t c = shape[1];
  if (numel(b.input(1).shape) != c || numel(b.input(2).shape) != c) b.invalid("scale and B must have one value per channel");
  std::vector<bool> normalized(shape.size(), true);
  normalized[0] = normalized[1] = false;
  const Groups g = make_groups(shape, normalized);
  const double eps = b.node().attr_float("epsilon", 1e-5f);
  const int32_t in = b.input_plain(0), sc = b.input_plain(1), bi = b.input_plain(2), out = b.output(0, DType::kF32, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    const float *s = ctx.at<const float>(sc), *bias = ctx.at<const float>(bi);
    float* y = ctx.at<float>(out);
    std::vector<double> mean, inv;
    group_stats(x, g, eps, 0.0, mean, inv);
    for (int64_t i = 0; i < numel(g.shape); ++i) {
      const int64_t k = g.group_of(i), ch = k % c;  // groups run over [N, C], channel fastest
      y[i] = static_cast<float>((x[i] - mean[k]) * inv[k] * s[ch] + bias[ch]);
    }
  });
}

// (X - mean) / (std + 1e-9) over `axes` (default N, H, W), as ONNX's function body computes it.
void compile_mean_variance_normalization(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape shape = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(shape.size());
  std::vector<bool> normalized(shape.size(), false);
  for (int64_t a : b.node().attr_ints("axes", {0, 2, 3})) normalized[normalize_axis(a, r, b)] = true;
  const Groups g = make_groups(shape, normalized);
  const int32_t in = b.input_plain(0), out = b.output(0, DType::kF32, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    std::vector<double> mean, inv;
    group_stats(x, g, 0.0, 1e-9, mean, inv);
    for (int64_t i = 0; i < numel(g.shape); ++i) y[i] = static_cast<float>((x[i] - mean[g.group_of(i)]) * inv[g.group_of(i)]);
  });
}

// y = x / (bias + alpha / size * sum of x^2 over the size channels around c)^beta
void compile_lrn(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape shape = b.input(0).shape;
  if (shape.size() < 3) b.invalid("input must have rank >= 3");
  const int64_t size = b.node().attr_int("size", 0);
  if (size < 1) b.invalid("size must be positive");
  const double alpha = b.node().attr_float("alpha", 1e-4f), beta = b.node().attr_float("beta", 0.75f), bias = b.node().attr_float("bias", 1.f);
  const int64_t c = shape[1], plane = numel(Shape(shape.begin() + 2, shape.end())), before = (size - 1) / 2, after = size - 1 - before;
  const int32_t in = b.input_plain(0), out = b.output(0, DType::kF32, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    for (int64_t n = 0; n < shape[0]; ++n)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t p = 0; p < plane; ++p) {
          double sq = 0;
          for (int64_t j = std::max<int64_t>(0, ch - before); j <= std::min(c - 1, ch + after); ++j) {
            const double v = x[(n * c + j) * plane + p];
            sq += v * v;
          }
          const int64_t i = (n * c + ch) * plane + p;
          y[i] = static_cast<float>(x[i] / std::pow(bias + alpha / static_cast<double>(size) * sq, beta));
        }
  });
}

}  // namespace edgeq::runtime::detail
