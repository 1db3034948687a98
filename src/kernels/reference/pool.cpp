// Reference pooling NHWC, ONNX semantics (see Pool2dParams in kernels.h).
#include <limits>

#include "edgeq/kernels.h"
#include "kernels/validate.h"

namespace edgeq::kernels::ref {

namespace {
// Max over T (f32, u8); average f32 only.
template <typename T, bool kMax>
void pool2d(const Pool2dParams& p, const T* input, T* output, int64_t row_begin, int64_t row_end) {
  detail::check_pool2d(p, row_begin, row_end);
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t n = row / p.out_h;
    const int64_t oh = row % p.out_h;
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      T* out = output + (row * p.out_w + ow) * p.channels;
      for (int64_t c = 0; c < p.channels; ++c) {
        double sum = 0.0;
        T best = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                      : std::numeric_limits<T>::lowest();
        int64_t inside = 0, inside_padded = 0;
        for (int64_t kh = 0; kh < p.kernel_h; ++kh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih >= p.in_h + p.pad_bottom) continue;  // beyond the padded input (ceil_mode windows)
          for (int64_t kw = 0; kw < p.kernel_w; ++kw) {
            const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
            if (iw >= p.in_w + p.pad_right) continue;
            ++inside_padded;
            if (ih < 0 || ih >= p.in_h || iw < 0 || iw >= p.in_w) continue;
            ++inside;
            const T v = input[((n * p.in_h + ih) * p.in_w + iw) * p.channels + c];
            sum += v;
            if (v > best || v != v) best = v;  // NaN propagates like ONNX's reference
          }
        }
        if constexpr (kMax) {
          out[c] = best;
        } else {
          const int64_t count = p.count_include_pad ? inside_padded : inside;
          out[c] = count > 0 ? static_cast<float>(sum / static_cast<double>(count)) : 0.0f;
        }
      }
    }
  }
}
}  // namespace

void max_pool2d_f32_nhwc(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  pool2d<float, true>(p, in, out, row_begin, row_end);
}

void max_pool2d_u8_nhwc(const Pool2dParams& p, const uint8_t* in, uint8_t* out, int64_t row_begin,
                        int64_t row_end) {
  pool2d<uint8_t, true>(p, in, out, row_begin, row_end);
}

void avg_pool2d_f32_nhwc(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  pool2d<float, false>(p, in, out, row_begin, row_end);
}

void global_avg_pool_f32_nhwc(const float* input, float* output, int64_t spatial, int64_t channels, int64_t n_begin,
                              int64_t n_end) {
  for (int64_t n = n_begin; n < n_end; ++n) {
    for (int64_t c = 0; c < channels; ++c) {
      double sum = 0.0;
      for (int64_t s = 0; s < spatial; ++s) sum += input[(n * spatial + s) * channels + c];
      output[n * channels + c] = static_cast<float>(sum / static_cast<double>(spatial));
    }
  }
}

void qlinear_global_avg_pool_u8_nhwc(const uint8_t* input, uint8_t* output, int64_t spatial, int64_t channels,
                                     int32_t input_zero_point, float multiplier, int32_t output_zero_point, int64_t n_begin,
                                     int64_t n_end) {
  detail::check_qlinear_global_avg_pool(spatial, channels, n_begin, n_end);
  const int32_t bias = -input_zero_point * static_cast<int32_t>(spatial);
  for (int64_t n = n_begin; n < n_end; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      int32_t acc = bias;
      for (int64_t s = 0; s < spatial; ++s) acc += input[(n * spatial + s) * channels + c];
      output[n * channels + c] = requantize_u8(acc, multiplier, output_zero_point, 0, 255);
    }
}

}  // namespace edgeq::kernels::ref
