// RoiAlign (opset 10-16), reference: each region of interest pooled to output_height x output_width
// bins from sampling_ratio^2 bilinear samples per bin (average, or onnxruntime's max of the weighted
// corner values), in half_pixel or the older output_half_pixel coordinates.
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

struct RoiAlignParams {
  int64_t c = 0, h = 0, w = 0, out_h = 1, out_w = 1, sampling = 0;
  float scale = 1.f;
  bool half_pixel = true, max_mode = false;
};

// The four corners and weights of a bilinear sample at (y, x), as onnxruntime's RoiAlign takes them;
// false for a sample outside the map (it adds nothing).
bool sample_corners(double y, double x, int64_t h, int64_t w, int64_t idx[4], double wt[4]) {
  if (!(y >= -1.0 && y <= static_cast<double>(h) && x >= -1.0 && x <= static_cast<double>(w))) return false;
  y = std::max(y, 0.0);
  x = std::max(x, 0.0);
  int64_t y0 = static_cast<int64_t>(y), x0 = static_cast<int64_t>(x), y1, x1;
  if (y0 >= h - 1) {
    y0 = y1 = h - 1;
    y = static_cast<double>(y0);
  } else {
    y1 = y0 + 1;
  }
  if (x0 >= w - 1) {
    x0 = x1 = w - 1;
    x = static_cast<double>(x0);
  } else {
    x1 = x0 + 1;
  }
  const double ly = y - static_cast<double>(y0), lx = x - static_cast<double>(x0), hy = 1 - ly, hx = 1 - lx;
  idx[0] = y0 * w + x0;
  idx[1] = y0 * w + x1;
  idx[2] = y1 * w + x0;
  idx[3] = y1 * w + x1;
  wt[0] = hy * hx;
  wt[1] = hy * lx;
  wt[2] = ly * hx;
  wt[3] = ly * lx;
  return true;
}

// One output bin of one channel plane.
float pool_bin(const float* plane, const RoiAlignParams& p, const float* roi, int64_t ph, int64_t pw) {
  const double offset = p.half_pixel ? 0.5 : 0.0;
  const double x0 = roi[0] * p.scale - offset, y0 = roi[1] * p.scale - offset;
  double rw = roi[2] * p.scale - offset - x0, rh = roi[3] * p.scale - offset - y0;
  if (!p.half_pixel) {  // the old mode forces regions of at least one pixel
    rw = std::max(rw, 1.0);
    rh = std::max(rh, 1.0);
  }
  const double bin_h = rh / static_cast<double>(p.out_h), bin_w = rw / static_cast<double>(p.out_w);
  const auto grid = [&](double extent, int64_t bins) {
    const double g = p.sampling > 0 ? static_cast<double>(p.sampling) : std::ceil(extent / static_cast<double>(bins));
    return static_cast<int64_t>(std::clamp(g, 0.0, 1024.0));  // NaN or hostile extents: at most 1024
  };
  const int64_t gh = grid(rh, p.out_h), gw = grid(rw, p.out_w);
  const double count = static_cast<double>(std::max<int64_t>(gh * gw, 1));
  double acc = 0;
  bool any = false;
  for (int64_t iy = 0; iy < gh; ++iy)
    for (int64_t ix = 0; ix < gw; ++ix) {
      const double y = y0 + static_cast<double>(ph) * bin_h + (static_cast<double>(iy) + 0.5) * bin_h / static_cast<double>(gh);
      const double x = x0 + static_cast<double>(pw) * bin_w + (static_cast<double>(ix) + 0.5) * bin_w / static_cast<double>(gw);
      int64_t idx[4];
      double wt[4];
      if (!sample_corners(y, x, p.h, p.w, idx, wt)) continue;
      if (p.max_mode) {
        double v = wt[0] * plane[idx[0]];
        for (int k = 1; k < 4; ++k) v = std::max(v, wt[k] * plane[idx[k]]);
        acc = any ? std::max(acc, v) : v;
        any = true;
      } else {
        for (int k = 0; k < 4; ++k) acc += wt[k] * plane[idx[k]];
      }
    }
  return static_cast<float>(p.max_mode ? acc : acc / count);
}

}  // namespace

void compile_roi_align(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  b.check_dtype(2, {DType::kI64});
  const Shape xs = b.input(0).shape, rs = b.input(1).shape;
  if (xs.size() != 4 || rs.size() != 2 || rs[1] != 4 || b.input(2).shape != Shape{rs[0]})
    b.invalid("needs X [N, C, H, W], rois [R, 4] and batch_indices [R]");
  if (numel(xs) == 0) b.unsupported("an empty input");
  const auto& node = b.node();
  RoiAlignParams p;
  p.c = xs[1];
  p.h = xs[2];
  p.w = xs[3];
  p.out_h = node.attr_int("output_height", 1);
  p.out_w = node.attr_int("output_width", 1);
  p.sampling = node.attr_int("sampling_ratio", 0);
  p.scale = node.attr_float("spatial_scale", 1.f);
  if (p.out_h < 1 || p.out_w < 1 || p.sampling < 0) b.invalid("output_height/width must be positive and sampling_ratio >= 0");
  const std::string ctm = node.attr_string("coordinate_transformation_mode", b.opset() < 16 ? "output_half_pixel" : "half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel") b.invalid("coordinate_transformation_mode '" + ctm + "'");
  p.half_pixel = ctm == "half_pixel";
  const std::string mode = node.attr_string("mode", "avg");
  if (mode != "avg" && mode != "max") b.invalid("mode '" + mode + "' is not avg or max");
  p.max_mode = mode == "max";
  const int64_t n = xs[0], rois = rs[0];
  const int32_t x = b.input_plain(0), r = b.input_plain(1), bi = b.input_plain(2);
  const int32_t y = b.output(0, DType::kF32, Shape{rois, p.c, p.out_h, p.out_w});
  const std::string where = node.label();
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* xp = ctx.at<const float>(x);
    const float* roi = ctx.at<const float>(r);
    const int64_t* batch = ctx.at<const int64_t>(bi);
    float* out = ctx.at<float>(y);
    for (int64_t k = 0; k < rois; ++k) {
      if (batch[k] < 0 || batch[k] >= n) throw Error(ErrorCode::kInvalidArgument, where + ": batch index " + std::to_string(batch[k]) + " out of range");
      for (int64_t ch = 0; ch < p.c; ++ch)
        for (int64_t ph = 0; ph < p.out_h; ++ph)
          for (int64_t pw = 0; pw < p.out_w; ++pw)
            out[((k * p.c + ch) * p.out_h + ph) * p.out_w + pw] = pool_bin(xp + (batch[k] * p.c + ch) * p.h * p.w, p, roi + k * 4, ph, pw);
    }
  });
}

}  // namespace edgeq::runtime::detail
