// hwy direct conv2d NHWC for 3x3 ungrouped filters with 1..4 input channels (first layers: grayscale,
// RGB(A)); one TU, compiled per Highway target. The reduction is only 9 * cin taps, so the general
// implicit-GEMM path spends most of its time on tile setup; here the taps, their offsets and (for
// stride 1, dilation 1) the pixel spacing are compile-time constants, so one tile of kTileRows pixels of
// an output row x 16 channels is a straight run of broadcast-FMA steps into register accumulators,
// reading the (padded, see padded_rows.h) input rows directly, no im2col. Weights: the panel layout of
// the general path ([panel][kh][kw][ci][16]).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/conv_small_cin.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_CONV_SMALL_CIN_ONCE_
#define EDGEQ_KERNELS_HWY_CONV_SMALL_CIN_ONCE_
#include <algorithm>
#include <type_traits>

#include "edgeq/kernels.h"
#include "kernels/hwy/pack.h"
#include "kernels/hwy/padded_rows.h"

namespace edgeq_kernels_hwy {
// Distances in floats inside the source rows: between kernel rows, kernel columns, and neighbouring
// output pixels. Members are int64_t or std::integral_constant (compile-time, folded into addressing).
template <class Col, class Pixel>
struct SmallCinSteps {
  int64_t row;
  Col col;
  Pixel pixel;
};

}  // namespace edgeq_kernels_hwy
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;

// Pixels per tile. AVX2: 5 x 2 accumulators, not the general path's 6 x 2: with all taps unrolled, 12
// accumulators + 2 weight vectors + a broadcast made GCC spill (measured 28x28 1->16: 6 rows 4.4 us,
// 5 rows 3.4 us, 4 rows 3.2-3.3 us but 1->32 slower).
inline constexpr size_t kSmallCinTileRows = kVecs == 2 ? 5 : kTileRows;

// MR pixels x NP 16-channel panels (one broadcast of an input value feeds NP FMAs: with one panel the
// tile made 9 loads per 8 FMAs). `a` is the window origin of pixel 0 (kernel row 0, column 0, ci 0);
// `w` the first panel, the next ones panel_floats apart; the last panel stores `last_channels`.
template <size_t kCin, size_t MR, size_t NP, class Steps>
HWY_INLINE void SmallCinTile(const Steps& s, const float* a, const float* w, int64_t panel_floats, const float* bias,
                             const EpilogueVecs& e, float* out, int64_t out_pixel_floats, size_t last_channels) {
  Tile<MR> tiles[NP];
  EDGEQ_UNROLL_ALL
  for (size_t p = 0; p < NP; ++p) tiles[p].Init(bias + p * kPanel);
  EDGEQ_UNROLL_ALL
  for (size_t i = 0; i < 3; ++i) {
    const float* a_row = a + static_cast<int64_t>(i) * s.row;
    EDGEQ_UNROLL_ALL
    for (size_t t = 0; t < 3 * kCin; ++t) {  // t = kw * kCin + ci
      const size_t kw = t / kCin, ci = t % kCin;
      const float* w_step = w + ((i * 3 * kCin) + t) * kPanel;
      VF wv[NP][kVecs];
      EDGEQ_UNROLL_ALL
      for (size_t p = 0; p < NP; ++p)
        for (size_t v = 0; v < kVecs; ++v) wv[p][v] = hn::Load(DF(), w_step + static_cast<int64_t>(p) * panel_floats + static_cast<int64_t>(v * kLanes));
      const float* a_tap = a_row + static_cast<int64_t>(kw) * s.col + static_cast<int64_t>(ci);
      EDGEQ_UNROLL_ALL
      for (size_t r = 0; r < MR; ++r) {
        const VF av = hn::Set(DF(), a_tap[static_cast<int64_t>(r) * s.pixel]);
        EDGEQ_UNROLL_ALL
        for (size_t p = 0; p < NP; ++p)
          for (size_t v = 0; v < kVecs; ++v) tiles[p].acc[r][v] = hn::MulAdd(av, wv[p][v], tiles[p].acc[r][v]);
      }
    }
  }
  float* outs[MR];
  for (size_t r = 0; r < MR; ++r) outs[r] = out + static_cast<int64_t>(r) * out_pixel_floats;
  StoreTiles(tiles, e, outs, last_channels);
}

template <size_t kCin, class Steps>
void SmallCinRows(const PackedConv2dF32& packed, const Conv2dParams& p, const Steps& s, const float* input,
                  float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  const int64_t cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  const int64_t panel_floats = 9 * static_cast<int64_t>(kCin * kPanel);
  const int64_t src_row_floats = edgeq::kernels::hwy::source_row_floats(p);
  const int64_t pixel_floats = p.stride_w * static_cast<int64_t>(kCin);
  const EpilogueVecs e(p.activation);
  edgeq::kernels::hwy::for_each_image_rows(
      p, input, row_begin, row_end, scratch,
      [&](const float* src, int64_t src_row0, int64_t n, int64_t oh_begin, int64_t oh_end) {
        for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
          const float* src_row = src + (oh * p.stride_h - src_row0) * src_row_floats;
          float* out_row = output + (n * p.out_h + oh) * p.out_w * cout;
          for (int64_t panel = 0; panel < panels;) {
            // Two panels per tile on AVX-512 (8 x 2 accumulators of its 32 registers); one elsewhere (AVX2's
            // 5 x 2 accumulators already fill its 16).
            const int64_t np = kRowsTilePanels > 1 ? std::min<int64_t>(2, panels - panel) : 1;
            const float* w = packed.weights + panel * panel_floats;
            const float* bias = packed.bias + panel * static_cast<int64_t>(kPanel);
            const size_t last_channels = static_cast<size_t>(std::min<int64_t>(kPanel, cout - (panel + np - 1) * kPanel));
            const int64_t panel_offset = panel * static_cast<int64_t>(kPanel);
            // Two panels per whole tile where two are left; the row's last narrower tile one panel at a time
            // (fewer instantiations: this TU unrolls every tap, and each (tile rows, panels) pair compiles
            // per input-channel count, step kind and target).
            constexpr int64_t kRows = static_cast<int64_t>(kSmallCinTileRows);
            const int64_t whole_end = p.out_w / kRows * kRows;
            auto whole_tiles = [&](auto np_const) {  // one loop per panel count, each tile inlined in it
              constexpr size_t kNp = decltype(np_const)::value;
              for (int64_t ow = 0; ow < whole_end; ow += kRows) {
                SmallCinTile<kCin, kSmallCinTileRows, kNp>(s, src_row + ow * pixel_floats, w, panel_floats, bias, e,
                                                           out_row + ow * cout + panel_offset, cout, last_channels);
              }
            };
            constexpr size_t kPair = kRowsTilePanels > 1 ? 2 : 1;  // np is 2 only where kPair is
            if (np == 2) {
              whole_tiles(std::integral_constant<size_t, kPair>());
            } else {
              whole_tiles(std::integral_constant<size_t, 1>());
            }
            if (whole_end < p.out_w) {
              for (int64_t q = 0; q < np; ++q) {
                const size_t channels = q + 1 == np ? last_channels : kPanel;
                WithTileRows<kSmallCinTileRows - 1>(static_cast<size_t>(p.out_w - whole_end), [&](auto mr) {
                  SmallCinTile<kCin, decltype(mr)::value, 1>(s, src_row + whole_end * pixel_floats, w + q * panel_floats, panel_floats,
                                                             bias + q * static_cast<int64_t>(kPanel), e,
                                                             out_row + whole_end * cout + panel_offset + q * static_cast<int64_t>(kPanel), cout, channels);
                });
              }
            }
            panel += np;
          }
        }
      });
}

template <size_t kCin>
void SmallCinAs(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                int64_t row_begin, int64_t row_end, float* scratch) {
  using Const = std::integral_constant<int64_t, static_cast<int64_t>(kCin)>;
  const int64_t row = p.dilation_h * edgeq::kernels::hwy::source_row_floats(p);
  if (p.stride_w == 1 && p.dilation_w == 1) {  // the common case: every step a constant
    SmallCinRows<kCin>(packed, p, SmallCinSteps<Const, Const>{row, Const(), Const()}, input, output, row_begin,
                       row_end, scratch);
  } else {
    const int64_t cin = static_cast<int64_t>(kCin);
    SmallCinRows<kCin>(packed, p, SmallCinSteps<int64_t, int64_t>{row, p.dilation_w * cin, p.stride_w * cin}, input,
                       output, row_begin, row_end, scratch);
  }
}

void ConvSmallCin(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                  int64_t row_begin, int64_t row_end, float* scratch) {
  switch (packed.filter.in_channels) {
    case 1: return SmallCinAs<1>(packed, p, input, output, row_begin, row_end, scratch);
    case 2: return SmallCinAs<2>(packed, p, input, output, row_begin, row_end, scratch);
    case 3: return SmallCinAs<3>(packed, p, input, output, row_begin, row_end, scratch);
    default: return SmallCinAs<4>(packed, p, input, output, row_begin, row_end, scratch);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;
HWY_EXPORT(ConvSmallCin);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchConvSmallCin(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,
                          float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  HWY_DYNAMIC_DISPATCH(ConvSmallCin)(packed, params, input, output, row_begin, row_end, scratch);
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
