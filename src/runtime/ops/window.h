// Sliding-window geometry shared by Conv and the pools: kernel, strides, dilations, pads from the
// ONNX attributes (auto_pad, ceil_mode) for a given input spatial shape.
#pragma once

#include <cstdint>
#include <vector>

#include "edgeq/kernels.h"
#include "runtime/builder.h"

namespace edgeq::runtime::detail {

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, in, out;
  size_t rank() const { return kernel.size(); }
};

// `spatial_in` = input dims after N, C; `kernel` from kernel_shape or the weight.
Window make_window(const Builder& b, const std::vector<int64_t>& spatial_in, const std::vector<int64_t>& kernel,
                   bool allow_ceil_mode);

// What a Conv-like node (Conv, ConvInteger, QLinearConv) is, from its input and weight: checked
// ranks, channels and groups, the window, the output shape.
struct ConvSetup {
  Window win;
  int64_t n = 0, c = 0, m = 0, groups = 1;
  Shape out_shape;
};
ConvSetup conv_setup(const Builder& b, const Value& x, const Value& w);

// The 2-D window fields kernels::Conv2dParams and kernels::Pool2dParams share.
template <typename Params>
void fill_window2d(Params& p, const Window& w) {
  p.in_h = w.in[0];
  p.in_w = w.in[1];
  p.out_h = w.out[0];
  p.out_w = w.out[1];
  p.stride_h = w.strides[0];
  p.stride_w = w.strides[1];
  p.pad_top = w.pad_begin[0];
  p.pad_left = w.pad_begin[1];
  p.pad_bottom = w.pad_end[0];
  p.pad_right = w.pad_end[1];
  p.dilation_h = w.dilations[0];
  p.dilation_w = w.dilations[1];
}

// The kernels module's parameters of a 2-D convolution over this window.
kernels::Conv2dParams conv2d_params(const Window& w, const kernels::Conv2dFilter& filter, int64_t batch,
                                    const kernels::Activation& activation);

// A window as fixed arrays of 3 spatial dims (missing leading dims are 1), for the plain NCHW loops.
struct Window3 {
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
  int64_t p[3] = {0, 0, 0}, pe[3] = {0, 0, 0};  // padding at the start and at the end
  Window3() = default;
  explicit Window3(const Window& w);
};

// A convolution in NCHW (1 to 3 spatial dims), for the plain direct loops that run what the
// channels-last kernels do not (float Conv, and the integer ConvInteger / QLinearConv).
struct ConvGeometry : Window3 {
  int64_t n = 0, c = 0, m = 0, groups = 1;
  ConvGeometry() = default;
  ConvGeometry(const Window& w, int64_t batch, int64_t in_channels, int64_t out_channels, int64_t group_count);
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
  int64_t in_size() const { return in[0] * in[1] * in[2]; }

  // Output plane nm = image * m + output channel: emit(position, init + sum of (x - x_zero) * (w - w_zero))
  // over the window's taps inside the input (padding contributes nothing, i.e. the zero point).
  template <typename Acc, typename TX, typename TW, typename Emit>
  void plane(const TX* X, const TW* W, int64_t nm, Acc init, Acc x_zero, Acc w_zero, Emit&& emit) const {
    const int64_t cg = c / groups, mg = m / groups;
    const int64_t in_sz = in_size(), k_sz = k[0] * k[1] * k[2];
    const int64_t img = nm / m, oc = nm % m, g = oc / mg;
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2) {
          Acc acc = init;
          for (int64_t ic = 0; ic < cg; ++ic) {
            const TX* xc = X + (img * c + g * cg + ic) * in_sz;
            const TW* wc = W + (oc * cg + ic) * k_sz;
            for (int64_t k0 = 0; k0 < k[0]; ++k0) {
              const int64_t i0 = o0 * s[0] - p[0] + k0 * d[0];
              if (i0 < 0 || i0 >= in[0]) continue;
              for (int64_t k1 = 0; k1 < k[1]; ++k1) {
                const int64_t i1 = o1 * s[1] - p[1] + k1 * d[1];
                if (i1 < 0 || i1 >= in[1]) continue;
                for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                  const int64_t i2 = o2 * s[2] - p[2] + k2 * d[2];
                  if (i2 < 0 || i2 >= in[2]) continue;
                  acc += (static_cast<Acc>(xc[(i0 * in[1] + i1) * in[2] + i2]) - x_zero) *
                         (static_cast<Acc>(wc[(k0 * k[1] + k1) * k[2] + k2]) - w_zero);
                }
              }
            }
          }
          emit((o0 * out[1] + o1) * out[2] + o2, acc);
        }
  }
};

}  // namespace edgeq::runtime::detail
