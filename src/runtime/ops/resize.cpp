// Resize (nearest, n-linear and cubic; every coordinate_transformation_mode and nearest_mode of
// opset 10-17) and the older Upsample. Per output dim the source indices and weights are
// precomputed at compile time; the kernel only gathers. A channels-last image resized in height and
// width only (the upsampling of FPNs, U-Nets, segmentation heads) runs per output pixel over whole
// channel rows (ResizeNhwcKernel): the same taps, weights and summation order, so the same bits.
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

// Per output dim, each output index reads a few source rows ("taps": 1 nearest, 2 linear, 4 cubic)
// with weights; the kernel sums the products of the dims' taps. Zero-weight taps are dropped here.
struct AxisMap {
  std::vector<int64_t> begin{0};  // taps of output index o: [begin[o], begin[o + 1])
  std::vector<int64_t> offset;    // the tap's source index times the input stride of this dim
  std::vector<float> weight;
  std::vector<uint8_t> outside;   // tf_crop_and_resize: use extrapolation_value
};

class ResizeKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  Shape out_shape;
  std::vector<AxisMap> axes;
  float extrapolation = 0.f;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const size_t r = out_shape.size();
    const int64_t total = numel(out_shape);
    int64_t idx[8], tap[8];
    for (int64_t o = 0; o < total; ++o) {
      int64_t rem = o;
      bool outside = false;
      for (size_t d = r; d-- > 0;) {
        idx[d] = rem % out_shape[d];
        rem /= out_shape[d];
        if (axes[d].outside[idx[d]]) outside = true;
      }
      if (outside) {
        y[o] = extrapolation;
        continue;
      }
      for (size_t d = 0; d < r; ++d) tap[d] = axes[d].begin[idx[d]];
      float acc = 0.f;
      while (true) {  // every combination of the dims' taps (an odometer, last dim fastest)
        float w = 1.f;
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) {
          w *= axes[d].weight[tap[d]];
          off += axes[d].offset[tap[d]];
        }
        acc += w * x[off];
        size_t d = r;
        while (d-- > 0 && ++tap[d] == axes[d].begin[idx[d] + 1]) tap[d] = axes[d].begin[idx[d]];
        if (d == static_cast<size_t>(-1)) break;
      }
      y[o] = acc;
    }
  }
};

// Batch and channels kept, height and width resized, NHWC in and out: output pixel (n, oh, ow) is the
// weighted sum of the input pixels of its row taps x column taps, one channel row at a time. The sum
// starts from 0 and adds (w_row * w_col) * x tap by tap in ResizeKernel's order (rows outer).
class ResizeNhwcKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  AxisMap rows, cols;  // offsets here are source row / column indices
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const int64_t c_n = channels;
    run_row_tasks(ctx, batch * out_h, 1, [&](int64_t row_begin, int64_t row_end, int64_t) {
      for (int64_t row = row_begin; row < row_end; ++row) {
        const int64_t n = row / out_h, oh = row % out_h;
        for (int64_t ow = 0; ow < out_w; ++ow) {
          float* dst = y + ((n * out_h + oh) * out_w + ow) * c_n;
          const int64_t r0 = rows.begin[oh], r1 = rows.begin[oh + 1], q0 = cols.begin[ow], q1 = cols.begin[ow + 1];
          if (r1 - r0 == 1 && q1 - q0 == 1 && rows.weight[r0] == 1.f && cols.weight[q0] == 1.f) {
            // One tap of weight 1 (nearest): 0 + 1 * x is x, for -0 too once added to +0; copy it.
            const float* src = x + ((n * in_h + rows.offset[r0]) * in_w + cols.offset[q0]) * c_n;
            for (int64_t c = 0; c < c_n; ++c) dst[c] = 0.f + src[c];
            continue;
          }
          for (int64_t c = 0; c < c_n; ++c) dst[c] = 0.f;
          for (int64_t i = r0; i < r1; ++i)
            for (int64_t j = q0; j < q1; ++j) {
              const float w = rows.weight[i] * cols.weight[j];
              const float* src = x + ((n * in_h + rows.offset[i]) * in_w + cols.offset[j]) * c_n;
              for (int64_t c = 0; c < c_n; ++c) dst[c] += w * src[c];
            }
        }
      }
    });
  }
};

// Whether dim d of the map reads output index o from input index o with weight 1, for every o.
bool identity_axis(const AxisMap& m, int64_t len, int64_t stride) {
  if (static_cast<int64_t>(m.begin.size()) != len + 1) return false;
  for (int64_t o = 0; o < len; ++o)
    if (m.begin[o + 1] - m.begin[o] != 1 || m.offset[m.begin[o]] != o * stride || m.weight[m.begin[o]] != 1.f) return false;
  return true;
}

double nearest_index(double xo, const std::string& mode, const Builder& b) {
  if (mode == "floor") return std::floor(xo);
  if (mode == "ceil") return std::ceil(xo);
  const bool half = xo - std::floor(xo) == 0.5;
  if (mode == "round_prefer_ceil") return half ? std::ceil(xo) : std::round(xo);
  if (mode == "round_prefer_floor") return half ? std::floor(xo) : std::round(xo);
  b.unsupported("nearest_mode '" + mode + "'");
}

}  // namespace

namespace {
void compile_resize_or_upsample(Builder& b, bool upsample) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kF32});
  const Value& x = b.input(0);
  const size_t r = x.shape.size();
  if (r == 0 || r > 8) b.unsupported("rank " + std::to_string(r));
  if (numel(x.shape) == 0) b.unsupported("an empty input");
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear" && mode != "cubic") b.invalid("mode '" + mode + "' is not nearest, linear or cubic");
  std::string ctm = node.attr_string("coordinate_transformation_mode", b.opset() < 11 ? "asymmetric" : "half_pixel");
  // Upsample (opset 7-9) picks the source pixel by flooring.
  const std::string nearest_mode =
      upsample ? "floor" : node.attr_string("nearest_mode", b.opset() < 11 ? "round_prefer_ceil" : "round_prefer_floor");
  if (b.opset() < 11) ctm = "asymmetric";
  static const char* kModes[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find(std::begin(kModes), std::end(kModes), ctm) == std::end(kModes)) b.unsupported("coordinate_transformation_mode '" + ctm + "'");

  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<float> roi;
  if (upsample && b.opset() < 9) {
    scales = node.attr_floats("scales");
  } else if (b.opset() < 11) {
    scales = tensor_to_f32(b.require_constant(1, "scales"));
  } else {
    if (b.has_input(1) && ctm == "tf_crop_and_resize") roi = tensor_to_f32(b.require_constant(1, "roi"));
    if (b.has_input(2)) scales = tensor_to_f32(b.require_constant(2, "scales"));
    if (b.has_input(3)) sizes = tensor_to_i64(b.require_constant(3, "sizes"));
  }
  if (!sizes.empty() && !scales.empty()) b.invalid("scales and sizes are both given");
  Shape out(r);
  std::vector<double> scale(r);
  if (!sizes.empty()) {
    if (sizes.size() != r) b.invalid("sizes must have one value per dim");
    for (size_t d = 0; d < r; ++d) {
      out[d] = sizes[d];
      scale[d] = x.shape[d] == 0 ? 1.0 : static_cast<double>(sizes[d]) / static_cast<double>(x.shape[d]);
    }
  } else {
    if (scales.size() != r) b.invalid("scales must have one value per dim");
    for (size_t d = 0; d < r; ++d) {
      if (scales[d] <= 0) b.invalid("scales must be positive");
      scale[d] = scales[d];
      out[d] = static_cast<int64_t>(std::floor(static_cast<double>(x.shape[d]) * scales[d]));
    }
  }
  if (ctm == "tf_crop_and_resize" && roi.size() != 2 * r) b.invalid("roi must have 2 * rank values");

  auto k = std::make_unique<ResizeKernel>();
  k->extrapolation = node.attr_float("extrapolation_value", 0.f);
  k->out_shape = out;
  const auto in_stride = strides_of(x.shape);
  const double cubic_a = node.attr_float("cubic_coeff_a", -0.75f);
  const bool exclude_outside = node.attr_int("exclude_outside", 0) != 0;
  for (size_t d = 0; d < r; ++d) {
    AxisMap m;
    const int64_t in_len = x.shape[d], out_len = out[d];
    const double s = scale[d];
    // The ONNX reference uses the unrounded output length scale * in (not the floored one) here.
    const double out_f = sizes.empty() ? s * static_cast<double>(in_len) : static_cast<double>(out_len);
    for (int64_t o = 0; o < out_len; ++o) {
      double xo = 0;  // source coordinate, as the ONNX reference computes it
      bool outside = false;
      if (ctm == "half_pixel") {
        xo = (o + 0.5) / s - 0.5;
      } else if (ctm == "pytorch_half_pixel") {
        xo = out_f > 1 ? (o + 0.5) / s - 0.5 : -0.5;
      } else if (ctm == "align_corners") {
        xo = out_f == 1 ? 0.0 : static_cast<double>(o) * (in_len - 1) / (out_f - 1);
      } else if (ctm == "asymmetric") {
        xo = o / s;
      } else if (ctm == "tf_half_pixel_for_nn") {
        xo = (o + 0.5) / s;
      } else {  // tf_crop_and_resize
        const double start = roi[d], end = roi[d + r];
        xo = out_f > 1 ? start * (in_len - 1) + o * (end - start) * (in_len - 1) / (out_f - 1)
                         : 0.5 * (start + end) * (in_len - 1);
        outside = xo < 0 || xo > in_len - 1;
      }
      if (!(xo > -1e12)) xo = -1e12;  // hostile scales or roi: keep the index casts defined (NaN too)
      if (xo > 1e12) xo = 1e12;
      // Source rows and weights; reads past the edge repeat the edge row (clamped).
      std::vector<std::pair<int64_t, double>> taps;
      if (mode == "linear") {
        const double f = std::floor(xo);
        taps = {{static_cast<int64_t>(f), 1 - (xo - f)}, {static_cast<int64_t>(f) + 1, xo - f}};
      } else if (mode == "cubic") {
        const double first = std::ceil(xo) - 2;  // for an integer xo the taps are xo-2..xo+1 (t = 1)
        const auto w = cubic_weights(xo - (first + 1), cubic_a);
        double sum = 0;
        for (int j = 0; j < 4; ++j) {
          const auto i = static_cast<int64_t>(first) + j;
          const bool in_range = i >= 0 && i < in_len;
          taps.emplace_back(i, exclude_outside && !in_range ? 0.0 : w[j]);
          sum += taps.back().second;
        }
        if (exclude_outside && sum != 0)
          for (auto& t : taps) t.second /= sum;
      } else {
        taps = {{static_cast<int64_t>(nearest_index(xo, nearest_mode, b)), 1.0}};
      }
      for (const auto& [i, w] : taps) {
        if (w == 0) continue;
        m.offset.push_back(std::clamp<int64_t>(i, 0, in_len - 1) * in_stride[d]);
        m.weight.push_back(static_cast<float>(w));
      }
      if (static_cast<int64_t>(m.offset.size()) == m.begin.back()) {  // all weights 0: read row 0 with weight 0
        m.offset.push_back(0);
        m.weight.push_back(0.f);
      }
      m.begin.push_back(static_cast<int64_t>(m.offset.size()));
      m.outside.push_back(outside ? 1 : 0);
    }
    k->axes.push_back(std::move(m));
  }
  bool any_outside = false;
  for (const auto& m : k->axes)
    for (uint8_t o : m.outside) any_outside = any_outside || o != 0;
  if (r == 4 && !x.is_constant() && x.layout == Layout::kNHWC && !any_outside && out[0] == x.shape[0] && out[1] == x.shape[1] &&
      identity_axis(k->axes[0], out[0], in_stride[0]) && identity_axis(k->axes[1], out[1], in_stride[1])) {
    auto nk = std::make_unique<ResizeNhwcKernel>();
    nk->batch = out[0];
    nk->channels = out[1];
    nk->in_h = x.shape[2];
    nk->in_w = x.shape[3];
    nk->out_h = out[2];
    nk->out_w = out[3];
    nk->rows = std::move(k->axes[2]);
    nk->cols = std::move(k->axes[3]);
    for (int64_t& o : nk->rows.offset) o /= in_stride[2];  // NCHW element offsets -> row indices
    nk->in = b.input_nhwc(0);
    nk->out = b.output(0, DType::kF32, out, Layout::kNHWC);
    nk->label = node.label() + " [nhwc]";
    b.emit(std::move(nk));
    return;
  }
  k->in = b.input_plain(0);
  k->out = b.output(0, DType::kF32, out);
  b.emit(std::move(k));
}

}  // namespace

void compile_resize(Builder& b) { compile_resize_or_upsample(b, false); }
void compile_upsample(Builder& b) { compile_resize_or_upsample(b, true); }

}  // namespace edgeq::runtime::detail
