// hwy int8 conv2d / gemm (u8 activations, s8 per-channel weights), one TU compiled per Highway target.
//
// Conv (kRows / kIm2col, see q8_plan.h): per band of output rows, the input rows it reads are widened
// once into scratch (int16 x - zero_point, padding = 0), then tiles of kQ8TileRows pixels x one
// 16-channel panel run the shared micro-kernel (q8-inl.h), reading each kernel row's run in place
// (kRows) or from per-tile im2col rows (kIm2col: grouped, dilated along w). The Winograd method lives in
// winograd_q8.cpp, the depthwise one in depthwise_q8.cpp.
// Gemm: rows of A widened per tile; int8 weights sign-extended in register (batch-1 fully-connected
// layers are weight-bandwidth bound), several panels at once when M = 1.
// Epilogue everywhere: exactly requantize_u8 (float multiply, round half to even, clamp, zero point).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/quantized.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/q8-inl.h"

#ifndef EDGEQ_KERNELS_HWY_QUANTIZED_ONCE_
#define EDGEQ_KERNELS_HWY_QUANTIZED_ONCE_
#include <algorithm>
#include <array>
#include <utility>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "edgeq/kernels.h"
#include "kernels/hwy/q8_plan.h"
#include "kernels/validate.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::PackedGemmQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;

#ifdef EDGEQ_Q8_PAIRWISE
// kRows with a short reduction (3x3 over one input channel: 3 runs of 2 pairs): per panel, pixels
// kSmallPixels at a time along each output row, the weights read as memory operands, the 6 products
// summed as a tree. The epilogue costs as much as the multiply-adds here, so the per-pixel chain
// (broadcast, multiply-add, requantize, pack) must overlap across pixels: interleaving them helps.
template <size_t kSegments, size_t kSegPairs>
void ConvBandSmallK(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                    const int16_t* image, int64_t n, int64_t oh_begin, int64_t oh_end, uint8_t* output) {
  constexpr size_t kPairs = kSegments * kSegPairs;
  // Independent pixels in flight: each pixel's sum is one chain of kPairs dependent multiply-adds, so
  // a 1-vector target (AVX-512: 16 channels per register) needs several pixels to hide the latency.
  constexpr int64_t kSmallPixels = kVecs == 1 ? 6 : 2;
  const DI32 d32;
  const int64_t cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  const int64_t pitch = plan.image_w * plan.image_c;
  const int64_t seg_stride = p.dilation_h * pitch, step = p.stride_w * plan.image_c;
  for (int64_t panel = 0; panel < panels; ++panel) {
    const int16_t* w = packed.weights + panel * packed.k_padded * static_cast<int64_t>(kPanel);
    const int32_t* bias = packed.bias + panel * kPanel;
    const float* mult = packed.multipliers + panel * kPanel;
    const size_t channels = static_cast<size_t>(std::min<int64_t>(kPanel, cout - panel * kPanel));
    auto pixels = [&](auto count, const int16_t* a, uint8_t* out) {
      constexpr size_t kCount = decltype(count)::value;
      V32 acc[kCount][kVecs];
      for (size_t x = 0; x < kCount; ++x)
        for (size_t v = 0; v < kVecs; ++v) acc[x][v] = hn::LoadU(d32, bias + v * kLanes);
      // Fully unrolled (GCC -O2 keeps a 6-step loop rolled, and its vectors then live on the stack).
      EDGEQ_UNROLL_ALL
      for (size_t k = 0; k < kPairs; ++k) {
        const int64_t offset = static_cast<int64_t>(k / kSegPairs) * seg_stride + 2 * static_cast<int64_t>(k % kSegPairs);
        for (size_t x = 0; x < kCount; ++x)
          for (size_t v = 0; v < kVecs; ++v)
            acc[x][v] = MulAccPair(acc[x][v], a + static_cast<int64_t>(x) * step + offset,
                                   LoadPairs(w + k * 2 * kPanel + v * 2 * kLanes));
      }
      for (size_t x = 0; x < kCount; ++x) StoreRequantized(acc[x], mult, rq, out + static_cast<int64_t>(x) * cout, channels);
    };
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const int16_t* a = image + (oh - oh_begin) * p.stride_h * pitch;
      uint8_t* out = output + ((n * p.out_h + oh) * p.out_w) * cout + panel * kPanel;
      int64_t ow = 0;
      for (; ow + kSmallPixels <= p.out_w; ow += kSmallPixels)
        pixels(std::integral_constant<size_t, kSmallPixels>(), a + ow * step, out + ow * cout);
      for (; ow < p.out_w; ++ow) pixels(std::integral_constant<size_t, 1>(), a + ow * step, out + ow * cout);
    }
  }
}
#endif

#if defined(EDGEQ_Q8_PAIRWISE) && HWY_TARGET == HWY_AVX2
// 3x3 over one input channel (q8_row_pair_filter), AVX2: 5 pairs per window (3 from the row-pair image
// for kernel rows 0 and 1, 2 from kernel row 2, the last one's second weight 0), the panel's 10 weight
// vectors in registers, one pixel per step: broadcasts, 10 multiply-adds, a sum tree, the epilogue.
void ConvBandRowPairs(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                      const int16_t* image, int32_t* row_pairs, int64_t n, int64_t oh_begin, int64_t oh_end,
                      uint8_t* output) {
  const DI32 d32;
  const DI16 d16;
  const int64_t cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  const int64_t w_img = plan.image_w, dh = p.dilation_h, s = p.stride_w;
  const int64_t in_rows = (oh_end - oh_begin - 1) * p.stride_h + 2 * dh + 1;
  for (int64_t i = 0; i + dh < in_rows; ++i)  // rows the first two kernel rows start at
    for (int64_t j = 0; j < w_img; ++j)
      row_pairs[i * w_img + j] = static_cast<int32_t>(static_cast<uint16_t>(image[i * w_img + j]) |
                                                      (static_cast<uint32_t>(static_cast<uint16_t>(image[(i + dh) * w_img + j])) << 16));
  for (int64_t panel = 0; panel < panels; ++panel) {
    // Re-pair the packed [kh][2 pairs][16][2] weights: (w0j, w1j) for j < 3, (w20, w21), (w22, 0).
    const int16_t* src = packed.weights + panel * packed.k_padded * static_cast<int64_t>(kPanel);
    auto tap = [&](int64_t kh, int64_t kw, int64_t lane) { return src[(kh * 2 + kw / 2) * 2 * kPanel + lane * 2 + kw % 2]; };
    HWY_ALIGN int16_t wp[5][2 * kPanel];
    for (int64_t lane = 0; lane < static_cast<int64_t>(kPanel); ++lane) {
      for (int64_t kw = 0; kw < 3; ++kw) {
        wp[kw][2 * lane] = tap(0, kw, lane);
        wp[kw][2 * lane + 1] = tap(1, kw, lane);
      }
      wp[3][2 * lane] = tap(2, 0, lane);
      wp[3][2 * lane + 1] = tap(2, 1, lane);
      wp[4][2 * lane] = tap(2, 2, lane);
      wp[4][2 * lane + 1] = 0;
    }
    const V16 w0a = hn::Load(d16, wp[0]), w0b = hn::Load(d16, wp[0] + 16);
    const V16 w1a = hn::Load(d16, wp[1]), w1b = hn::Load(d16, wp[1] + 16);
    const V16 w2a = hn::Load(d16, wp[2]), w2b = hn::Load(d16, wp[2] + 16);
    const V16 w3a = hn::Load(d16, wp[3]), w3b = hn::Load(d16, wp[3] + 16);
    const V16 w4a = hn::Load(d16, wp[4]), w4b = hn::Load(d16, wp[4] + 16);
    const int32_t* bias = packed.bias + panel * kPanel;
    const V32 bias_a = hn::LoadU(d32, bias), bias_b = hn::LoadU(d32, bias + kLanes);
    const float* mult = packed.multipliers + panel * kPanel;
    const size_t channels = static_cast<size_t>(std::min<int64_t>(kPanel, cout - panel * kPanel));
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const int64_t r0 = (oh - oh_begin) * p.stride_h;
      const int32_t* top = row_pairs + r0 * w_img;
      const int16_t* last = image + (r0 + 2 * dh) * w_img;
      uint8_t* out = output + ((n * p.out_h + oh) * p.out_w) * cout + panel * kPanel;
      for (int64_t ow = 0; ow < p.out_w; ++ow, top += s, last += s, out += cout) {
        const V16 p0 = hn::BitCast(d16, hn::Set(d32, top[0]));
        const V16 p1 = hn::BitCast(d16, hn::Set(d32, top[1]));
        const V16 p2 = hn::BitCast(d16, hn::Set(d32, top[2]));
        const V16 q0 = hn::BitCast(d16, BroadcastPair(last));
        const V16 q1 = hn::BitCast(d16, BroadcastPair(last + 2));  // reads one past the window: weight 0
        V32 u;
        const V32 a01 = hn::ReorderWidenMulAccumulate(d32, p0, w0a, hn::ReorderWidenMulAccumulate(d32, p1, w1a, bias_a, u), u);
        const V32 a23 = hn::ReorderWidenMulAccumulate(d32, p2, w2a, hn::ReorderWidenMulAccumulate(d32, q0, w3a, hn::Zero(d32), u), u);
        const V32 b01 = hn::ReorderWidenMulAccumulate(d32, p0, w0b, hn::ReorderWidenMulAccumulate(d32, p1, w1b, bias_b, u), u);
        const V32 b23 = hn::ReorderWidenMulAccumulate(d32, p2, w2b, hn::ReorderWidenMulAccumulate(d32, q0, w3b, hn::Zero(d32), u), u);
        const V32 acc[kVecs] = {hn::ReorderWidenMulAccumulate(d32, q1, w4a, hn::Add(a01, a23), u),
                                hn::ReorderWidenMulAccumulate(d32, q1, w4b, hn::Add(b01, b23), u)};
        StoreRequantized(acc, mult, rq, out, channels);
      }
    }
  }
}
#endif

// Output rows [oh_begin, oh_end) of image n, whose input rows start at band-image row 0.
void ConvBand(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
              const int16_t* image, int16_t* cols, int64_t n, int64_t oh_begin, int64_t oh_end, uint8_t* output) {
  const auto& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups, cout_g = f.out_channels / f.groups;
  const int64_t panels = (cout_g + kPanel - 1) / kPanel;
  const int64_t pitch = plan.image_w * plan.image_c;
  const int64_t panel_weights = packed.k_padded * static_cast<int64_t>(kPanel);
  const int64_t pixels = (oh_end - oh_begin) * p.out_w;
  // Band-image position of a pixel's window origin, and its output pointer.
  auto window = [&](int64_t pixel) {
    const int64_t oh = oh_begin + pixel / p.out_w, ow = pixel % p.out_w;
    return image + (oh - oh_begin) * p.stride_h * pitch + ow * p.stride_w * plan.image_c;
  };
  auto out_at = [&](int64_t pixel) {
    const int64_t oh = oh_begin + pixel / p.out_w, ow = pixel % p.out_w;
    return output + ((n * p.out_h + oh) * p.out_w + ow) * f.out_channels;
  };
  auto sink = [&](uint8_t* const* out, int64_t index, int64_t panel) {
    return Q8RequantSink{out, packed.bias + index * kPanel, packed.multipliers + index * kPanel,
                         static_cast<size_t>(std::min<int64_t>(kPanel, cout_g - panel * kPanel)), rq};
  };
  const int16_t* a[kQ8TileRows];
  uint8_t* out[kQ8TileRows];
  if (plan.method == edgeq::kernels::hwy::kQ8MethodRows) {
    // Panels outer: one panel's weights stay in L1 while every pixel of the band streams past.
    auto run = [&](const auto& red) {
      for (int64_t panel = 0; panel < panels; ++panel) {
        const int16_t* w = packed.weights + panel * panel_weights;
        ForEachBalancedTile(pixels, [&](int64_t q, size_t rows) {
          for (size_t r = 0; r < rows; ++r) {
            a[r] = window(q + static_cast<int64_t>(r));
            out[r] = out_at(q + static_cast<int64_t>(r)) + panel * kPanel;
          }
          Q8TileRows(rows, a, red, w, sink(out, panel, panel));
        });
      }
    };
    const int64_t seg_stride = p.dilation_h * pitch;
#if defined(EDGEQ_Q8_PAIRWISE) && HWY_TARGET == HWY_AVX2
    if (edgeq::kernels::hwy::q8_row_pair_filter(f)) {
      ConvBandRowPairs(packed, p, plan, rq, image, reinterpret_cast<int32_t*>(cols), n, oh_begin, oh_end, output);
      return;
    }
#endif
#ifdef EDGEQ_Q8_PAIRWISE
    if (f.kernel_h == 3 && packed.row_pairs == 2) {  // 3x3 over one input channel (first layers)
      ConvBandSmallK<3, 2>(packed, p, plan, rq, image, n, oh_begin, oh_end, output);
    } else {
#else
    {
#endif
      run(Q8Reduction{static_cast<size_t>(f.kernel_h), seg_stride, static_cast<size_t>(packed.row_pairs)});
    }
    return;
  }
  // kIm2col: per tile and group, gather each pixel's window into an im2col row (runs per kernel row,
  // each padded to an even length like the packed weights).
  const Q8Reduction red{1, 0, static_cast<size_t>(f.kernel_h * packed.row_pairs)};
  const int64_t row_len = 2 * packed.row_pairs;
  ForEachBalancedTile(pixels, [&](int64_t q, size_t rows) {
    for (int64_t g = 0; g < f.groups; ++g) {
      for (size_t r = 0; r < rows; ++r) {
        const int16_t* origin = window(q + static_cast<int64_t>(r)) + g * cin_g;
        int16_t* dst = cols + static_cast<int64_t>(r) * packed.k_padded;
        for (int64_t kh = 0; kh < f.kernel_h; ++kh) {
          int16_t* run = dst + kh * row_len;
          for (int64_t kw = 0; kw < f.kernel_w; ++kw)
            std::memcpy(run + kw * cin_g, origin + kh * p.dilation_h * pitch + kw * p.dilation_w * plan.image_c,
                        static_cast<size_t>(cin_g) * sizeof(int16_t));
          if (f.kernel_w * cin_g < row_len) run[row_len - 1] = 0;
        }
        a[r] = dst;
      }
      for (int64_t panel = 0; panel < panels; ++panel) {
        for (size_t r = 0; r < rows; ++r) out[r] = out_at(q + static_cast<int64_t>(r)) + g * cout_g + panel * kPanel;
        const int64_t index = g * panels + panel;
        Q8TileRows(rows, a, red, packed.weights + index * panel_weights, sink(out, index, panel));
      }
    }
  });
}

#ifdef EDGEQ_Q8_QUADS
EDGEQ_Q8_QUADS_BEGIN
// kQuads: output rows [oh_begin, oh_end) of image n from the u8 band image: tiles of up to
// kConvQuadRows pixels x kConvQuadPanels panels (16 accumulators), each kernel row's run read in place
// as row_quads quads. AVX-512 (one vector per panel): 8 x 2, one broadcast per two multiply-adds; on
// Zen 4, 8 x 2 beat 5, 6 and 7 rows; 8 x 1 panel spilled the row pointers to vector registers and
// reloaded them every step. NEON (4 vectors per panel, 32 registers): 4 x 1, 16 accumulators, 4 weight
// vectors and the broadcast, XNNPACK's 4x16 dot-product tile.
constexpr size_t kConvQuadRows = kVecs == 1 ? 8 : 4;
constexpr size_t kConvQuadPanels = kVecs == 1 ? 2 : 1;
constexpr int64_t kConvPoolWindows = static_cast<int64_t>(kConvQuadRows) / 4;  // 2x2 windows per pooled tile

// The pooled tiles out of line: inlined into ConvBandQuads with a long reduction, GCC keeps some of
// the 16 accumulators on the stack (cnn-m conv2 fused 31.7 us, out of line 17.0 us); short fixed
// reductions (one input channel) are faster inlined.
template <size_t MR, size_t NP, class Red>
HWY_NOINLINE void Q8QuadTileOutOfLine(const uint8_t* const* a, const Red& red, const int8_t* w, int64_t panel_stride,
                                      const std::array<Q8QuadStart, NP>& init, const std::array<Q8Pool2Sink, NP>& sinks) {
  Q8QuadTile<MR, NP>(a, red, w, panel_stride, init, sinks);
}
template <size_t MR, size_t NP, class Red>
HWY_INLINE void Q8PooledTile(const uint8_t* const* a, const Red& red, const int8_t* w, int64_t panel_stride,
                             const std::array<Q8QuadStart, NP>& init, const std::array<Q8Pool2Sink, NP>& sinks) {
  if constexpr (std::is_same_v<Red, Q8Reduction>) {
    Q8QuadTileOutOfLine<MR, NP>(a, red, w, panel_stride, init, sinks);
  } else {
    Q8QuadTile<MR, NP>(a, red, w, panel_stride, init, sinks);
  }
}

// pool: the band's rows [oh_begin, oh_end) are pairs of conv rows, and each tile holds 2 (or, at an
// odd end, 1) 2x2 pool windows (Q8Pool2Sink); the output is the pooled image (floor: p.out_h / 2 x
// p.out_w / 2).
void ConvBandQuads(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                   int32_t zero_point, const uint8_t* image, int64_t n, int64_t oh_begin, int64_t oh_end, bool pool,
                   uint8_t* output) {
  const auto& f = packed.filter;
  const int64_t cout = f.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  const int64_t pitch = plan.image_w * plan.image_c;
  const int64_t panel_weights = f.kernel_h * packed.row_quads * static_cast<int64_t>(kPanel) * 4;
  const int64_t step = p.stride_w * plan.image_c;
  const uint8_t* a[kConvQuadRows];
  uint8_t* out[kConvQuadPanels][kConvQuadRows];
  auto panels_from = [&](auto np, int64_t panel, const auto& red) {
    constexpr size_t kNp = decltype(np)::value;
    std::array<Q8QuadStart, kNp> init;
    for (size_t j = 0; j < kNp; ++j) {
      const int64_t c0 = (panel + static_cast<int64_t>(j)) * static_cast<int64_t>(kPanel);
      init[j] = QuadInit(packed.bias + c0, packed.col_sums + c0, zero_point);
    }
    auto sinks_of = [&]<class Sink>(auto make) {
      return [&]<size_t... J>(std::index_sequence<J...>) {
        return std::array<Sink, kNp>{make(J)...};
      }(std::make_index_sequence<kNp>());
    };
    auto channels = [&](size_t j) {
      return static_cast<size_t>(std::min<int64_t>(kPanel, cout - (panel + static_cast<int64_t>(j)) * static_cast<int64_t>(kPanel)));
    };
    auto mult = [&](size_t j) { return packed.multipliers + (panel + static_cast<int64_t>(j)) * static_cast<int64_t>(kPanel); };
    const int8_t* w = packed.quad_weights + panel * panel_weights;
    if (pool) {
      const auto sinks = sinks_of.template operator()<Q8Pool2Sink>([&](size_t j) { return Q8Pool2Sink{out[j], mult(j), channels(j), rq}; });
      const int64_t pw = p.out_w / 2;
      for (int64_t oh = oh_begin; oh < oh_end; oh += 2) {
        const uint8_t* row0 = image + (oh - oh_begin) * p.stride_h * pitch;
        const uint8_t* row1 = row0 + p.stride_h * pitch;
        uint8_t* dst = output + (n * (p.out_h / 2) + oh / 2) * pw * cout + panel * kPanel;
        for (int64_t pc = 0; pc < pw; pc += kConvPoolWindows) {
          const int64_t windows = std::min<int64_t>(kConvPoolWindows, pw - pc);
          for (int64_t c = 0; c < 2 * windows; ++c) {
            a[c] = row0 + (2 * pc + c) * step;
            a[2 * windows + c] = row1 + (2 * pc + c) * step;
          }
          for (int64_t q = 0; q < windows; ++q)
            for (size_t j = 0; j < kNp; ++j) out[j][q] = dst + (pc + q) * cout + static_cast<int64_t>(j * kPanel);
          if constexpr (kConvPoolWindows == 2) {
            if (windows == 2)
              Q8PooledTile<8, kNp>(a, red, w, panel_weights, init, sinks);
            else
              Q8PooledTile<4, kNp>(a, red, w, panel_weights, init, sinks);
          } else {
            Q8PooledTile<4, kNp>(a, red, w, panel_weights, init, sinks);
          }
        }
      }
      return;
    }
    const auto sinks = sinks_of.template operator()<Q8RequantSink>([&](size_t j) { return Q8RequantSink{out[j], nullptr, mult(j), channels(j), rq}; });
    // Tiles run over the band's pixels in order (across output rows: 7-pixel rows still fill 8-row
    // tiles); the cursor (oh, ow) advances by addition, no division per pixel.
    int64_t oh = oh_begin, ow = 0;
    ForEachBalancedTile<kConvQuadRows>((oh_end - oh_begin) * p.out_w, [&](int64_t, size_t rows) {
      for (size_t r = 0; r < rows; ++r) {
        a[r] = image + (oh - oh_begin) * p.stride_h * pitch + ow * step;
        uint8_t* dst = output + ((n * p.out_h + oh) * p.out_w + ow) * cout + panel * kPanel;
        for (size_t j = 0; j < kNp; ++j) out[j][r] = dst + j * kPanel;
        if (++ow == p.out_w) {
          ow = 0;
          ++oh;
        }
      }
      Q8QuadTileRows<kConvQuadRows>(rows, a, red, w, panel_weights, init, sinks);
    });
  };
  auto run = [&](const auto& red) {
    int64_t panel = 0;
    if constexpr (kConvQuadPanels == 2) {
      for (; panel + 2 <= panels; panel += 2) panels_from(std::integral_constant<size_t, 2>(), panel, red);
      if (panel < panels) panels_from(std::integral_constant<size_t, 1>(), panel, red);
    } else {
      for (; panel < panels; ++panel) panels_from(std::integral_constant<size_t, 1>(), panel, red);
    }
  };
  const int64_t seg_stride = p.dilation_h * pitch;
  if (f.kernel_h == 3 && packed.row_quads == 1) {  // 3x3 over one input channel (first layers): unrolled
    run(Q8FixedReduction<3, 1>{seg_stride});
  } else {
    run(Q8Reduction{static_cast<size_t>(f.kernel_h), seg_stride, static_cast<size_t>(packed.row_quads)});
  }
}
EDGEQ_Q8_QUADS_END
#endif  // EDGEQ_Q8_QUADS

#if HWY_TARGET == HWY_AVX3_DL
// kQuads tiles whose pixels are evenly spaced in the input (`step` bytes apart) and consecutive in the
// output: the pixels of one output row (step = stride_w * channels in the band image), or of a
// pointwise conv (q8_pointwise_conv: 1x1, stride 1, no padding, in_channels % 4 == 0, a gemm of the
// input pixels read in place, step = in_channels). One base pointer, 8 pixels x 3 panels: 24
// accumulators, 3 weight vectors and the broadcast in 32 registers. The general tile (8 row pointers,
// 8 output pointers per panel, 2 panels) spilled its weight vectors and pointers: MobileNetV2's 1x1
// convs with 16-32 input channels (112x112, 16 -> 96) ran at 85 GMAC/s.
constexpr size_t kStridedRows = 8;

// Rows r < MR at a + r * step: `segments` runs of `quads` quads seg_stride bytes apart (kernel rows),
// against NP panels of weights panel_stride bytes apart ([segments][quads][16][4] each).
template <size_t MR, size_t NP>
HWY_INLINE void StridedQuadTile(const uint8_t* a, int64_t step, int64_t segments, int64_t seg_stride, size_t quads,
                                const int8_t* w, int64_t panel_stride, const std::array<Q8QuadStart, NP>& init,
                                const float* mult, const Q8Requant& rq, uint8_t* out, int64_t cout, size_t last_count) {
  const DI32 d32;
  V32 acc[MR][NP];
  EDGEQ_UNROLL_ALL
  for (size_t r = 0; r < MR; ++r)
    EDGEQ_UNROLL_ALL
    for (size_t p = 0; p < NP; ++p) acc[r][p] = init[p];
  for (int64_t s = 0; s < segments; ++s) {
    const uint8_t* as = a + s * seg_stride;
    const int32_t* ws = reinterpret_cast<const int32_t*>(w) + s * static_cast<int64_t>(quads * kPanel);
    for (size_t i = 0; i < quads; ++i) {
      V32 wv[NP];
      EDGEQ_UNROLL_ALL
      for (size_t p = 0; p < NP; ++p) wv[p] = hn::LoadU(d32, ws + static_cast<int64_t>(p) * (panel_stride / 4) + i * kPanel);
      EDGEQ_UNROLL_ALL
      for (size_t r = 0; r < MR; ++r) {
        const V32 x = BroadcastQuad(as + static_cast<int64_t>(r) * step + 4 * i);
        EDGEQ_UNROLL_ALL
        for (size_t p = 0; p < NP; ++p) acc[r][p] = MulAccQuad(acc[r][p], x, wv[p]);
      }
    }
  }
  EDGEQ_UNROLL_ALL
  for (size_t r = 0; r < MR; ++r) {
    EDGEQ_UNROLL_ALL
    for (size_t p = 0; p < NP; ++p) {
      const V32 sums[1] = {acc[r][p]};
      StoreRequantized(sums, mult + p * kPanel, rq, out + static_cast<int64_t>(r) * cout + static_cast<int64_t>(p * kPanel),
                       p + 1 == NP ? last_count : kPanel);
    }
  }
}

// `count` pixels from a (step apart) x every output channel, to out (cout apart): panel groups as the
// fp32 tiles' (NextPanelGroup, tile-inl.h: 3, 2 + 2 for the last four), each over every pixel in tiles of 8.
void StridedQuads(const PackedConv2dQ8& packed, const Q8Requant& rq, int32_t zero_point, const uint8_t* a, int64_t step,
                  int64_t count, int64_t seg_stride, uint8_t* out) {
  const int64_t cout = packed.filter.out_channels, panels = (cout + kPanel - 1) / kPanel;
  const int64_t segments = packed.filter.kernel_h;
  const size_t quads = static_cast<size_t>(packed.row_quads);
  const int64_t panel_stride = segments * packed.row_quads * static_cast<int64_t>(kPanel) * 4;
  auto group = [&](auto np, int64_t panel) {
    constexpr size_t kNp = decltype(np)::value;
    std::array<Q8QuadStart, kNp> init;
    for (size_t j = 0; j < kNp; ++j) {
      const int64_t c0 = (panel + static_cast<int64_t>(j)) * static_cast<int64_t>(kPanel);
      init[j] = QuadInit(packed.bias + c0, packed.col_sums + c0, zero_point);
    }
    const size_t last_count = static_cast<size_t>(std::min<int64_t>(kPanel, cout - (panel + static_cast<int64_t>(kNp) - 1) * static_cast<int64_t>(kPanel)));
    const int8_t* w = packed.quad_weights + panel * panel_stride;
    const float* mult = packed.multipliers + panel * static_cast<int64_t>(kPanel);
    uint8_t* o = out + panel * static_cast<int64_t>(kPanel);
    int64_t px = 0;
    for (; px + static_cast<int64_t>(kStridedRows) <= count; px += static_cast<int64_t>(kStridedRows))
      StridedQuadTile<kStridedRows, kNp>(a + px * step, step, segments, seg_stride, quads, w, panel_stride, init, mult, rq,
                                         o + px * cout, cout, last_count);
    if (px < count)
      WithTileRows<kStridedRows - 1>(static_cast<size_t>(count - px), [&](auto mr) {
        StridedQuadTile<decltype(mr)::value, kNp>(a + px * step, step, segments, seg_stride, quads, w, panel_stride, init, mult,
                                                  rq, o + px * cout, cout, last_count);
      });
  };
  for (int64_t panel = 0; panel < panels;) {
    const int64_t np = NextPanelGroup(panels - panel);
    if (np == 3) group(std::integral_constant<size_t, 3>(), panel);
    if (np == 2) group(std::integral_constant<size_t, 2>(), panel);
    if (np == 1) group(std::integral_constant<size_t, 1>(), panel);
    panel += np;
  }
}

// Pointwise: output pixels [pixel_begin, pixel_end) (batch and rows flattened: the same index in the
// input), in blocks of about 16 KB of input (at least 256 pixels: every block streams all the weights),
// each block through every panel group, so the block stays in L1.
void PointwiseQuads(const PackedConv2dQ8& packed, const Q8Requant& rq, int32_t zero_point, const uint8_t* input,
                    uint8_t* output, int64_t pixel_begin, int64_t pixel_end) {
  const int64_t cin = packed.filter.in_channels, cout = packed.filter.out_channels;
  const int64_t block = std::max<int64_t>(256, 16384 / cin / kStridedRows * kStridedRows);
  for (int64_t b0 = pixel_begin; b0 < pixel_end; b0 += block)
    StridedQuads(packed, rq, zero_point, input + b0 * cin, cin, std::min(block, pixel_end - b0), 0, output + b0 * cout);
}
#endif  // HWY_AVX3_DL

// pool: the fused 2x2 max pool (kQuads only); rows are then pooled rows.
void Q8Conv(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const Q8ConvPlan& plan,
            const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch, bool pool) {
  int16_t* image = static_cast<int16_t*>(scratch);
  int16_t* cols = reinterpret_cast<int16_t*>(static_cast<std::byte*>(scratch) + plan.image_bytes);
  const Q8Requant rq(q);
#ifndef EDGEQ_Q8_QUADS
  HWY_ASSERT(plan.method != edgeq::kernels::hwy::kQ8MethodQuads);  // planned for the quad targets only
#endif
  HWY_ASSERT(!pool || plan.method == edgeq::kernels::hwy::kQ8MethodQuads);
#if HWY_TARGET == HWY_AVX3_DL
  if (!pool && plan.method == edgeq::kernels::hwy::kQ8MethodQuads && edgeq::kernels::hwy::q8_pointwise_conv(packed.filter, p)) {
    PointwiseQuads(packed, rq, q.input_zero_point, input, output, row_begin * p.out_w, row_end * p.out_w);
    return;
  }
#endif
  // Work rows are output rows, or (pool) pooled rows of 2 conv rows each (the plan gives kQuads at
  // least 2 rows per band).
  ForEachConvBand(p, plan, row_begin, row_end, pool ? 2 : 1, [&](int64_t n, int64_t b0, int64_t b1, int64_t ih0, int64_t rows) {
#ifdef EDGEQ_Q8_QUADS
    if (plan.method == edgeq::kernels::hwy::kQ8MethodQuads) {
      uint8_t* bytes = static_cast<uint8_t*>(scratch);
      CopyBandU8(p, plan, input, n, ih0, rows, q.input_zero_point, bytes);
#if HWY_TARGET == HWY_AVX3_DL
      // Rows of at least one full tile run the strided tiles, one output row at a time; narrower rows
      // (7x7 maps) fill the general tiles across rows, and 3x3 over one input channel keeps its unrolled
      // fixed reduction.
      const bool one_channel_3x3 = packed.filter.kernel_h == 3 && packed.row_quads == 1;
      if (!pool && p.out_w >= static_cast<int64_t>(kStridedRows) && !one_channel_3x3) {
        const int64_t pitch = plan.image_w * plan.image_c;
        for (int64_t oh = b0; oh < b1; ++oh)
          StridedQuads(packed, rq, q.input_zero_point, bytes + (oh - b0) * p.stride_h * pitch, p.stride_w * plan.image_c, p.out_w,
                       p.dilation_h * pitch, output + (n * p.out_h + oh) * p.out_w * packed.filter.out_channels);
        return;
      }
#endif
      ConvBandQuads(packed, p, plan, rq, q.input_zero_point, bytes, n, b0, b1, pool, output);
      return;
    }
#endif
    WidenBand(p, plan, input, n, ih0, rows, q.input_zero_point, image);
    ConvBand(packed, p, plan, rq, image, cols, n, b0, b1, output);
  });
}

#ifdef EDGEQ_Q8_PAIRWISE
// One A row against kPanels consecutive panels (batch-1 fully-connected): kPanels x kVecs independent
// sums; the broadcast pair is shared by all panels.
// Out: uint8_t (requantized) or int32_t (raw sums + bias, MatMulInteger).
HWY_INLINE void StoreRow(const V32 (&acc)[kVecs], const float* mult, const Q8Requant& rq, uint8_t* dst, size_t count) {
  StoreRequantized(acc, mult, rq, dst, count);
}
HWY_INLINE void StoreRow(const V32 (&acc)[kVecs], const float*, const Q8Requant&, int32_t* dst, size_t count) {
  StoreSums(acc, dst, count);
}

template <size_t kPanels, class Out>
HWY_INLINE void Q8Gemv(const int16_t* a, size_t k_pairs, const int8_t* w, size_t panel_stride, const int32_t* bias,
                       const float* mult, const Q8Requant& rq, Out* out, size_t channels_last) {
  const DI32 d32;
  const DI16 d16;
  V32 acc[kPanels][kVecs];
  for (size_t p = 0; p < kPanels; ++p)
    for (size_t v = 0; v < kVecs; ++v) acc[p][v] = hn::LoadU(d32, bias + p * kPanel + v * kLanes);
  for (size_t i = 0; i < k_pairs; ++i) {
    const V16 av = hn::BitCast(d16, BroadcastPair(a + 2 * i));
    for (size_t p = 0; p < kPanels; ++p)
      for (size_t v = 0; v < kVecs; ++v)
        acc[p][v] = MulAccPairs(acc[p][v], av, LoadPairs(w + p * panel_stride + i * 2 * kPanel + v * 2 * kLanes));
  }
  for (size_t p = 0; p < kPanels; ++p)
    StoreRow(acc[p], mult + p * kPanel, rq, out + p * kPanel, p + 1 == kPanels ? channels_last : kPanel);
}
#endif

#ifdef EDGEQ_Q8_QUADS
EDGEQ_Q8_QUADS_BEGIN
// Q8Gemv on the quad layout: the u8 row read as is, kPanels x kVecs sums per broadcast quad.
template <size_t kPanels, class Out>
HWY_INLINE void Q8GemvQuads(const uint8_t* a, size_t k_quads, const int8_t* w, size_t panel_stride, const int32_t* bias,
                            const int32_t* col_sums, int32_t zero_point, const float* mult, const Q8Requant& rq, Out* out,
                            size_t channels_last) {
  const DI32 d32;
  V32 acc[kPanels][kVecs];
  for (size_t p = 0; p < kPanels; ++p) {
#if HWY_TARGET == HWY_NEON
    const Q8QuadStart start = QuadInit(bias + p * kPanel, col_sums + p * kPanel, zero_point);
    for (size_t v = 0; v < kVecs; ++v) acc[p][v] = start.Vec(v);
#else
    acc[p][0] = QuadInit(bias + p * kPanel, col_sums + p * kPanel, zero_point);
#endif
  }
  size_t i = 0;
#if HWY_TARGET == HWY_NEON
  for (; i + 4 <= k_quads; i += 4) {  // 4 quads per load, SDOT's lane form (as Q8QuadTile)
    const int8x16_t x = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(a + 4 * i), vdupq_n_u8(0x80)));
    auto step = [&](auto lane) {
      constexpr int kLane = decltype(lane)::value;
      for (size_t p = 0; p < kPanels; ++p)
        for (size_t v = 0; v < kVecs; ++v)
          acc[p][v] = V32(vdotq_laneq_s32(acc[p][v].raw, vld1q_s8(w + p * panel_stride + ((i + kLane) * kPanel + v * kLanes) * 4), x, kLane));
    };
    step(std::integral_constant<int, 0>());
    step(std::integral_constant<int, 1>());
    step(std::integral_constant<int, 2>());
    step(std::integral_constant<int, 3>());
  }
#endif
  for (; i < k_quads; ++i) {
    const V32 av = BroadcastQuad(a + 4 * i);
    for (size_t p = 0; p < kPanels; ++p)
      for (size_t v = 0; v < kVecs; ++v)
        acc[p][v] = MulAccQuad(acc[p][v], av,
                               hn::LoadU(d32, reinterpret_cast<const int32_t*>(w + p * panel_stride + i * 4 * kPanel) + v * kLanes));
  }
  for (size_t p = 0; p < kPanels; ++p)
    StoreRow(acc[p], mult + p * kPanel, rq, out + p * kPanel, p + 1 == kPanels ? channels_last : kPanel);
}

// Q8GemmTo on the quad layout (packed while q8_quads()).
template <class Out>
void Q8GemmQuads(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a_u8, int64_t lda, Out* c,
                 int64_t ldc, const GemmRange& range, void* scratch) {
  const Q8Requant rq(q);
  const int64_t panel_begin = range.n_begin / static_cast<int64_t>(kPanel);
  const int64_t panel_end = (range.n_end + static_cast<int64_t>(kPanel) - 1) / static_cast<int64_t>(kPanel);
  auto columns = [&](int64_t panel) {
    return static_cast<size_t>(std::min<int64_t>(kPanel, range.n_end - panel * static_cast<int64_t>(kPanel)));
  };
  Out* out[kQ8TileRows];
  auto sink = [&](int64_t panel) {
    if constexpr (std::is_same_v<Out, uint8_t>) {
      return Q8RequantSink{out, packed.bias + panel * kPanel, packed.multipliers + panel * kPanel, columns(panel), rq};
    } else {
      return Q8Int32Sink{out, packed.bias + panel * kPanel, columns(panel)};
    }
  };
  const int64_t k_bytes = packed.k_quads * 4;
  const int64_t quad_stride = packed.k_quads * 4 * static_cast<int64_t>(kPanel);
  uint8_t* bytes = static_cast<uint8_t*>(scratch);
  const uint8_t* rows[kQ8TileRows];
  const Q8Reduction quads{1, 0, static_cast<size_t>(packed.k_quads)};
  ForEachBalancedTile(range.m_end - range.m_begin, [&](int64_t first, size_t count) {
    const int64_t m = range.m_begin + first;
    for (size_t r = 0; r < count; ++r) {  // copied: the last quad of a row may run past K (weight 0)
      uint8_t* row = bytes + static_cast<int64_t>(r) * k_bytes;
      std::memcpy(row, a_u8 + (m + static_cast<int64_t>(r)) * lda, static_cast<size_t>(packed.k));
      std::memset(row + packed.k, 0, static_cast<size_t>(k_bytes - packed.k));
      rows[r] = row;
    }
    int64_t panel = panel_begin;
    auto gemv = [&](auto panels) {
      constexpr int64_t kPanels = decltype(panels)::value;
      for (; panel + kPanels <= panel_end; panel += kPanels)
        Q8GemvQuads<kPanels>(rows[0], static_cast<size_t>(packed.k_quads), packed.quad_weights + panel * quad_stride,
                             static_cast<size_t>(quad_stride), packed.bias + panel * kPanel,
                             packed.col_sums + panel * kPanel, q.input_zero_point, packed.multipliers + panel * kPanel,
                             rq, c + m * ldc + panel * kPanel, columns(panel + kPanels - 1));
    };
    if (count == 1) {  // batch-1 fully-connected: several panels per pass over A (8 vectors x 4 on NEON)
      gemv(std::integral_constant<int64_t, 8 / kVecs>());
      gemv(std::integral_constant<int64_t, 4 / kVecs>());
    }
    for (; panel < panel_end; ++panel) {
      for (size_t r = 0; r < count; ++r) out[r] = c + (m + static_cast<int64_t>(r)) * ldc + panel * kPanel;
      const std::array<Q8QuadStart, 1> init = {QuadInit(packed.bias + panel * kPanel, packed.col_sums + panel * kPanel, q.input_zero_point)};
      const std::array<decltype(sink(panel)), 1> sinks = {sink(panel)};
      Q8QuadTileRows<kQ8TileRows>(count, rows, quads, packed.quad_weights + panel * quad_stride, quad_stride, init, sinks);
    }
  });
}
EDGEQ_Q8_QUADS_END
#endif

// Out = uint8_t: requantized (gemm_qu8_qc8w); int32_t: the sums + bias (gemm_qu8_qc8w_s32).
template <class Out>
void Q8GemmTo(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a_u8, int64_t lda, Out* c,
              int64_t ldc, const GemmRange& range, void* scratch) {
  const int64_t k_padded = packed.k_padded;
  const size_t k_pairs = static_cast<size_t>(k_padded / 2);
  const int64_t panel_stride = k_padded * static_cast<int64_t>(kPanel);
  const Q8Requant rq(q);
  const int64_t panel_begin = range.n_begin / static_cast<int64_t>(kPanel);
  const int64_t panel_end = (range.n_end + static_cast<int64_t>(kPanel) - 1) / static_cast<int64_t>(kPanel);
  auto columns = [&](int64_t panel) {
    return static_cast<size_t>(std::min<int64_t>(kPanel, range.n_end - panel * static_cast<int64_t>(kPanel)));
  };
  const Q8Reduction red{1, 0, k_pairs};
  int16_t* rows_buf = static_cast<int16_t*>(scratch);
  const int16_t* a[kQ8TileRows];
  Out* out[kQ8TileRows];
  auto sink = [&](int64_t panel) {
    if constexpr (std::is_same_v<Out, uint8_t>) {
      return Q8RequantSink{out, packed.bias + panel * kPanel, packed.multipliers + panel * kPanel, columns(panel), rq};
    } else {
      return Q8Int32Sink{out, packed.bias + panel * kPanel, columns(panel)};
    }
  };
#ifdef EDGEQ_Q8_QUADS
  if (packed.quad_weights != nullptr) {  // u8 rows as they are, 4 products per lane and step
    Q8GemmQuads(packed, q, a_u8, lda, c, ldc, range, scratch);
    return;
  }
#endif
  ForEachBalancedTile(range.m_end - range.m_begin, [&](int64_t first, size_t count) {
    const int64_t m = range.m_begin + first;
    for (size_t r = 0; r < count; ++r) {
      int16_t* row = rows_buf + static_cast<int64_t>(r) * k_padded;
      WidenRun(a_u8 + (m + static_cast<int64_t>(r)) * lda, packed.k, q.input_zero_point, row);
      if (packed.k < k_padded) row[packed.k] = 0;
      a[r] = row;
    }
    int64_t panel = panel_begin;
#ifdef EDGEQ_Q8_PAIRWISE
    if (count == 1) {  // batch-1 fully-connected: several panels per pass over A
      constexpr int64_t kGemvPanels = 4;
      for (; panel + kGemvPanels <= panel_end; panel += kGemvPanels)
        Q8Gemv<kGemvPanels>(a[0], k_pairs, packed.weights_s8 + panel * panel_stride, static_cast<size_t>(panel_stride),
                            packed.bias + panel * kPanel, packed.multipliers + panel * kPanel, rq,
                            c + m * ldc + panel * kPanel, columns(panel + kGemvPanels - 1));
    }
#endif
    for (; panel < panel_end; ++panel) {
      for (size_t r = 0; r < count; ++r) out[r] = c + (m + static_cast<int64_t>(r)) * ldc + panel * kPanel;
      Q8TileRows(count, a, red, packed.weights_s8 + panel * panel_stride, sink(panel));
    }
  });
}

void Q8Gemm(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, uint8_t* c, int64_t ldc,
            const GemmRange& range, void* scratch) {
  Q8GemmTo(packed, q, a, lda, c, ldc, range, scratch);
}
void Q8GemmS32(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, int32_t* c,
               int64_t ldc, const GemmRange& range, void* scratch) {
  Q8GemmTo(packed, q, a, lda, c, ldc, range, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::PackedGemmQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;
// winograd_q8.cpp
void DispatchQ8Winograd(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                        const Q8ConvPlan& plan, const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch,
                        bool pool);
// depthwise_q8.cpp
void DispatchQ8Depthwise(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                         const Q8ConvPlan& plan, const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch);
HWY_EXPORT(Q8Conv);
HWY_EXPORT(Q8Gemm);
HWY_EXPORT(Q8GemmS32);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchQ8Conv(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const Q8ConvPlan& plan,
                    const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch, bool pool) {
  HWY_DYNAMIC_DISPATCH(Q8Conv)(packed, p, q, plan, in, out, b, e, scratch, pool);
}
void DispatchQ8Gemm(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, uint8_t* c,
                    int64_t ldc, const GemmRange& range, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8Gemm)(packed, q, a, lda, c, ldc, range, scratch);
}
void DispatchQ8GemmS32(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, int32_t* c,
                       int64_t ldc, const GemmRange& range, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8GemmS32)(packed, q, a, lda, c, ldc, range, scratch);
}
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

namespace {
void* align64(void* p) {
  return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + 63) & ~static_cast<uintptr_t>(63));
}
}  // namespace

// The packed method's plan (decided at pack time: one method, one scratch layout).
size_t conv2d_qu8_qc8w_scratch_bytes(const PackedConv2dQ8& packed, const Conv2dParams& params) {
  return plan_conv2d_q8(packed, params).scratch_bytes();
}

int64_t conv2d_qu8_qc8w_row_alignment(const PackedConv2dQ8& packed, const Conv2dParams&) {
  return packed.method == kQ8MethodWinograd ? 2 : 1;
}

namespace {
// Both conv entries: rows of the conv output, or (pool) of the pooled output.
void run_conv_q8(const PackedConv2dQ8& packed, const Conv2dParams& params, const QuantU8Params& quant, const uint8_t* input,
                 uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch, bool pool) {
  detail::check_conv2d_q8(packed, params, Family::kHwy, row_begin, row_end);
  detail::check_quant(quant);
  const Q8ConvPlan plan = plan_conv2d_q8(packed, params);
  if (pool) {
    if (plan.method != kQ8MethodWinograd && plan.method != kQ8MethodQuads)
      throw Error(ErrorCode::kInvalidArgument, "kernels: this int8 conv2d cannot fuse the max pool on target " + target_name() +
                                                   " (conv2d_qu8_qc8w_maxpool2_supported)");
    if (row_end > params.batch * (params.out_h / 2))
      throw Error(ErrorCode::kInvalidArgument, "kernels: pooled rows end at " + std::to_string(row_end) + ", past " +
                                                   std::to_string(params.batch * (params.out_h / 2)));
  }
  if (row_begin == row_end) return;
  if (scratch == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 conv2d needs scratch (conv2d_qu8_qc8w_scratch_bytes)");
  if (plan.method == kQ8MethodDepthwise) {
    edgeq_kernels_hwy::DispatchQ8Depthwise(packed, params, quant, plan, input, output, row_begin, row_end, align64(scratch));
  } else if (plan.method == kQ8MethodWinograd) {
    edgeq_kernels_hwy::DispatchQ8Winograd(packed, params, quant, plan, input, output, row_begin, row_end,
                                          align64(scratch), pool);
  } else {
    edgeq_kernels_hwy::DispatchQ8Conv(packed, params, quant, plan, input, output, row_begin, row_end, align64(scratch), pool);
  }
}
}  // namespace

void conv2d_qu8_qc8w_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& params, const QuantU8Params& quant,
                          const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch) {
  run_conv_q8(packed, params, quant, input, output, row_begin, row_end, scratch, false);
}

bool conv2d_qu8_qc8w_depthwise(const PackedConv2dQ8& packed) {
  return packed.family == Family::kHwy && packed.method == kQ8MethodDepthwise;
}

bool conv2d_qu8_qc8w_maxpool2_supported(const PackedConv2dQ8& packed, const Conv2dParams& params) {
  if (packed.family != Family::kHwy) return false;
  const int32_t method = plan_conv2d_q8(packed, params).method;
  return method == kQ8MethodWinograd || method == kQ8MethodQuads;
}

void conv2d_qu8_qc8w_maxpool2_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& params, const QuantU8Params& quant,
                                   const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end,
                                   void* scratch) {
  run_conv_q8(packed, params, quant, input, output, row_begin, row_end, scratch, true);
}

// Rows of int16 for the widest tile any target uses, plus 64 bytes to align the caller's pointer.
size_t gemm_qu8_qc8w_scratch_bytes(const PackedGemmQ8& packed) {
  return static_cast<size_t>(kQ8MaxTileRows * packed.k_padded * 2 + 64);
}

namespace {
// The checks both gemm entries share; false when the range is empty (nothing to do).
bool check_gemm_call(const PackedGemmQ8& packed, const QuantU8Params& quant, int64_t lda, int64_t ldc,
                     const GemmRange& range, const void* scratch) {
  detail::check_gemm_q8(packed, Family::kHwy, lda, ldc, range);
  detail::check_quant(quant);
  if ((packed.quad_weights != nullptr) != (packed.weights_s8 == nullptr) || (packed.quad_weights != nullptr && !q8_quads()))
    throw Error(ErrorCode::kInvalidArgument, "kernels: this int8 gemm was packed for another target than " + target_name());
  if (range.n_begin % kPanelChannels != 0 && range.n_begin != range.n_end)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm column range must start at a multiple of 16, got " +
                                                 std::to_string(range.n_begin));
  if (range.m_begin == range.m_end || range.n_begin == range.n_end) return false;
  if (scratch == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm needs scratch (gemm_qu8_qc8w_scratch_bytes)");
  return true;
}
}  // namespace

void gemm_qu8_qc8w(const PackedGemmQ8& packed, const QuantU8Params& quant, const uint8_t* a, int64_t lda, uint8_t* c,
                   int64_t ldc, const GemmRange& range, void* scratch) {
  if (!check_gemm_call(packed, quant, lda, ldc, range, scratch)) return;
  edgeq_kernels_hwy::DispatchQ8Gemm(packed, quant, a, lda, c, ldc, range, align64(scratch));
}

void gemm_qu8_qc8w_s32(const PackedGemmQ8& packed, int32_t a_zero_point, const uint8_t* a, int64_t lda, int32_t* c,
                       int64_t ldc, const GemmRange& range, void* scratch) {
  QuantU8Params quant;
  quant.input_zero_point = a_zero_point;
  if (!check_gemm_call(packed, quant, lda, ldc, range, scratch)) return;
  edgeq_kernels_hwy::DispatchQ8GemmS32(packed, quant, a, lda, c, ldc, range, align64(scratch));
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
