// Shared parts of the reference operators (generic.h).
#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

BroadcastIndexer::BroadcastIndexer(const Shape& out, const std::vector<Shape>& operands) : out_(out), numel_(numel(out)) {
  const size_t r = out.size();
  for (const Shape& s : operands) {
    std::vector<int64_t> st(r, 0);
    int64_t stride = 1;
    for (size_t i = s.size(); i-- > 0;) {
      const size_t d = r - s.size() + i;  // operands align at the last dim
      if (s[i] != 1) st[d] = stride;
      stride *= s[i];
    }
    strides_.push_back(std::move(st));
  }
}

Shape broadcast_inputs(const Builder& b) {
  Shape out;
  for (size_t i = 0; i < b.num_inputs(); ++i)
    if (b.has_input(i)) out = broadcast_shapes(out, b.input(i).shape, b);
  return out;
}

AxisSplit split_around(const Shape& s, int64_t axis) {
  AxisSplit r;
  for (int64_t d = 0; d < static_cast<int64_t>(s.size()); ++d) {
    if (d < axis) r.outer *= s[d];
    if (d > axis) r.inner *= s[d];
  }
  r.len = s.empty() ? 1 : s[axis];
  return r;
}

std::array<double, 4> cubic_weights(double t, double a) {
  auto near = [a](double d) { return ((a + 2) * d - (a + 3)) * d * d + 1; };        // |d| <= 1
  auto far = [a](double d) { return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a; };  // 1 < |d| < 2
  return {far(1 + t), near(t), near(1 - t), far(2 - t)};
}

void require_float(const Builder& b, size_t i) { b.check_dtype(i, {DType::kF32, DType::kF64}); }

}  // namespace edgeq::runtime::detail
