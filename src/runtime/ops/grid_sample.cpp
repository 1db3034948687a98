// GridSample (opset 16), reference: bilinear, nearest and bicubic sampling of [N, C, H, W] at the
// normalized [-1, 1] (x, y) positions of a [N, Hout, Wout, 2] grid, with zeros / border / reflection
// padding and align_corners, computed as PyTorch's grid_sampler does (the ONNX test data's source).
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

enum class Padding { kZeros, kBorder, kReflection };
enum class Mode { kBilinear, kNearest, kBicubic };

struct Sampler {
  Mode mode = Mode::kBilinear;
  Padding padding = Padding::kZeros;
  bool align_corners = false;

  double unnormalize(double v, int64_t size) const {
    return align_corners ? (v + 1) / 2 * static_cast<double>(size - 1) : ((v + 1) * static_cast<double>(size) - 1) / 2;
  }
  // Reflects v into [low2 / 2, high2 / 2] (bounds given doubled, as PyTorch does).
  static double reflect(double v, double low2, double high2) {
    if (low2 == high2) return 0;
    const double lo = low2 / 2, span = (high2 - low2) / 2;
    v = std::fabs(v - lo);
    const double extra = std::fmod(v, span), flips = std::floor(v / span);
    return std::fmod(flips, 2) == 0 ? extra + lo : span - extra + lo;
  }
  // A source coordinate after border / reflection padding (zeros: unchanged).
  double pad(double v, int64_t size) const {
    const double hi = static_cast<double>(size - 1);
    if (padding == Padding::kBorder) return std::clamp(v, 0.0, hi);
    if (padding == Padding::kReflection) {
      v = align_corners ? reflect(v, 0, 2 * hi) : reflect(v, -1, 2 * static_cast<double>(size) - 1);
      return std::clamp(v, 0.0, hi);
    }
    return v;
  }
  // Pixel (x, y) of one plane, 0 outside it (and for coordinates no int64 holds).
  static float at(const float* plane, int64_t w, int64_t h, double x, double y) {
    if (!(x >= 0 && y >= 0 && x < static_cast<double>(w) && y < static_cast<double>(h))) return 0.f;
    return plane[static_cast<int64_t>(y) * w + static_cast<int64_t>(x)];
  }
  float sample(const float* plane, int64_t w, int64_t h, double gx, double gy) const {
    double x = unnormalize(gx, w), y = unnormalize(gy, h);
    if (!std::isfinite(x) || !std::isfinite(y)) return 0.f;
    if (mode == Mode::kBicubic) {  // padding applies to each of the 4 x 4 taps
      const double x0 = std::floor(x), y0 = std::floor(y);
      const auto wx = cubic_weights(x - x0, -0.75), wy = cubic_weights(y - y0, -0.75);
      double acc = 0;
      for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 4; ++i) acc += wx[i] * wy[j] * tap(plane, w, h, x0 - 1 + i, y0 - 1 + j);
      return static_cast<float>(acc);
    }
    x = pad(x, w);
    y = pad(y, h);
    if (mode == Mode::kNearest) return at(plane, w, h, std::nearbyint(x), std::nearbyint(y));
    const double x0 = std::floor(x), y0 = std::floor(y), tx = x - x0, ty = y - y0;
    return static_cast<float>((1 - tx) * (1 - ty) * at(plane, w, h, x0, y0) + tx * (1 - ty) * at(plane, w, h, x0 + 1, y0) +
                              (1 - tx) * ty * at(plane, w, h, x0, y0 + 1) + tx * ty * at(plane, w, h, x0 + 1, y0 + 1));
  }
  float tap(const float* plane, int64_t w, int64_t h, double x, double y) const {
    if (padding != Padding::kZeros) {
      x = pad(x, w);
      y = pad(y, h);
    }
    return at(plane, w, h, x, y);
  }
};

}  // namespace

void compile_grid_sample(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  const Shape xs = b.input(0).shape, gs = b.input(1).shape;
  if (xs.size() != 4 || gs.size() != 4 || gs[0] != xs[0] || gs[3] != 2) b.invalid("needs X [N, C, H, W] and grid [N, Hout, Wout, 2]");
  if (numel(xs) == 0) b.unsupported("an empty input");
  Sampler s;
  const std::string mode = b.node().attr_string("mode", "bilinear"), padding = b.node().attr_string("padding_mode", "zeros");
  if (mode == "bilinear") s.mode = Mode::kBilinear;
  else if (mode == "nearest") s.mode = Mode::kNearest;
  else if (mode == "bicubic") s.mode = Mode::kBicubic;
  else b.invalid("mode '" + mode + "' is not bilinear, nearest or bicubic");
  if (padding == "zeros") s.padding = Padding::kZeros;
  else if (padding == "border") s.padding = Padding::kBorder;
  else if (padding == "reflection") s.padding = Padding::kReflection;
  else b.invalid("padding_mode '" + padding + "' is not zeros, border or reflection");
  s.align_corners = b.node().attr_int("align_corners", 0) != 0;
  const int32_t in = b.input_plain(0), grid = b.input_plain(1), out = b.output(0, DType::kF32, Shape{xs[0], xs[1], gs[1], gs[2]});
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    const float* g = ctx.at<const float>(grid);
    float* y = ctx.at<float>(out);
    const int64_t c = xs[1], h = xs[2], w = xs[3], points = gs[1] * gs[2];
    for (int64_t n = 0; n < xs[0]; ++n)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t p = 0; p < points; ++p) {
          const float* gp = g + (n * points + p) * 2;
          y[(n * c + ch) * points + p] = s.sample(x + (n * c + ch) * h * w, w, h, gp[0], gp[1]);
        }
  });
}

}  // namespace edgeq::runtime::detail
