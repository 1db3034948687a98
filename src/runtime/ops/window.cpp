#include "runtime/ops/window.h"

#include <string>

namespace edgeq::runtime::detail {

Window make_window(const Builder& b, const std::vector<int64_t>& spatial_in, const std::vector<int64_t>& kernel,
                   bool allow_ceil_mode) {
  const auto& node = b.node();
  const size_t r = spatial_in.size();
  Window w;
  w.kernel = kernel;
  w.in = spatial_in;
  if (w.kernel.size() != r) b.invalid("kernel_shape has " + std::to_string(w.kernel.size()) + " dims, input has " + std::to_string(r) + " spatial dims");
  w.strides = node.attr_ints("strides", std::vector<int64_t>(r, 1));
  w.dilations = node.attr_ints("dilations", std::vector<int64_t>(r, 1));
  if (w.strides.size() != r || w.dilations.size() != r) b.invalid("strides/dilations rank does not match the input");
  for (size_t i = 0; i < r; ++i)
    if (w.strides[i] < 1 || w.dilations[i] < 1 || w.kernel[i] < 1) b.invalid("kernel, strides and dilations must be >= 1");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool ceil_mode = node.attr_int("ceil_mode", 0) != 0;
  if (ceil_mode && !allow_ceil_mode) b.invalid("ceil_mode is not an attribute of this op");
  w.pad_begin.assign(r, 0);
  w.pad_end.assign(r, 0);
  w.out.assign(r, 0);
  if (auto_pad == "NOTSET") {
    auto pads = node.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
    if (pads.size() != 2 * r) b.invalid("pads must have " + std::to_string(2 * r) + " values");
    for (size_t i = 0; i < r; ++i) {
      w.pad_begin[i] = pads[i];
      w.pad_end[i] = pads[i + r];
      if (pads[i] < 0 || pads[i + r] < 0) b.unsupported("negative pads");
    }
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < r; ++i) {
      const int64_t out = (w.in[i] + w.strides[i] - 1) / w.strides[i];
      const int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + extent - w.in[i]);
      const int64_t small = total / 2;
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? small : total - small;
      w.pad_end[i] = total - w.pad_begin[i];
    }
  } else if (auto_pad != "VALID") {
    b.unsupported("auto_pad '" + auto_pad + "'");
  }
  for (size_t i = 0; i < r; ++i) {
    const int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
    const int64_t span = w.in[i] + w.pad_begin[i] + w.pad_end[i] - extent;
    if (span < 0) b.invalid("window larger than the padded input");
    int64_t out = span / w.strides[i] + 1;
    if (ceil_mode) {
      out = (span + w.strides[i] - 1) / w.strides[i] + 1;
      // As PyTorch and ONNX Runtime: the last window must start inside the input or left padding.
      if ((out - 1) * w.strides[i] >= w.in[i] + w.pad_begin[i]) --out;
    }
    w.out[i] = out;
  }
  return w;
}

ConvSetup conv_setup(const Builder& b, const Value& x, const Value& w) {
  if (x.shape.size() < 3 || x.shape.size() > 5) b.unsupported("input rank " + std::to_string(x.shape.size()) + " (1-D to 3-D convolutions only)");
  if (w.shape.size() != x.shape.size()) b.invalid("weight rank differs from input rank");
  ConvSetup cs;
  cs.groups = b.node().attr_int("group", 1);
  cs.n = x.shape[0];
  cs.c = x.shape[1];
  cs.m = w.shape[0];
  if (cs.groups < 1 || cs.c % cs.groups != 0 || cs.m % cs.groups != 0 || w.shape[1] * cs.groups != cs.c)
    b.invalid("channels " + std::to_string(cs.c) + " / group " + std::to_string(cs.groups) + " do not match weight " + shape_str(w.shape));
  const std::vector<int64_t> spatial(x.shape.begin() + 2, x.shape.end());
  const std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (auto ks = b.node().attr_ints("kernel_shape"); !ks.empty() && ks != kernel) b.invalid("kernel_shape does not match the weight");
  cs.win = make_window(b, spatial, kernel, false);
  cs.out_shape = {cs.n, cs.m};
  for (int64_t o : cs.win.out) cs.out_shape.push_back(o);
  return cs;
}

kernels::Conv2dParams conv2d_params(const Window& w, const kernels::Conv2dFilter& filter, int64_t batch,
                                    const kernels::Activation& activation) {
  kernels::Conv2dParams p;
  p.filter = filter;
  p.batch = batch;
  fill_window2d(p, w);
  p.activation = activation;
  return p;
}

Window3::Window3(const Window& w) {
  const size_t off = 3 - w.rank();
  for (size_t i = 0; i < w.rank(); ++i) {
    in[off + i] = w.in[i];
    out[off + i] = w.out[i];
    k[off + i] = w.kernel[i];
    s[off + i] = w.strides[i];
    d[off + i] = w.dilations[i];
    p[off + i] = w.pad_begin[i];
    pe[off + i] = w.pad_end[i];
  }
}

ConvGeometry::ConvGeometry(const Window& w, int64_t batch, int64_t in_channels, int64_t out_channels, int64_t group_count)
    : Window3(w), n(batch), c(in_channels), m(out_channels), groups(group_count) {}

}  // namespace edgeq::runtime::detail
