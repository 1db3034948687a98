// hwy pooling NHWC (one TU, compiled once per Highway target; f32 max and average, u8 max): vectors
// along channels, the window clipped to the input once per output pixel.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/pool.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_POOL_ONCE_
#define EDGEQ_KERNELS_HWY_POOL_ONCE_
#include <algorithm>
#include <limits>
#include <type_traits>

#include "edgeq/kernels.h"
#include "kernels/validate.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Pool2dParams;

// Taps of one window along one axis: first tap index, tap count inside the input, and the count
// inside the padded input (for count_include_pad).
struct AxisWindow {
  int64_t first, count, padded_count;
};

// Division is slow (tens of cycles) and dilation is almost always 1.
HWY_INLINE int64_t FloorDiv(int64_t a, int64_t b) {
  if (b == 1) return a;
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Closed form (this runs once per output pixel, so no loop over taps).
HWY_INLINE AxisWindow ClipAxis(int64_t out, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation,
                               int64_t kernel, int64_t in) {
  const int64_t start = out * stride - pad_begin;  // input index of tap 0; >= -pad_begin
  const auto last_tap_below = [&](int64_t limit) {  // largest tap k with start + k * dilation < limit
    return std::min(kernel - 1, FloorDiv(limit - 1 - start, dilation));
  };
  const int64_t first = start >= 0 ? 0 : -FloorDiv(start, dilation);
  const int64_t last = last_tap_below(in);
  AxisWindow w;
  w.first = first;
  w.count = std::max<int64_t>(0, last - first + 1);
  w.padded_count = std::max<int64_t>(0, last_tap_below(in + pad_end) + 1);
  return w;
}

// Calls f(dv, c, valid) for vectors covering channels [c0, channels): whole vectors of the widest
// type, then 256-bit and 128-bit ones, then one partial 128-bit vector, so that u8 with 16 or 32
// channels (32 lanes on AVX2, 64 on AVX-512) does not take the partial-load path.
template <typename T, class F>
HWY_INLINE void ForEachChannelVector(int64_t c0, int64_t channels, const F& f) {
  const hn::ScalableTag<T> d;
  const hn::CappedTag<T, 32 / sizeof(T)> d256;
  const hn::CappedTag<T, 16 / sizeof(T)> d128;
  const int64_t lanes = static_cast<int64_t>(hn::MaxLanes(d));
  const int64_t lanes256 = static_cast<int64_t>(hn::MaxLanes(d256));
  const int64_t lanes128 = static_cast<int64_t>(hn::MaxLanes(d128));
  int64_t c = c0;
  for (; c + lanes <= channels; c += lanes) f(d, c, static_cast<size_t>(lanes));
  if (lanes256 > lanes128 && lanes > lanes256) {
    for (; c + lanes256 <= channels; c += lanes256) f(d256, c, static_cast<size_t>(lanes256));
  }
  for (; c + lanes128 <= channels; c += lanes128) f(d128, c, static_cast<size_t>(lanes128));
  if (c < channels) f(d128, c, static_cast<size_t>(channels - c));
}

// Max over a 2x2 window inside the input (the common pool after a conv): the four taps' vectors at
// once, no accumulation through the output.
template <typename T>
HWY_INLINE void Max2x2(const T* in, int64_t row_step, int64_t channels, T* out) {
  ForEachChannelVector<T>(0, channels, [&](auto dv, int64_t c, size_t valid) {
    const T* a = in + c;
    if (valid == hn::MaxLanes(dv)) {
      const auto top = hn::Max(hn::LoadU(dv, a), hn::LoadU(dv, a + channels));
      const auto bottom = hn::Max(hn::LoadU(dv, a + row_step), hn::LoadU(dv, a + row_step + channels));
      hn::StoreU(hn::Max(top, bottom), dv, out + c);
    } else {
      const auto top = hn::Max(LoadPartial(dv, a, valid), LoadPartial(dv, a + channels, valid));
      const auto bottom = hn::Max(LoadPartial(dv, a + row_step, valid), LoadPartial(dv, a + row_step + channels, valid));
      StorePartial(dv, hn::Max(top, bottom), out + c, valid);
    }
  });
}

// One pool for every element type T (max: f32 and u8; average: f32 only); vectors of T along channels.
template <typename T, bool kMax>
void Pool(const Pool2dParams& p, const T* input, T* output, int64_t row_begin, int64_t row_end) {
  static_assert(kMax || std::is_same_v<T, float>, "average pooling is f32 only");
  const hn::ScalableTag<T> d;
  const int64_t channels = p.channels;
  const int64_t lanes = static_cast<int64_t>(hn::MaxLanes(d));
  // Max starts below every value (an empty window, impossible with ONNX pads < kernel, gives it).
  const T init = kMax ? (std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                              : std::numeric_limits<T>::lowest())
                      : T{0};
  const auto combine = [](auto acc, auto x) {
    if constexpr (kMax) {
      return hn::Max(acc, x);
    } else {
      return hn::Add(acc, x);
    }
  };
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t n = row / p.out_h;
    const int64_t oh = row % p.out_h;
    const AxisWindow wh = ClipAxis(oh, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h, p.kernel_h, p.in_h);
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      const AxisWindow ww = ClipAxis(ow, p.stride_w, p.pad_left, p.pad_right, p.dilation_w, p.kernel_w, p.in_w);
      const int64_t count = p.count_include_pad ? wh.padded_count * ww.padded_count : wh.count * ww.count;
      const int64_t ih0 = oh * p.stride_h - p.pad_top + wh.first * p.dilation_h;
      const int64_t iw0 = ow * p.stride_w - p.pad_left + ww.first * p.dilation_w;
      T* out = output + (row * p.out_w + ow) * channels;
      if (kMax && p.kernel_h == 2 && p.kernel_w == 2 && p.dilation_h == 1 && p.dilation_w == 1 && wh.count == 2 &&
          ww.count == 2) {
        Max2x2(input + ((n * p.in_h + ih0) * p.in_w + iw0) * channels, p.in_w * channels, channels, out);
        continue;
      }
      // Whole vectors in blocks of up to 4, the window's taps reduced in registers. (Through the output
      // pixel in L1, taps outer, each tap's store fed the next tap's load of the same vector: a chain of
      // store-to-load forwards, ResNet's 3x3 stride-2 pool over 112x112x64 at 237 us against
      // onnxruntime's 161.) The first tap starts the sums, as the reference's sequential order does.
      const int64_t full = wh.count * ww.count > 0 ? channels / lanes * lanes : 0;
      const float scale = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;  // average only
      const auto whole_block = [&](auto vectors, int64_t c) {
        constexpr size_t kN = decltype(vectors)::value;
        hn::Vec<decltype(d)> acc[kN];
        const T* first = input + ((n * p.in_h + ih0) * p.in_w + iw0) * channels + c;
        for (size_t v = 0; v < kN; ++v) acc[v] = hn::LoadU(d, first + static_cast<int64_t>(v) * lanes);
        for (int64_t th = 0; th < wh.count; ++th) {
          const T* in_row = input + ((n * p.in_h + ih0 + th * p.dilation_h) * p.in_w) * channels + c;
          for (int64_t tw = th == 0 ? 1 : 0; tw < ww.count; ++tw) {
            const T* in = in_row + (iw0 + tw * p.dilation_w) * channels;
            for (size_t v = 0; v < kN; ++v) acc[v] = combine(acc[v], hn::LoadU(d, in + static_cast<int64_t>(v) * lanes));
          }
        }
        for (size_t v = 0; v < kN; ++v) {
          if constexpr (!kMax) acc[v] = hn::Mul(acc[v], hn::Set(d, scale));
          hn::StoreU(acc[v], d, out + c + static_cast<int64_t>(v) * lanes);
        }
      };
      int64_t c = 0;
      for (; c + 4 * lanes <= full; c += 4 * lanes) whole_block(std::integral_constant<size_t, 4>(), c);
      for (; c < full; c += lanes) whole_block(std::integral_constant<size_t, 1>(), c);
      // The channels past the whole vectors (and empty windows): one vector of `dv` at a time, reduced
      // over the taps in a register.
      const auto window_vector = [&](auto dv, int64_t c, size_t valid) {
        const bool whole = valid == hn::MaxLanes(dv);
        auto acc = hn::Set(dv, init);
        for (int64_t th = 0; th < wh.count; ++th) {
          const T* in_row = input + ((n * p.in_h + ih0 + th * p.dilation_h) * p.in_w) * channels + c;
          for (int64_t tw = 0; tw < ww.count; ++tw) {
            const T* in = in_row + (iw0 + tw * p.dilation_w) * channels;
            acc = combine(acc, whole ? hn::LoadU(dv, in) : LoadPartial(dv, in, valid));
          }
        }
        if constexpr (!kMax) acc = hn::Mul(acc, hn::Set(dv, scale));
        if (whole) {
          hn::StoreU(acc, dv, out + c);
        } else {
          StorePartial(dv, acc, out + c, valid);
        }
      };
      ForEachChannelVector<T>(full, channels, window_vector);
    }
  }
}

void MaxPool(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  Pool<float, true>(p, in, out, row_begin, row_end);
}
void MaxPoolU8(const Pool2dParams& p, const uint8_t* in, uint8_t* out, int64_t row_begin, int64_t row_end) {
  Pool<uint8_t, true>(p, in, out, row_begin, row_end);
}
void AvgPool(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  Pool<float, false>(p, in, out, row_begin, row_end);
}

void GlobalAvgPool(const float* input, float* output, int64_t spatial, int64_t channels, int64_t n_begin,
                   int64_t n_end) {
  const DF d;
  const int64_t lanes = static_cast<int64_t>(kLanes);
  const VF scale = hn::Set(d, 1.0f / static_cast<float>(spatial));
  for (int64_t n = n_begin; n < n_end; ++n) {
    const float* image = input + n * spatial * channels;
    for (int64_t c = 0; c < channels; c += lanes) {
      const size_t valid = static_cast<size_t>(std::min(lanes, channels - c));
      VF acc = hn::Zero(d);
      for (int64_t s = 0; s < spatial; ++s) {
        const float* in = image + s * channels + c;
        acc = hn::Add(acc, valid == kLanes ? hn::LoadU(d, in) : LoadPartial(in, valid));
      }
      acc = hn::Mul(acc, scale);
      if (valid == kLanes) {
        hn::StoreU(acc, d, output + n * channels + c);
      } else {
        StorePartial(acc, output + n * channels + c, valid);
      }
    }
  }
}

// int32 sums over the image along the channels (8-bit codes widened to int32 lanes), then requantize_u8's
// float product and rounding per lane: the same IEEE operations as ref.
void QLinearGlobalAvgPoolU8(const uint8_t* input, uint8_t* output, int64_t spatial, int64_t channels, int32_t input_zero_point,
                            float multiplier, int32_t output_zero_point, int64_t n_begin, int64_t n_end) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint8_t, DF> du8;
  const int64_t lanes = static_cast<int64_t>(kLanes);
  const auto bias = hn::Set(di, -input_zero_point * static_cast<int32_t>(spatial));
  const VF m = hn::Set(d, multiplier);
  const VF lo = hn::Set(d, static_cast<float>(-output_zero_point)), hi = hn::Set(d, static_cast<float>(255 - output_zero_point));
  const auto zp = hn::Set(di, output_zero_point);
  for (int64_t n = n_begin; n < n_end; ++n) {
    const uint8_t* image = input + n * spatial * channels;
    int64_t c = 0;
    for (; c + lanes <= channels; c += lanes) {
      auto acc = bias;
      for (int64_t s = 0; s < spatial; ++s) acc = hn::Add(acc, hn::PromoteTo(di, hn::LoadU(du8, image + s * channels + c)));
      const VF r = hn::Min(hn::Max(hn::Round(hn::Mul(hn::ConvertTo(d, acc), m)), lo), hi);
      hn::StoreU(hn::DemoteTo(du8, hn::Add(hn::ConvertTo(di, r), zp)), du8, output + n * channels + c);
    }
    if (c < channels) {
      // The last channels: ref's loop over a strided view would re-read the image; sum them here.
      for (; c < channels; ++c) {
        int32_t acc = -input_zero_point * static_cast<int32_t>(spatial);
        for (int64_t s = 0; s < spatial; ++s) acc += image[s * channels + c];
        output[n * channels + c] = edgeq::kernels::requantize_u8(acc, multiplier, output_zero_point, 0, 255);
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Pool2dParams;
HWY_EXPORT(MaxPool);
HWY_EXPORT(MaxPoolU8);
HWY_EXPORT(AvgPool);
HWY_EXPORT(GlobalAvgPool);
HWY_EXPORT(QLinearGlobalAvgPoolU8);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchMaxPool(const Pool2dParams& p, const float* in, float* out, int64_t b, int64_t e) {
  HWY_DYNAMIC_DISPATCH(MaxPool)(p, in, out, b, e);
}
void DispatchMaxPoolU8(const Pool2dParams& p, const uint8_t* in, uint8_t* out, int64_t b, int64_t e) {
  HWY_DYNAMIC_DISPATCH(MaxPoolU8)(p, in, out, b, e);
}
void DispatchAvgPool(const Pool2dParams& p, const float* in, float* out, int64_t b, int64_t e) {
  HWY_DYNAMIC_DISPATCH(AvgPool)(p, in, out, b, e);
}
void DispatchGlobalAvgPool(const float* in, float* out, int64_t spatial, int64_t channels, int64_t b, int64_t e) {
  HWY_DYNAMIC_DISPATCH(GlobalAvgPool)(in, out, spatial, channels, b, e);
}
void DispatchQLinearGlobalAvgPoolU8(const uint8_t* in, uint8_t* out, int64_t spatial, int64_t channels, int32_t xz, float m,
                                    int32_t yz, int64_t b, int64_t e) {
  HWY_DYNAMIC_DISPATCH(QLinearGlobalAvgPoolU8)(in, out, spatial, channels, xz, m, yz, b, e);
}
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

void max_pool2d_f32_nhwc(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  detail::check_pool2d(p, row_begin, row_end);
  edgeq_kernels_hwy::DispatchMaxPool(p, in, out, row_begin, row_end);
}

void max_pool2d_u8_nhwc(const Pool2dParams& p, const uint8_t* in, uint8_t* out, int64_t row_begin,
                        int64_t row_end) {
  detail::check_pool2d(p, row_begin, row_end);
  edgeq_kernels_hwy::DispatchMaxPoolU8(p, in, out, row_begin, row_end);
}

void avg_pool2d_f32_nhwc(const Pool2dParams& p, const float* in, float* out, int64_t row_begin, int64_t row_end) {
  detail::check_pool2d(p, row_begin, row_end);
  edgeq_kernels_hwy::DispatchAvgPool(p, in, out, row_begin, row_end);
}

void global_avg_pool_f32_nhwc(const float* in, float* out, int64_t spatial, int64_t channels, int64_t n_begin,
                              int64_t n_end) {
  if (spatial < 1 || channels < 1 || n_begin < 0 || n_begin > n_end)
    throw Error(ErrorCode::kInvalidArgument, "kernels: global_avg_pool needs spatial, channels >= 1");
  edgeq_kernels_hwy::DispatchGlobalAvgPool(in, out, spatial, channels, n_begin, n_end);
}

void qlinear_global_avg_pool_u8_nhwc(const uint8_t* in, uint8_t* out, int64_t spatial, int64_t channels, int32_t input_zero_point,
                                     float multiplier, int32_t output_zero_point, int64_t n_begin, int64_t n_end) {
  detail::check_qlinear_global_avg_pool(spatial, channels, n_begin, n_end);
  edgeq_kernels_hwy::DispatchQLinearGlobalAvgPoolU8(in, out, spatial, channels, input_zero_point, multiplier, output_zero_point,
                                                   n_begin, n_end);
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
