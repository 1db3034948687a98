// Resize (nearest and n-linear; every coordinate_transformation_mode and nearest_mode of opset
// 10-17). Per output dim the source indices and weights are precomputed at compile time; the
// kernel only gathers. Cubic is reported unsupported.
#include <cmath>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

struct AxisMap {
  std::vector<int64_t> i0, i1;  // source indices (clamped)
  std::vector<float> w1;        // weight of i1 (linear); 0 for nearest
  std::vector<uint8_t> outside; // tf_crop_and_resize: use extrapolation_value
};

class ResizeKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  Shape in_shape, out_shape;
  std::vector<AxisMap> axes;
  bool linear = false;
  float extrapolation = 0.f;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const size_t r = out_shape.size();
    const auto ist = strides_of(in_shape);
    const int64_t total = numel(out_shape);
    int64_t idx[8];
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
      if (!linear) {
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) off += axes[d].i0[idx[d]] * ist[d];
        y[o] = x[off];
        continue;
      }
      float acc = 0.f;
      for (uint32_t corner = 0; corner < (1u << r); ++corner) {
        float w = 1.f;
        int64_t off = 0;
        for (size_t d = 0; d < r; ++d) {
          const bool hi = (corner >> d) & 1u;
          const float wd = hi ? axes[d].w1[idx[d]] : 1.f - axes[d].w1[idx[d]];
          if (wd == 0.f) {
            w = 0.f;
            break;
          }
          w *= wd;
          off += (hi ? axes[d].i1[idx[d]] : axes[d].i0[idx[d]]) * ist[d];
        }
        if (w != 0.f) acc += w * x[off];
      }
      y[o] = acc;
    }
  }
};

}  // namespace

void compile_resize(Builder& b) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kF32});
  const Value& x = b.input(0);
  const size_t r = x.shape.size();
  if (r == 0 || r > 8) b.unsupported("rank " + std::to_string(r));
  const std::string mode = node.attr_string("mode", "nearest");
  if (mode != "nearest" && mode != "linear") b.unsupported("mode '" + mode + "' (nearest and linear only)");
  std::string ctm = node.attr_string("coordinate_transformation_mode", b.opset() < 11 ? "asymmetric" : "half_pixel");
  const std::string nearest_mode = node.attr_string("nearest_mode", b.opset() < 11 ? "round_prefer_ceil" : "round_prefer_floor");
  if (b.opset() < 11) ctm = "asymmetric";
  static const char* kModes[] = {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"};
  if (std::find(std::begin(kModes), std::end(kModes), ctm) == std::end(kModes)) b.unsupported("coordinate_transformation_mode '" + ctm + "'");

  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<float> roi;
  if (b.opset() < 11) {
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
  k->linear = mode == "linear";
  k->extrapolation = node.attr_float("extrapolation_value", 0.f);
  k->in_shape = x.shape;
  k->out_shape = out;
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
      int64_t i0, i1;
      float w1 = 0.f;
      if (k->linear) {
        const double f = std::floor(xo);
        i0 = static_cast<int64_t>(f);
        i1 = i0 + 1;
        w1 = static_cast<float>(xo - f);
      } else {
        double v;
        if (nearest_mode == "floor")
          v = std::floor(xo);
        else if (nearest_mode == "ceil")
          v = std::ceil(xo);
        else if (nearest_mode == "round_prefer_ceil")
          v = (xo - std::floor(xo) == 0.5) ? std::ceil(xo) : std::round(xo);
        else if (nearest_mode == "round_prefer_floor")
          v = (xo - std::floor(xo) == 0.5) ? std::floor(xo) : std::round(xo);
        else
          b.unsupported("nearest_mode '" + nearest_mode + "'");
        i0 = i1 = static_cast<int64_t>(v);
      }
      m.i0.push_back(std::clamp<int64_t>(i0, 0, in_len - 1));
      m.i1.push_back(std::clamp<int64_t>(i1, 0, in_len - 1));
      m.w1.push_back(w1);
      m.outside.push_back(outside ? 1 : 0);
    }
    k->axes.push_back(std::move(m));
  }
  k->in = b.input_plain(0);
  k->out = b.output(0, DType::kF32, out);
  b.emit(std::move(k));
}

}  // namespace edgeq::runtime::detail
