// ConvTranspose: any number of spatial dims, groups, dilations, strides, pads, auto_pad, output_padding
// and output_shape by the reference loop (each input pixel scatters kernel-weighted values into the
// output). The 2-D ungrouped case with constant weights (the upsampling layers of DBNet-style detectors
// and U-Nets) runs channels-last as a gemm and a scatter: per block of input pixels, the packed gemm
// gives every (kh, kw, output channel) product row of each pixel, and each (kh, kw) run of output
// channels is added to its output pixel.
#include <algorithm>
#include <cmath>
#include <cstring>

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

// Input pixels per gemm block: the block's product rows (pixels x kh * kw * out_c floats) stay near
// kGemmBlockBytes, so they are still in L2 when the scatter reads them back.
constexpr size_t kGemmBlockBytes = 256 * 1024;
// Fewer output channels than this are added in place without the kernel call (a 1-channel head's
// scatter made one call per output value).
constexpr int64_t kSimdAddChannels = 16;

// 2-D, group 1, constant W: NHWC in and out, y = bias, then per block of input pixels P = X . W' (W'
// is W as [in_c][kh][kw][out_c], packed once) and y[oh, ow, :] += P[pixel, (kh, kw), :] where
// (oh, ow) = (ih, iw) * stride + (kh, kw) * dilation - pad_begin falls inside the output.
class ConvTransposeGemmKernel final : public Kernel {
 public:
  kernels::PackedGemmF32 packed;
  std::vector<float> bias;  // out_c
  ConvTransposeGeometry g;
  int64_t block_pixels = 1;
  int32_t x = -1, y = -1, products = -1;

  void run(const ExecContext& ctx) const override {
    const float* xs = ctx.at<const float>(x);
    float* ys = ctx.at<float>(y);
    float* prod = ctx.at<float>(products);
    const int64_t in_h = g.in_sp[0], in_w = g.in_sp[1], out_h = g.out_sp[0], out_w = g.out_sp[1];
    const int64_t kh_n = g.kernel[0], kw_n = g.kernel[1], cout = g.out_c, cin = g.in_c;
    const int64_t cols = kh_n * kw_n * cout;
    for (int64_t n = 0; n < g.batch; ++n) {
      float* yn = ys + n * out_h * out_w * cout;
      for (int64_t px = 0; px < out_h * out_w; ++px) std::copy_n(bias.data(), cout, yn + px * cout);
      for (int64_t p0 = 0; p0 < in_h * in_w; p0 += block_pixels) {
        const int64_t rows = std::min(block_pixels, in_h * in_w - p0);
        const float* a = xs + (n * in_h * in_w + p0) * cin;
        const int64_t panels = (cols + kernels::kPanelChannels - 1) / kernels::kPanelChannels;
        if (ctx.threads() <= 1 || rows * cols * cin < 32768) {
          kernels::hwy::gemm_f32(packed, a, cin, prod, cols, {0, rows, 0, cols}, kernels::Activation::none());
        } else {
          ctx.parallel(panels, [&](int64_t pb, int64_t pe) {
            kernels::hwy::gemm_f32(packed, a, cin, prod, cols,
                                   {0, rows, pb * kernels::kPanelChannels, std::min(cols, pe * kernels::kPanelChannels)},
                                   kernels::Activation::none());
          });
        }
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t ih = (p0 + r) / in_w, iw = (p0 + r) % in_w;
          for (int64_t kh = 0; kh < kh_n; ++kh) {
            const int64_t oh = ih * g.stride[0] + kh * g.dilation[0] - g.pad_begin[0];
            if (oh < 0 || oh >= out_h) continue;
            for (int64_t kw = 0; kw < kw_n; ++kw) {
              const int64_t ow = iw * g.stride[1] + kw * g.dilation[1] - g.pad_begin[1];
              if (ow < 0 || ow >= out_w) continue;
              float* dst = yn + (oh * out_w + ow) * cout;
              const float* src = prod + r * cols + (kh * kw_n + kw) * cout;
              if (cout < kSimdAddChannels) {
                for (int64_t c = 0; c < cout; ++c) dst[c] += src[c];
              } else {
                kernels::hwy::add_f32(dst, src, dst, static_cast<size_t>(cout));
              }
            }
          }
        }
      }
    }
  }
};

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
  const Tensor* wconst = b.constant(1);
  const Tensor* bconst = b.has_input(2) ? b.constant(2) : nullptr;
  if (g.in_sp.size() == 2 && g.group == 1 && wconst && (!b.has_input(2) || bconst) && !b.input(0).is_constant()) {
    auto k = std::make_unique<ConvTransposeGemmKernel>();
    k->g = g;
    const int64_t taps = g.kernel[0] * g.kernel[1], cols = taps * g.out_c;
    k->packed = b.packed<kernels::PackedGemmF32>("conv_transpose_f32 " + std::to_string(g.in_c) + "x" + std::to_string(cols), {wconst}, [&] {
      // W [in_c][out_c][kh][kw] -> [in_c][kh][kw][out_c]: a (kh, kw) tap's output channels side by side.
      const float* w = wconst->data<float>();
      std::vector<float> kn(static_cast<size_t>(g.in_c * cols));
      for (int64_t c = 0; c < g.in_c; ++c)
        for (int64_t m = 0; m < g.out_c; ++m)
          for (int64_t t = 0; t < taps; ++t) kn[(c * taps + t) * g.out_c + m] = w[(c * g.out_c + m) * taps + t];
      return kernels::hwy::pack_gemm_f32(kn.data(), g.in_c, cols, kernels::BLayout::kKN, nullptr, 1.0f);
    });
    k->bias.assign(static_cast<size_t>(g.out_c), 0.f);
    if (bconst) std::copy_n(bconst->data<float>(), g.out_c, k->bias.begin());
    k->block_pixels = std::max<int64_t>(1, static_cast<int64_t>(kGemmBlockBytes / sizeof(float)) / cols);
    k->block_pixels = std::min(k->block_pixels, g.in_sp[0] * g.in_sp[1]);
    k->x = b.input_nhwc(0);
    k->y = b.output(0, DType::kF32, out, Layout::kNHWC);
    k->products = b.scratch(static_cast<size_t>(k->block_pixels * cols) * sizeof(float));
    k->label = b.node().label() + " [nhwc gemm " + std::to_string(g.in_c) + "x" + std::to_string(cols) + " + scatter]";
    b.emit(std::move(k));
    return;
  }
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
