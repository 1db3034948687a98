// Reference spectral operators (opset 17): DFT along an axis (forward / inverse, onesided, dft_length)
// and STFT (frames of a signal, optionally windowed). Plain O(N^2) transforms in double.
#include <cmath>
#include <complex>
#include <numbers>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

using Complex = std::complex<double>;

// out[k] = sum_n in[n] e^(-+2 pi i k n / length), k < out_len; in holds in_len values (zeros past it).
void transform(const std::vector<Complex>& in, int64_t length, bool inverse, int64_t out_len, std::vector<Complex>& out) {
  out.assign(static_cast<size_t>(out_len), Complex{});
  const double sign = inverse ? 1.0 : -1.0;
  const int64_t used = std::min<int64_t>(static_cast<int64_t>(in.size()), length);
  for (int64_t k = 0; k < out_len; ++k) {
    Complex acc{};
    for (int64_t n = 0; n < used; ++n) {
      const double angle = sign * 2 * std::numbers::pi * static_cast<double>((k * n) % length) / static_cast<double>(length);
      acc += in[n] * Complex(std::cos(angle), std::sin(angle));
    }
    out[k] = inverse ? acc / static_cast<double>(length) : acc;
  }
}

int64_t scalar_of(Builder& b, size_t i, const char* what) {
  const auto v = tensor_to_i64(b.require_constant(i, what));
  if (v.size() != 1) b.invalid(std::string(what) + " must be a scalar");
  return v[0];
}

// Signals are [..., 1] (real) or [..., 2] (complex): the last dim.
void check_signal(const Builder& b, const Shape& s) {
  if (s.size() < 2 || (s.back() != 1 && s.back() != 2)) b.invalid("the input's last dim must be 1 (real) or 2 (complex)");
}

constexpr int64_t kMaxLength = int64_t{1} << 24;

}  // namespace

void compile_dft(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape in = b.input(0).shape;
  check_signal(b, in);
  const int64_t r = static_cast<int64_t>(in.size()) - 1;  // the complex dim is not an axis
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 1), r, b);
  const bool inverse = b.node().attr_int("inverse", 0) != 0, onesided = b.node().attr_int("onesided", 0) != 0;
  const int64_t length = b.has_input(1) ? scalar_of(b, 1, "dft_length") : in[axis];
  if (length < 1 || length > kMaxLength) b.invalid("dft_length must be in [1, 2^24]");
  if (onesided && inverse) b.unsupported("onesided inverse DFT");
  const int64_t out_len = onesided ? length / 2 + 1 : length;
  Shape out = in;
  out[axis] = out_len;
  out.back() = 2;
  const AxisSplit sin = split_around(Shape(in.begin(), in.end() - 1), axis);
  const int64_t channels = in.back();
  const int32_t x = b.input_plain(0), y = b.output(0, DType::kF32, out);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* src = ctx.at<const float>(x);
    float* dst = ctx.at<float>(y);
    std::vector<Complex> line, spectrum;
    for (int64_t o = 0; o < sin.outer; ++o)
      for (int64_t i = 0; i < sin.inner; ++i) {
        line.assign(static_cast<size_t>(sin.len), Complex{});
        for (int64_t n = 0; n < sin.len; ++n) {
          const float* v = src + ((o * sin.len + n) * sin.inner + i) * channels;
          line[n] = Complex(v[0], channels == 2 ? v[1] : 0.f);
        }
        transform(line, length, inverse, out_len, spectrum);
        for (int64_t k = 0; k < out_len; ++k) {
          float* w = dst + ((o * out_len + k) * sin.inner + i) * 2;
          w[0] = static_cast<float>(spectrum[k].real());
          w[1] = static_cast<float>(spectrum[k].imag());
        }
      }
  });
}

// STFT(signal [B, L, 1|2], frame_step, window?, frame_length?) -> [B, frames, bins, 2].
void compile_stft(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape in = b.input(0).shape;
  check_signal(b, in);
  if (in.size() != 3) b.invalid("signal must be [batch, length, 1 or 2]");
  const int64_t step = scalar_of(b, 1, "frame_step");
  const Tensor* window = b.has_input(2) ? &b.require_constant(2, "window") : nullptr;
  int64_t frame = b.has_input(3) ? scalar_of(b, 3, "frame_length") : -1;
  if (window) {
    if (window->dtype() != DType::kF32 || window->shape().size() != 1) b.invalid("window must be a 1-D float32 tensor");
    if (frame >= 0 && frame != window->numel()) b.invalid("frame_length differs from the window's length");
    frame = window->numel();
  }
  if (frame < 1 || frame > in[1] || frame > kMaxLength) b.invalid("frame_length (or the window) must be in [1, signal length]");
  if (step < 1) b.invalid("frame_step must be positive");
  const bool onesided = b.node().attr_int("onesided", 1) != 0;
  const int64_t frames = (in[1] - frame) / step + 1, bins = onesided ? frame / 2 + 1 : frame, channels = in[2];
  std::vector<float> win(static_cast<size_t>(frame), 1.f);
  if (window) std::copy(window->data<float>(), window->data<float>() + frame, win.begin());
  const int32_t x = b.input_plain(0), y = b.output(0, DType::kF32, Shape{in[0], frames, bins, 2});
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* src = ctx.at<const float>(x);
    float* dst = ctx.at<float>(y);
    std::vector<Complex> line(static_cast<size_t>(frame)), spectrum;
    for (int64_t bt = 0; bt < in[0]; ++bt)
      for (int64_t f = 0; f < frames; ++f) {
        for (int64_t n = 0; n < frame; ++n) {
          const float* v = src + (bt * in[1] + f * step + n) * channels;
          line[n] = Complex(v[0], channels == 2 ? v[1] : 0.f) * static_cast<double>(win[n]);
        }
        transform(line, frame, false, bins, spectrum);
        for (int64_t k = 0; k < bins; ++k) {
          float* w = dst + ((bt * frames + f) * bins + k) * 2;
          w[0] = static_cast<float>(spectrum[k].real());
          w[1] = static_cast<float>(spectrum[k].imag());
        }
      }
  });
}

}  // namespace edgeq::runtime::detail
