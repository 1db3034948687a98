// Reference conv2d NHWC: the oracle. Plain loops over the ONNX OIHW weights, double accumulation so the
// oracle's own rounding error is far below the tolerance the optimized kernels are held to.
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/validate.h"

namespace edgeq::kernels::ref {

PackedConv2dF32 pack_conv2d_f32(const Conv2dFilter& filter, const float* weight_oihw, const float* bias, const Conv2dParams*) {
  detail::check_filter(filter);
  if (weight_oihw == nullptr) throw Error(ErrorCode::kInvalidArgument, "kernels: conv2d weights are null");
  const size_t weight_floats = static_cast<size_t>(filter.out_channels * (filter.in_channels / filter.groups) *
                                                   filter.kernel_h * filter.kernel_w);
  const size_t bias_floats = static_cast<size_t>(filter.out_channels);
  PackedConv2dF32 packed;
  packed.family = Family::kRef;
  packed.filter = filter;
  packed.storage_bytes = (weight_floats + bias_floats) * sizeof(float);
  packed.storage = aligned_alloc_shared(packed.storage_bytes);
  float* w = reinterpret_cast<float*>(packed.storage.get());
  float* b = w + weight_floats;
  std::memcpy(w, weight_oihw, weight_floats * sizeof(float));
  for (size_t i = 0; i < bias_floats; ++i) b[i] = bias ? bias[i] : 0.0f;
  packed.weights = w;
  packed.bias = b;
  packed.weight_floats = weight_floats;
  return packed;
}

int32_t conv2d_f32_packing(const Conv2dFilter&, const Conv2dParams&) { return 0; }

PackedConv2dF32 scale_conv2d_f32_input_channels(const PackedConv2dF32& packed, const float* scale, float* dst) {
  if (packed.weights == nullptr || scale == nullptr || dst == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: scale_conv2d_f32_input_channels needs packed weights, scale and dst");
  const Conv2dFilter& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups, cout_g = f.out_channels / f.groups, taps = f.kernel_h * f.kernel_w;
  for (int64_t co = 0; co < f.out_channels; ++co)  // OIHW: weight (co, ci_g, t) reads input channel g * cin_g + ci_g
    for (int64_t ci_g = 0; ci_g < cin_g; ++ci_g)
      for (int64_t t = 0; t < taps; ++t) {
        const int64_t i = (co * cin_g + ci_g) * taps + t;
        dst[i] = packed.weights[i] * scale[co / cout_g * cin_g + ci_g];
      }
  PackedConv2dF32 view = packed;
  view.storage.reset();
  view.storage_bytes = 0;
  view.weights = dst;
  return view;
}

size_t conv2d_f32_scratch_floats(const PackedConv2dF32&, const Conv2dParams&) { return 0; }

int64_t conv2d_f32_row_alignment(const PackedConv2dF32&, const Conv2dParams&) { return 1; }

void conv2d_f32_nhwc(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                     int64_t row_begin, int64_t row_end, float* /*scratch*/) {
  detail::check_conv2d(packed, p, Family::kRef, row_begin, row_end);
  const Conv2dFilter& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups;
  const int64_t cout_g = f.out_channels / f.groups;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t n = row / p.out_h;
    const int64_t oh = row % p.out_h;
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      float* out = output + ((n * p.out_h + oh) * p.out_w + ow) * f.out_channels;
      for (int64_t co = 0; co < f.out_channels; ++co) {
        const int64_t g = co / cout_g;
        double acc = packed.bias[co];
        for (int64_t kh = 0; kh < f.kernel_h; ++kh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.in_h) continue;
          for (int64_t kw = 0; kw < f.kernel_w; ++kw) {
            const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
            if (iw < 0 || iw >= p.in_w) continue;
            const float* in = input + ((n * p.in_h + ih) * p.in_w + iw) * f.in_channels + g * cin_g;
            const float* w = packed.weights + ((co * cin_g) * f.kernel_h + kh) * f.kernel_w + kw;
            for (int64_t ci = 0; ci < cin_g; ++ci)
              acc += static_cast<double>(in[ci]) * w[ci * f.kernel_h * f.kernel_w];
          }
        }
        out[co] = apply_activation(p.activation, static_cast<float>(acc));
      }
    }
  }
}

}  // namespace edgeq::kernels::ref
