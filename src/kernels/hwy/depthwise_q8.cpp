// hwy int8 depthwise conv2d NHWC (kQ8MethodDepthwise, q8_plan.h: groups == in == out channels, 3x3 or
// 5x5, stride 1 or 2, dilation 1), exact, on every Highway target.
//   band image  u8 input rows with the padding = the input zero point's code (CopyBandU8, as kQuads), so
//               the taps need no bounds checks: a padded tap adds (zp - zp) * w = 0;
//   reduction   vectors along the channels (contiguous in NHWC): per tap, the u8 pixels zero-extended
//               to int32 times the tap's int32 weights, added; the sums start at
//               bias - zero_point * sum(w), so they end as bias + sum((x - zero_point) * w) mod 2^32,
//               exactly the reference's int32 sum (ring arithmetic, whatever wraps);
//   epilogue    StoreRequantized (q8-inl.h), the one every int8 method shares.
// Per 16-channel panel, the taps' weights and the initial sums are loaded once and every pixel of the
// band streams past (the band image stays in L1/L2).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/depthwise_q8.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/q8-inl.h"

#ifndef EDGEQ_KERNELS_HWY_DEPTHWISE_Q8_ONCE_
#define EDGEQ_KERNELS_HWY_DEPTHWISE_Q8_ONCE_
#include <algorithm>
#include <cstdint>

#include "edgeq/kernels.h"
#include "kernels/hwy/q8_plan.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;

// kVecs vectors of kLanes u8 pixels' channels, zero-extended to int32.
HWY_INLINE V32 LoadPixelsU8(const uint8_t* at) {
  const DI32 d32;
  return hn::PromoteTo(d32, hn::LoadU(hn::Rebind<uint8_t, DI32>(), at));
}

// Output rows [oh_begin, oh_end) of image n from the u8 band image (row 0 = input row
// oh_begin * stride_h - pad_top), kSize x kSize taps.
template <int64_t kSize>
void DepthwiseBand(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                   int32_t zero_point, const uint8_t* image, int64_t n, int64_t oh_begin, int64_t oh_end,
                   uint8_t* output) {
  constexpr int64_t kTaps = kSize * kSize;
  const DI32 d32;
  const int64_t channels = packed.filter.out_channels;
  const int64_t padded = (channels + kPanel - 1) / kPanel * kPanel;  // the packed weights' tap stride
  const int64_t pitch = plan.image_w * plan.image_c, step = p.stride_w * plan.image_c;
  const V32 zp = hn::Set(d32, zero_point);
  for (int64_t c0 = 0; c0 < channels; c0 += kPanel) {
    V32 w[kTaps][kVecs], init[kVecs];
    for (size_t v = 0; v < kVecs; ++v) {
      const int64_t c = c0 + static_cast<int64_t>(v * kLanes);
      for (int64_t t = 0; t < kTaps; ++t) w[t][v] = hn::LoadU(d32, packed.depthwise_weights + t * padded + c);
      init[v] = hn::Sub(hn::LoadU(d32, packed.bias + c), hn::Mul(zp, hn::LoadU(d32, packed.col_sums + c)));
    }
    const float* mult = packed.multipliers + c0;
    const size_t count = static_cast<size_t>(std::min<int64_t>(kPanel, channels - c0));
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const uint8_t* window = image + (oh - oh_begin) * p.stride_h * pitch + c0;
      uint8_t* out = output + (n * p.out_h + oh) * p.out_w * channels + c0;
      for (int64_t ow = 0; ow < p.out_w; ++ow, window += step, out += channels) {
        V32 acc[kVecs];
        for (size_t v = 0; v < kVecs; ++v) acc[v] = init[v];
        EDGEQ_UNROLL_ALL
        for (int64_t t = 0; t < kTaps; ++t) {
          const uint8_t* tap = window + (t / kSize) * pitch + (t % kSize) * plan.image_c;
          for (size_t v = 0; v < kVecs; ++v)
            acc[v] = hn::Add(acc[v], hn::Mul(LoadPixelsU8(tap + v * kLanes), w[t][v]));
        }
        StoreRequantized(acc, mult, rq, out, count);
      }
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// AVX512-VNNI (packed.quad_weights, pack_depthwise_q8): the window's rows at one column, 16 channels, as
// u8 quads of up to 4 rows (kSize 3: one quad, the 4th byte 0; kSize 5: rows 0-3 and row 4), so one
// vpdpbusd adds up to 4 taps of 16 channels; the plain path's vpmovzxbd + vpmulld + vpaddd per tap were
// 34 vector ops per 16 outputs of a 3x3. A quad is 16 bytes from each row put side by side, then one
// vpermb interleaves them channel by channel. Along an output row a column's quads serve kSize / stride
// outputs: they slide in registers, so stride 1 builds one new column per output.
template <int64_t kSize, int64_t kStride>
void DepthwiseQuadsBand(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                        int32_t zero_point, const uint8_t* image, int64_t n, int64_t oh_begin, int64_t oh_end,
                        uint8_t* output) {
  constexpr int64_t kGroups = (kSize + 3) / 4;
  const int64_t channels = packed.filter.out_channels;
  const int64_t pitch = plan.image_w * plan.image_c;
  constexpr int64_t sw = kStride;
  // Byte 4c + k of a quad vector <- byte 16k + c of the 4 rows side by side (rows past the group: zeros).
  alignas(64) static constexpr uint8_t kInterleave[64] = {
      0, 16, 32, 48, 1, 17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51, 4,  20, 36, 52, 5,  21, 37, 53,
      6, 22, 38, 54, 7, 23, 39, 55, 8,  24, 40, 56, 9,  25, 41, 57, 10, 26, 42, 58, 11, 27, 43, 59,
      12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  auto quad = [&](const uint8_t* at, int64_t g) {  // rows 4g.. of the column at `at` (the window's top row)
    const uint8_t* r = at + 4 * g * pitch;
    __m512i v = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
    if (4 * g + 1 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + pitch)), 1);
    if (4 * g + 2 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * pitch)), 2);
    if (4 * g + 3 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 3 * pitch)), 3);
    V32 q;
    q.raw = _mm512_permutexvar_epi8(interleave, v);
    return q;
  };
  for (int64_t c0 = 0; c0 < channels; c0 += kPanel) {
    const int64_t panel = c0 / static_cast<int64_t>(kPanel);
    V32 w[kGroups][kSize];
    for (int64_t g = 0; g < kGroups; ++g)
      for (int64_t j = 0; j < kSize; ++j)
        w[g][j] = hn::LoadU(DI32(), reinterpret_cast<const int32_t*>(packed.quad_weights + ((panel * kGroups + g) * kSize + j) * 64));
    const V32 init = QuadInit(packed.bias + c0, packed.col_sums + c0, zero_point);
    const float* mult = packed.multipliers + c0;
    const size_t count = static_cast<size_t>(std::min<int64_t>(kPanel, channels - c0));
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const uint8_t* top = image + (oh - oh_begin) * p.stride_h * pitch + c0;
      uint8_t* out = output + (n * p.out_h + oh) * p.out_w * channels + c0;
      V32 cols[kGroups][kSize];  // the window's columns: cols[g][j] = column ow * sw + j
      for (int64_t g = 0; g < kGroups; ++g)
        for (int64_t j = 0; j + sw < kSize; ++j) cols[g][j + sw] = quad(top + j * channels, g);
      for (int64_t ow = 0; ow < p.out_w; ++ow, out += channels) {
        EDGEQ_UNROLL_ALL
        for (int64_t g = 0; g < kGroups; ++g) {
          EDGEQ_UNROLL_ALL
          for (int64_t j = 0; j < kSize; ++j) {
            if (j + sw < kSize) {
              cols[g][j] = cols[g][j + sw];
            } else {
              cols[g][j] = quad(top + (ow * sw + j) * channels, g);
            }
          }
        }
        V32 acc[1] = {init};
        EDGEQ_UNROLL_ALL
        for (int64_t j = 0; j < kSize; ++j)
          EDGEQ_UNROLL_ALL
          for (int64_t g = 0; g < kGroups; ++g) acc[0] = MulAccQuad(acc[0], cols[g][j], w[g][j]);
        StoreRequantized(acc, mult, rq, out, count);
      }
    }
  }
}
#endif  // HWY_AVX3_DL

void Q8Depthwise(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const Q8ConvPlan& plan,
                 const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch) {
  const Q8Requant rq(q);
  uint8_t* image = static_cast<uint8_t*>(scratch);
  const int64_t size = packed.filter.kernel_h;
  HWY_ASSERT(size == 3 || size == 5);  // q8_depthwise_conv
  ForEachConvBand(p, plan, row_begin, row_end, 1, [&](int64_t n, int64_t b0, int64_t b1, int64_t ih0, int64_t rows) {
    CopyBandU8(p, plan, input, n, ih0, rows, q.input_zero_point, image);
#if HWY_TARGET == HWY_AVX3_DL
    if (packed.quad_weights) {
      const bool s1 = p.stride_w == 1;
      if (size == 3 && s1) DepthwiseQuadsBand<3, 1>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
      if (size == 3 && !s1) DepthwiseQuadsBand<3, 2>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
      if (size == 5 && s1) DepthwiseQuadsBand<5, 1>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
      if (size == 5 && !s1) DepthwiseQuadsBand<5, 2>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
      return;
    }
#endif
    HWY_ASSERT(packed.depthwise_weights != nullptr);  // quads are packed for AVX3_DL only (plan_conv2d_q8)
    if (size == 3) {
      DepthwiseBand<3>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
    } else {
      DepthwiseBand<5>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
    }
  });
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;
HWY_EXPORT(Q8Depthwise);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchQ8Depthwise(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                         const Q8ConvPlan& plan, const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8Depthwise)(packed, p, q, plan, in, out, b, e, scratch);
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
