// Reference operators along one axis: CumSum and TopK; and the window functions (HannWindow,
// HammingWindow, BlackmanWindow) and MelWeightMatrix, compile-time constants of the sizes they are given.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

int64_t scalar_input(Builder& b, size_t i, const char* what) {
  const auto v = tensor_to_i64(b.require_constant(i, what));
  if (v.size() != 1) b.invalid(std::string(what) + " must be a scalar");
  return v[0];
}

enum class Window { kHann, kHamming, kBlackman };

void compile_window(Builder& b, Window w) {
  const int64_t size = scalar_input(b, 0, "size");
  if (size < 0 || size > (int64_t{1} << 27)) b.invalid("size must be in [0, 2^27]");
  const bool periodic = b.node().attr_int("periodic", 1) != 0;
  const int64_t to = b.node().attr_int("output_datatype", 1);
  if (!dtype_known(static_cast<int32_t>(to))) b.unsupported("output_datatype " + std::to_string(to));
  const double n = static_cast<double>(periodic ? size : size - 1);
  Tensor out(static_cast<DType>(to), Shape{size});
  const bool ok = dispatch_numeric(out.dtype(), [&]<typename T>() {
    T* p = static_cast<T*>(out.raw());
    for (int64_t i = 0; i < size; ++i) {
      const double a = 2 * std::numbers::pi * static_cast<double>(i) / n;
      double v = 0;
      switch (w) {
        case Window::kHann: v = 0.5 - 0.5 * std::cos(a); break;
        case Window::kHamming: v = 25.0 / 46.0 - (1 - 25.0 / 46.0) * std::cos(a); break;
        case Window::kBlackman: v = 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a); break;
      }
      p[i] = static_cast<T>(v);
    }
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(out.dtype()));
  b.output_constant(0, std::move(out));
}

}  // namespace

void compile_cum_sum(Builder& b) {
  const Shape shape = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(shape.size());
  if (r == 0) b.invalid("input must have rank >= 1");
  const AxisSplit s = split_around(shape, normalize_axis(scalar_input(b, 1, "axis"), r, b));
  const bool exclusive = b.node().attr_int("exclusive", 0) != 0, reverse = b.node().attr_int("reverse", 0) != 0;
  const DType dt = b.input(0).dtype;
  const bool ok = dispatch_numeric(dt, [&]<typename T>() {
    const int32_t in = b.input_plain(0), out = b.output(0, dt, shape);
    emit_closure(b, [=](const ExecContext& ctx) {
      const T* x = ctx.at<const T>(in);
      T* y = ctx.at<T>(out);
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i) {
          T acc = 0;
          for (int64_t step = 0; step < s.len; ++step) {
            const int64_t j = reverse ? s.len - 1 - step : step;
            const int64_t at = (o * s.len + j) * s.inner + i;
            if (exclusive) {
              y[at] = acc;
              acc = wrapping_add(acc, x[at]);
            } else {
              acc = wrapping_add(acc, x[at]);
              y[at] = acc;
            }
          }
        }
    });
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

// TopK: the k largest (or smallest) along the axis, sorted, equal values in index order.
void compile_top_k(Builder& b) {
  const Shape shape = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(shape.size());
  if (r == 0) b.invalid("input must have rank >= 1");
  const int64_t axis = normalize_axis(b.node().attr_int("axis", -1), r, b);
  const int64_t k = b.opset() < 10 ? b.node().attr_int("k", -1) : scalar_input(b, 1, "K");
  if (k < 0 || k > shape[axis]) b.invalid("k = " + std::to_string(k) + " is outside [0, " + std::to_string(shape[axis]) + "]");
  const bool largest = b.node().attr_int("largest", 1) != 0;
  const AxisSplit s = split_around(shape, axis);
  Shape out = shape;
  out[axis] = k;
  const DType dt = b.input(0).dtype;
  const bool ok = dispatch_numeric(dt, [&]<typename T>() {
    const int32_t in = b.input_plain(0), values = b.output(0, dt, out), indices = b.output(1, DType::kI64, out);
    emit_closure(b, [=](const ExecContext& ctx) {
      const T* x = ctx.at<const T>(in);
      T* v = ctx.at<T>(values);
      int64_t* ix = ctx.at<int64_t>(indices);
      std::vector<int64_t> order(static_cast<size_t>(s.len));
      for (int64_t o = 0; o < s.outer; ++o)
        for (int64_t i = 0; i < s.inner; ++i) {
          const T* row = x + o * s.len * s.inner + i;
          std::iota(order.begin(), order.end(), int64_t{0});
          std::stable_sort(order.begin(), order.end(), [&](int64_t p, int64_t q) {
            return largest ? row[q * s.inner] < row[p * s.inner] : row[p * s.inner] < row[q * s.inner];
          });
          for (int64_t j = 0; j < k; ++j) {
            const int64_t at = (o * k + j) * s.inner + i;
            v[at] = row[order[j] * s.inner];
            ix[at] = order[j];
          }
        }
    });
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

// MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters between mel-spaced bin edges,
// computed as the ONNX reference does (edges floored to spectrogram bins).
void compile_mel_weight_matrix(Builder& b) {
  const int64_t mels = scalar_input(b, 0, "num_mel_bins"), dft = scalar_input(b, 1, "dft_length"), rate = scalar_input(b, 2, "sample_rate");
  const auto lo = tensor_to_f32(b.require_constant(3, "lower_edge_hertz")), hi = tensor_to_f32(b.require_constant(4, "upper_edge_hertz"));
  if (mels < 1 || dft < 1 || rate < 1 || mels > (1 << 16) || dft > (1 << 24)) b.invalid("num_mel_bins, dft_length and sample_rate must be positive");
  if (lo.size() != 1 || hi.size() != 1 || !(lo[0] >= 0) || !(hi[0] >= lo[0])) b.invalid("the edges must be scalars with 0 <= lower <= upper");
  const int64_t to = b.node().attr_int("output_datatype", 1);
  if (!dtype_known(static_cast<int32_t>(to))) b.unsupported("output_datatype " + std::to_string(to));
  const int64_t bins = dft / 2 + 1;
  auto mel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  const double low = mel(lo[0]), step = (mel(hi[0]) - low) / static_cast<double>(mels + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mels + 2));
  for (int64_t i = 0; i < mels + 2; ++i) {
    const double hz = 700 * (std::pow(10.0, (static_cast<double>(i) * step + low) / 2595) - 1);
    edge[i] = static_cast<int64_t>(std::floor(static_cast<double>(dft + 1) * hz / static_cast<double>(rate)));
    if (edge[i] < 0 || edge[i] >= bins) b.invalid("upper_edge_hertz lies past the spectrogram's last bin");
  }
  std::vector<double> w(static_cast<size_t>(bins * mels), 0.0);
  for (int64_t i = 0; i < mels; ++i) {
    const int64_t left = edge[i], center = edge[i + 1], right = edge[i + 2];
    if (center == left) {
      w[center * mels + i] = 1;
    } else {
      for (int64_t j = left; j <= center; ++j) w[j * mels + i] = static_cast<double>(j - left) / static_cast<double>(center - left);
    }
    for (int64_t j = center; j < right; ++j) w[j * mels + i] = static_cast<double>(right - j) / static_cast<double>(right - center);
  }
  Tensor out(static_cast<DType>(to), Shape{bins, mels});
  const bool ok = dispatch_numeric(out.dtype(), [&]<typename T>() {
    for (size_t k = 0; k < w.size(); ++k) static_cast<T*>(out.raw())[k] = static_cast<T>(w[k]);
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(out.dtype()));
  b.output_constant(0, std::move(out));
}

void compile_hann_window(Builder& b) { compile_window(b, Window::kHann); }
void compile_hamming_window(Builder& b) { compile_window(b, Window::kHamming); }
void compile_blackman_window(Builder& b) { compile_window(b, Window::kBlackman); }

}  // namespace edgeq::runtime::detail
