// ConvTranspose, reference: any number of spatial dims, groups, dilations, strides, pads, auto_pad,
// output_padding and output_shape. Each input pixel scatters kernel-weighted values into the output.
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

struct ConvTransposeGeometry {
  int64_t batch = 0, in_c = 0, out_c = 0, group = 1;
  Shape in_sp, out_sp, kernel;
  std::vector<int64_t> stride, dilation, pad_begin;
};

// floor(a / 2) for negative a too (a total padding below zero trims nothing and pads the end).
int64_t floor_half(int64_t a) { return a >= 0 ? a / 2 : -((-a + 1) / 2); }

ConvTransposeGeometry geometry(const Builder& b) {
  const auto& node = b.node();
  const Shape xs = b.input(0).shape, ws = b.input(1).shape;
  if (xs.size() < 3 || ws.size() != xs.size()) b.invalid("X must have rank >= 3 and W the same rank");
  ConvTransposeGeometry g;
  const size_t k = xs.size() - 2;
  g.batch = xs[0];
  g.in_c = xs[1];
  g.group = node.attr_int("group", 1);
  if (g.group < 1 || g.in_c % g.group != 0 || ws[0] != g.in_c) b.invalid("W's first dim must be X's channels, divisible by group");
  g.out_c = ws[1] * g.group;
  g.in_sp.assign(xs.begin() + 2, xs.end());
  g.kernel.assign(ws.begin() + 2, ws.end());
  const auto ks = node.attr_ints("kernel_shape");
  if (!ks.empty() && Shape(ks.begin(), ks.end()) != g.kernel) b.invalid("kernel_shape does not match W");
  auto per_dim = [&](const char* name, int64_t def) {
    auto v = node.attr_ints(name);
    if (v.empty()) v.assign(k, def);
    if (v.size() != k) b.invalid(std::string(name) + " must have one value per spatial dim");
    return v;
  };
  g.stride = per_dim("strides", 1);
  g.dilation = per_dim("dilations", 1);
  const auto out_pad = per_dim("output_padding", 0);
  auto pads = node.attr_ints("pads");
  if (pads.empty()) pads.assign(2 * k, 0);
  if (pads.size() != 2 * k) b.invalid("pads must have two values per spatial dim");
  auto out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == k + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != k) b.invalid("output_shape must have one value per spatial dim");
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    b.invalid("auto_pad '" + auto_pad + "'");
  for (size_t d = 0; d < k; ++d) {
    if (g.stride[d] < 1 || g.dilation[d] < 1 || out_pad[d] < 0 || g.kernel[d] < 1) b.invalid("strides, dilations and kernel dims must be positive");
    const int64_t full = g.stride[d] * (g.in_sp[d] - 1) + out_pad[d] + (g.kernel[d] - 1) * g.dilation[d] + 1;
    if (!out_shape.empty() || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      // The spec's total padding, split with the extra one at the end (SAME_UPPER) or the start.
      const int64_t want = out_shape.empty() ? g.in_sp[d] * g.stride[d] : out_shape[d];
      const int64_t total = full - want;
      g.pad_begin.push_back(auto_pad == "SAME_UPPER" ? floor_half(total) : total - floor_half(total));
      g.out_sp.push_back(want);
    } else {
      const int64_t pb = auto_pad == "VALID" ? 0 : pads[d], pe = auto_pad == "VALID" ? 0 : pads[d + k];
      g.pad_begin.push_back(pb);
      g.out_sp.push_back(full - pb - pe);
    }
    if (g.out_sp[d] < 1) b.invalid("the output would be empty");
  }
  return g;
}

}  // namespace

void compile_conv_transpose(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  const ConvTransposeGeometry g = geometry(b);
  if (b.has_input(2)) {
    b.check_dtype(2, {DType::kF32});
    if (numel(b.input(2).shape) != g.out_c) b.invalid("B must have one value per output channel");
  }
  Shape out{g.batch, g.out_c};
  out.insert(out.end(), g.out_sp.begin(), g.out_sp.end());
  const int32_t x_slot = b.input_plain(0), w_slot = b.input_plain(1), b_slot = b.has_input(2) ? b.input_plain(2) : -1;
  const int32_t y_slot = b.output(0, DType::kF32, out);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(x_slot);
    const float* w = ctx.at<const float>(w_slot);
    float* y = ctx.at<float>(y_slot);
    const int64_t in_n = numel(g.in_sp), out_n = numel(g.out_sp), k_n = numel(g.kernel);
    const int64_t cin_g = g.in_c / g.group, cout_g = g.out_c / g.group;
    const size_t dims = g.in_sp.size();
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t m = 0; m < g.out_c; ++m) {
        float* yp = y + (n * g.out_c + m) * out_n;
        std::fill(yp, yp + out_n, b_slot >= 0 ? ctx.at<const float>(b_slot)[m] : 0.f);
      }
    std::vector<int64_t> ip(dims), kp(dims);
    for (int64_t n = 0; n < g.batch; ++n)
      for (int64_t c = 0; c < g.in_c; ++c) {
        const int64_t grp = c / cin_g;
        for (int64_t i = 0; i < in_n; ++i) {
          for (int64_t rem = i, d = static_cast<int64_t>(dims) - 1; d >= 0; --d) {
            ip[d] = rem % g.in_sp[d];
            rem /= g.in_sp[d];
          }
          const float xv = x[(n * g.in_c + c) * in_n + i];
          for (int64_t kk = 0; kk < k_n; ++kk) {
            int64_t o = 0;
            bool inside = true;
            for (int64_t rem = kk, d = static_cast<int64_t>(dims) - 1; d >= 0; --d) {
              kp[d] = rem % g.kernel[d];
              rem /= g.kernel[d];
            }
            for (size_t d = 0; d < dims && inside; ++d) {
              const int64_t pos = ip[d] * g.stride[d] + kp[d] * g.dilation[d] - g.pad_begin[d];
              inside = pos >= 0 && pos < g.out_sp[d];
              o = o * g.out_sp[d] + pos;
            }
            if (!inside) continue;
            for (int64_t ml = 0; ml < cout_g; ++ml) {
              const int64_t m = grp * cout_g + ml;
              y[(n * g.out_c + m) * out_n + o] += xv * w[(c * cout_g + ml) * k_n + kk];
            }
          }
        }
      }
  });
}

}  // namespace edgeq::runtime::detail
