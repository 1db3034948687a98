// What the reference operators (plain loops, no fast path: the long tail of ONNX operators that no
// profiled model spends time in) share: a kernel that runs a closure built at compile time, numpy
// broadcasting over any number of operands, and small validation helpers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

// A kernel whose run() is a closure holding its slots and parameters by value. The closure must not
// change what it captured: one plan runs on many threads at once.
class ClosureKernel final : public Kernel {
 public:
  explicit ClosureKernel(std::function<void(const ExecContext&)> fn) : fn_(std::move(fn)) {}
  void run(const ExecContext& ctx) const override { fn_(ctx); }

 private:
  std::function<void(const ExecContext&)> fn_;
};

inline void emit_closure(Builder& b, std::function<void(const ExecContext&)> fn) {
  b.emit(std::make_unique<ClosureKernel>(std::move(fn)));
}

// Element offsets of each operand for every element of a broadcast output (numpy rules; an operand's
// stride is 0 along a dim it is broadcast over).
class BroadcastIndexer {
 public:
  BroadcastIndexer(const Shape& out, const std::vector<Shape>& operands);
  int64_t size() const { return numel_; }
  // fn(out_index, offsets): offsets[k] is operand k's element for output element out_index, in order.
  template <typename Fn>
  void for_each(Fn&& fn) const {
    const size_t r = out_.size(), k = strides_.size();
    std::vector<int64_t> idx(r, 0), off(k, 0);
    for (int64_t i = 0; i < numel_; ++i) {
      fn(i, static_cast<const int64_t*>(off.data()));
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        for (size_t j = 0; j < k; ++j) off[j] += strides_[j][d];
        if (idx[d] < out_[d]) break;
        for (size_t j = 0; j < k; ++j) off[j] -= strides_[j][d] * out_[d];
        idx[d] = 0;
      }
    }
  }

 private:
  Shape out_;
  int64_t numel_ = 0;
  std::vector<std::vector<int64_t>> strides_;
};

// A shape viewed as [outer, len, inner] around one axis (outer: the dims before it, inner: after).
struct AxisSplit {
  int64_t outer = 1, len = 1, inner = 1;
};
AxisSplit split_around(const Shape& s, int64_t axis);

// Keys's cubic convolution weights (coefficient a; -0.75 in PyTorch and onnxruntime) of the four taps at
// distances 1 + t, t, 1 - t, 2 - t from a sample point, t in [0, 1]: Resize and GridSample's bicubic.
std::array<double, 4> cubic_weights(double t, double a);

// The broadcast shape of every input of the node (Error naming the shapes when they do not broadcast).
Shape broadcast_inputs(const Builder& b);

// dispatch_numeric plus bool (stored as one byte 0/1, handled as uint8_t).
template <typename F>
bool dispatch_numeric_or_bool(DType d, F&& f) {
  if (d == DType::kBool) {
    f.template operator()<uint8_t>();
    return true;
  }
  return dispatch_numeric(d, std::forward<F>(f));
}

// a + b and a * b that wrap around for integers (two's complement) instead of overflowing, which C++
// leaves undefined and hostile inputs reach.
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  else
    return a + b;
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>)
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  else
    return a * b;
}

// Error(kUnsupported) unless input i is one of the float types (float32, float64).
void require_float(const Builder& b, size_t i);

// An element-wise unary over one input of type T, written as type O: y[i] = f(x[i]).
template <typename T, typename O, typename F>
void emit_map(Builder& b, DType out_dtype, F f) {
  const Shape shape = b.input(0).shape;
  const int32_t in = b.input_plain(0), out = b.output(0, out_dtype, shape);
  const int64_t n = numel(shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const T* x = ctx.at<const T>(in);
    O* y = ctx.at<O>(out);
    for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
  });
}

// An element-wise binary with broadcasting: z = f(a, b), A and B the inputs' types, O the output's.
template <typename A, typename B, typename O, typename F>
void emit_zip(Builder& b, DType out_dtype, F f) {
  const Shape shape = broadcast_inputs(b);
  const BroadcastIndexer ix(shape, {b.input(0).shape, b.input(1).shape});
  const int32_t sa = b.input_plain(0), sb = b.input_plain(1), so = b.output(0, out_dtype, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const A* x = ctx.at<const A>(sa);
    const B* y = ctx.at<const B>(sb);
    O* z = ctx.at<O>(so);
    ix.for_each([&](int64_t i, const int64_t* o) { z[i] = f(x[o[0]], y[o[1]]); });
  });
}

}  // namespace edgeq::runtime::detail
