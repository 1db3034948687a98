// hwy conv2d NHWC (one TU, compiled once per Highway target; see STYLE.md section 2).
//
// General path ("panels"): implicit GEMM. The output pixels of the row range form a flat list, tiled
// kTileRows at a time (so narrow images such as 7x7 still fill whole tiles); each tile is multiplied
// with one 16-channel panel of packed weights, the reduction running over (kh, kw, ci). Padding is
// materialized once per call in scratch (the rows the range reads, zero borders), so the inner loop
// has no bounds checks and any stride/dilation works the same way.
// Depthwise path: vectors along channels. 3x3 / 5x5 at stride 1 / 2, undilated: blocks of output pixels
// along a row, each window column loaded once per block (DepthwiseRow); other shapes four output pixels
// at a time where no tap needs a bounds check, one at a time at the borders.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/conv.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_CONV_ONCE_
#define EDGEQ_KERNELS_HWY_CONV_ONCE_
#include <algorithm>

#include "edgeq/kernels.h"
#include "kernels/hwy/pack.h"
#include "kernels/hwy/padded_rows.h"
#include "kernels/validate.h"

namespace edgeq_kernels_hwy {
// Geometry shared by every tile of one call.
struct ConvGeometry {
  int64_t cin_total, cin_g, cout_total, cout_g, groups, panels;
  int64_t stride_h, stride_w;
  // The reduction of one output pixel reads `tap_rows` x `tap_cols` runs of `run_length` contiguous
  // floats; run (i, j) starts at i * tap_row_step + j * tap_col_step from the pixel's window origin.
  // Undilated, ungrouped: one run per kernel row (kw and ci are contiguous in NHWC), else one per tap.
  int64_t tap_rows, tap_cols, run_length;
  int64_t tap_row_step, tap_col_step;
  int64_t row_pitch;                   // floats per source row
  int64_t panel_floats;
};

}  // namespace edgeq_kernels_hwy
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;

// MR pixels x NP consecutive panels (`panel_floats` apart in w), the reduction over the geometry's runs.
// Panel groups as RowsGemm's (NextPanelGroup, tile-inl.h): one broadcast feeds NP FMAs.
template <size_t MR, size_t NP>
HWY_INLINE void ConvTile(const ConvGeometry& geo, const float* const* base, const float* w, const float* bias,
                         const EpilogueVecs& e, float* const* out, size_t last_channels) {
  const DF d;
  Tile<MR> tiles[NP];
  EDGEQ_UNROLL_ALL
  for (size_t p = 0; p < NP; ++p) tiles[p].Init(bias + p * kPanel);
  for (int64_t i = 0; i < geo.tap_rows; ++i) {
    for (int64_t j = 0; j < geo.tap_cols; ++j) {
      const int64_t offset = i * geo.tap_row_step + j * geo.tap_col_step;
      const float* a[MR];
      for (size_t r = 0; r < MR; ++r) a[r] = base[r] + offset;
      for (int64_t k = 0; k < geo.run_length; ++k) {
        VF wv[NP][kVecs];
        EDGEQ_UNROLL_ALL
        for (size_t p = 0; p < NP; ++p)
          for (size_t v = 0; v < kVecs; ++v) wv[p][v] = hn::Load(d, w + static_cast<int64_t>(p) * geo.panel_floats + static_cast<int64_t>(v * kLanes));
        EDGEQ_UNROLL_ALL
        for (size_t r = 0; r < MR; ++r) {
          const VF av = hn::Set(d, a[r][k]);
          EDGEQ_UNROLL_ALL
          for (size_t p = 0; p < NP; ++p)
            for (size_t v = 0; v < kVecs; ++v) tiles[p].acc[r][v] = hn::MulAdd(av, wv[p][v], tiles[p].acc[r][v]);
        }
        w += kPanel;
      }
    }
  }
  StoreTiles(tiles, e, out, last_channels);
}

// Output rows [oh_begin, oh_end) of image n; `src` points at source row 0 of that image, which is padded
// row `src_row0` when padding was materialized.
void ConvPanelsImage(const PackedConv2dF32& packed, const Conv2dParams& p, const ConvGeometry& geo,
                     const float* src, int64_t src_row0, int64_t n, int64_t oh_begin, int64_t oh_end, float* output,
                     const EpilogueVecs& e) {
  const int64_t pixels = (oh_end - oh_begin) * p.out_w;
  const float* base[kTileRows];
  float* out[kTileRows];
  for (int64_t g = 0; g < geo.groups; ++g) {
    for (int64_t panel = 0; panel < geo.panels;) {
      const int64_t np = NextPanelGroup(geo.panels - panel);
      const float* w = packed.weights + (g * geo.panels + panel) * geo.panel_floats;
      const float* bias = packed.bias + (g * geo.panels + panel) * static_cast<int64_t>(kPanel);
      const size_t last_channels = static_cast<size_t>(std::min<int64_t>(kPanel, geo.cout_g - (panel + np - 1) * kPanel));
      const int64_t out_channel0 = g * geo.cout_g + panel * kPanel;
      // Walk the pixels in order, carrying (oh, ow) instead of dividing per pixel.
      int64_t oh = oh_begin, ow = 0;
      // Tiles as equal as possible (49 pixels: 5 or 6 each, not 8 x 6 + 1): a 1- or 2-pixel leftover
      // tile has too few independent accumulators to hide the FMA latency.
      const int64_t tiles = (pixels + static_cast<int64_t>(kTileRows) - 1) / static_cast<int64_t>(kTileRows);
      for (int64_t t = 0, q = 0; t < tiles; ++t) {
        const int64_t q_next = pixels * (t + 1) / tiles;
        const size_t rows = static_cast<size_t>(q_next - q);
        q = q_next;
        for (size_t r = 0; r < rows; ++r) {
          base[r] = src + (oh * geo.stride_h - src_row0) * geo.row_pitch + ow * geo.stride_w * geo.cin_total +
                    g * geo.cin_g;
          out[r] = output + ((n * p.out_h + oh) * p.out_w + ow) * geo.cout_total + out_channel0;
          if (++ow == p.out_w) {
            ow = 0;
            ++oh;
          }
        }
        WithTileRows(rows, [&](auto mr) {
          constexpr size_t kMr = decltype(mr)::value;
          if constexpr (kRowsTilePanels == 3) {
            if (np == 3) return ConvTile<kMr, 3>(geo, base, w, bias, e, out, last_channels);
            if (np == 2) return ConvTile<kMr, 2>(geo, base, w, bias, e, out, last_channels);
          }
          ConvTile<kMr, 1>(geo, base, w, bias, e, out, last_channels);
        });
      }
      panel += np;
    }
  }
}

// Pointwise convs (1x1, stride 1, no padding, ungrouped) are a gemm of the input pixels (rows of
// in_channels floats, contiguous in NHWC) with the packed panels: RowsGemm reads the input in place
// (MobileNetV2-224's 1x1 convs ran at 38-73 GMAC/s through the one-panel pixel tiles, the FMA peak
// being ~112). Pixels run in blocks of about 16 KB of input (at least 256 pixels), each block through
// every panel, so the block stays in L1 (L2 for wide inputs).

// Output pixels [pixel_begin, pixel_end) (batch and rows flattened: the same index in the input).
void ConvPointwise(const PackedConv2dF32& packed, const float* input, float* output, int64_t pixel_begin,
                   int64_t pixel_end, const EpilogueVecs& e) {
  const int64_t cin = packed.filter.in_channels, cout = packed.filter.out_channels;
  constexpr int64_t kRows = static_cast<int64_t>(kRowsTileRows);
  // At least 256 pixels: every block streams all the weights, and a block of 8 pixels made MobileNetV2's
  // 7x7 320 -> 1280 (1.6 MB of weights) read them 7 times from L3.
  const int64_t block = std::max<int64_t>(256, 4096 / cin / kRows * kRows);
  for (int64_t b0 = pixel_begin; b0 < pixel_end; b0 += block) {
    const int64_t rows = std::min(pixel_end - b0, block);
    RowsGemm(input + b0 * cin, cin, rows, cin, packed.weights, cin * static_cast<int64_t>(kPanel), packed.bias, e,
             output + b0 * cout, cout, cout);
  }
}

void ConvPanels(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                int64_t row_begin, int64_t row_end, float* scratch) {
  const auto& f = packed.filter;
  if (edgeq::kernels::detail::pointwise_conv(f, p)) {
    ConvPointwise(packed, input, output, row_begin * p.out_w, row_end * p.out_w, EpilogueVecs(p.activation));
    return;
  }
  ConvGeometry geo;
  geo.cin_total = f.in_channels;
  geo.cin_g = f.in_channels / f.groups;
  geo.cout_total = f.out_channels;
  geo.cout_g = f.out_channels / f.groups;
  geo.groups = f.groups;
  geo.panels = (geo.cout_g + kPanel - 1) / kPanel;
  geo.stride_h = p.stride_h;
  geo.stride_w = p.stride_w;
  geo.row_pitch = edgeq::kernels::hwy::source_row_floats(p);
  geo.tap_row_step = p.dilation_h * geo.row_pitch;
  geo.tap_rows = f.kernel_h;
  if (p.dilation_w == 1 && f.groups == 1) {
    geo.tap_cols = 1;
    geo.run_length = f.kernel_w * f.in_channels;
    geo.tap_col_step = 0;
  } else {
    geo.tap_cols = f.kernel_w;
    geo.run_length = geo.cin_g;
    geo.tap_col_step = p.dilation_w * f.in_channels;
  }
  geo.panel_floats = f.kernel_h * f.kernel_w * geo.cin_g * static_cast<int64_t>(kPanel);
  const EpilogueVecs e(p.activation);
  edgeq::kernels::hwy::for_each_image_rows(
      p, input, row_begin, row_end, scratch,
      [&](const float* src, int64_t src_row0, int64_t n, int64_t oh_begin, int64_t oh_end) {
        ConvPanelsImage(packed, p, geo, src, src_row0, n, oh_begin, oh_end, output, e);
      });
}

// One output pixel, one channel vector: bounds checked per tap (the image borders, partial vectors).
HWY_INLINE void DepthwisePixel(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* out_px,
                               int64_t n, int64_t oh, int64_t ow, int64_t c, size_t valid, int64_t c16,
                               const EpilogueVecs& e) {
  const DF d;
  VF acc = hn::Load(d, packed.bias + c);
  const int64_t channels = packed.filter.out_channels;
  for (int64_t kh = 0; kh < packed.filter.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    for (int64_t kw = 0; kw < packed.filter.kernel_w; ++kw) {
      const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
      if (iw < 0 || iw >= p.in_w) continue;
      const float* in = input + ((n * p.in_h + ih) * p.in_w + iw) * channels + c;
      const VF x = valid == kLanes ? hn::LoadU(d, in) : LoadPartial(in, valid);
      acc = hn::MulAdd(x, hn::Load(d, packed.weights + (kh * packed.filter.kernel_w + kw) * c16 + c), acc);
    }
  }
  acc = Activate(e, acc);
  if (valid == kLanes) hn::StoreU(acc, d, out_px + c);
  else StorePartial(acc, out_px + c, valid);
}

// Four adjacent output pixels whose taps all lie inside the row, one full channel vector: four
// independent accumulator chains (one chain of kh*kw dependent FMAs per pixel left the FMA units idle
// for their latency: 9 GMAC/s on a 5x5), each weight vector loaded once for the four. The sum runs in
// the same tap order as DepthwisePixel, so both give the same bits.
HWY_INLINE void DepthwiseQuad(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* out_px,
                              int64_t n, int64_t oh, int64_t ow, int64_t c, int64_t c16, const EpilogueVecs& e) {
  const DF d;
  const int64_t channels = packed.filter.out_channels;
  const int64_t step = p.stride_w * channels;
  VF a0 = hn::Load(d, packed.bias + c), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t kh = 0; kh < packed.filter.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    if (ih < 0 || ih >= p.in_h) continue;
    const float* row = input + ((n * p.in_h + ih) * p.in_w + ow * p.stride_w - p.pad_left) * channels + c;
    const float* w = packed.weights + kh * packed.filter.kernel_w * c16 + c;
    for (int64_t kw = 0; kw < packed.filter.kernel_w; ++kw) {
      const VF wv = hn::Load(d, w + kw * c16);
      const float* in = row + kw * p.dilation_w * channels;
      a0 = hn::MulAdd(hn::LoadU(d, in), wv, a0);
      a1 = hn::MulAdd(hn::LoadU(d, in + step), wv, a1);
      a2 = hn::MulAdd(hn::LoadU(d, in + 2 * step), wv, a2);
      a3 = hn::MulAdd(hn::LoadU(d, in + 3 * step), wv, a3);
    }
  }
  hn::StoreU(Activate(e, a0), d, out_px + c);
  hn::StoreU(Activate(e, a1), d, out_px + channels + c);
  hn::StoreU(Activate(e, a2), d, out_px + 2 * channels + c);
  hn::StoreU(Activate(e, a3), d, out_px + 3 * channels + c);
}

// Output pixels per block of the sliding depthwise kernel: on 32-register targets 8 accumulators and
// (kB - 1) * S + K input columns, 10 at 3x3 stride 1 up to 19 at 5x5 stride 2; 4 pixels on 16-register ones.
inline constexpr size_t kDepthwiseBlock = HWY_MAX_BYTES >= 64 ? 8 : 4;

// kB adjacent output pixels of one output row, one full channel vector, a K x K window at stride S,
// undilated. rows[kh]: window row kh at input column 0 (+ the channel offset); col0: the block's first
// tap column. Each kernel row's input columns are loaded once for the block (a column serves up to K
// outputs at stride 1); the quad kernel reloaded every column per output (16 GMAC/s on 112x112x96 stride
// 2). kChecked: rows[kh] may be nullptr (a padding row: skipped) and columns outside [0, in_w) read as
// zeros (products of +-0: the sums equal DepthwisePixel's, which skips them); unchecked blocks are inside
// the image. Taps summed in DepthwisePixel's order (bias, then kh, then kw).
// Stores the first `stores` sums (kB unless the block is wider than the output row).
template <int64_t K, int64_t S, size_t kB, bool kChecked, class Act>
HWY_INLINE void DepthwiseBlock(const float* const* rows, int64_t col0, int64_t in_w, int64_t channels, const float* w,
                               int64_t c16, const float* bias, const EpilogueVecs& e, float* out, size_t stores = kB) {
  constexpr size_t kCols = (kB - 1) * S + K;
  const DF d;
  VF acc[kB];
  const VF b = hn::LoadU(d, bias);
  EDGEQ_UNROLL_ALL
  for (size_t i = 0; i < kB; ++i) acc[i] = b;
  EDGEQ_UNROLL_ALL
  for (int64_t kh = 0; kh < K; ++kh) {
    if constexpr (kChecked) {
      if (rows[kh] == nullptr) continue;
    }
    VF col[kCols];
    if constexpr (kChecked) {
      EDGEQ_UNROLL_ALL
      for (size_t j = 0; j < kCols; ++j) {
        const int64_t iw = col0 + static_cast<int64_t>(j);
        col[j] = iw >= 0 && iw < in_w ? hn::LoadU(d, rows[kh] + iw * channels) : hn::Zero(d);
      }
    } else {
      // One pointer stepping along the row: with an address per column GCC ran out of general registers
      // (offsets parked in vector registers) and re-read every column inside each FMA.
      const float* src = rows[kh] + col0 * channels;
      EDGEQ_UNROLL_ALL
      for (size_t j = 0; j < kCols; ++j, src += channels) col[j] = hn::LoadU(d, src);
    }
    EDGEQ_UNROLL_ALL
    for (int64_t kw = 0; kw < K; ++kw) {
      const VF wv = hn::LoadU(d, w + (kh * K + kw) * c16);
      EDGEQ_UNROLL_ALL
      for (size_t i = 0; i < kB; ++i) acc[i] = hn::MulAdd(col[i * S + kw], wv, acc[i]);
    }
  }
  EDGEQ_UNROLL_ALL
  for (size_t i = 0; i < kB; ++i) {
    if (i >= stores) break;
    VF y;
    if constexpr (std::is_same_v<Act, RuntimeActivation>) {
      y = Activate(e, acc[i]);
    } else {
      y = ActivateAs<Act::value>(e, acc[i]);
    }
    hn::StoreU(y, d, out + static_cast<int64_t>(i) * channels);
  }
}

// Two output rows at once (stride 1 on 32-register targets), kB adjacent pixels each, one full channel
// vector, inside the image: the K + 1 window rows are loaded once for both (rows[0 .. K]; row r feeds
// output row 0 as kernel row r and output row 1 as kernel row r - 1), 2.5 column loads per output at 3x3
// instead of 3.75: the single-row block was bound by its loads and issue slots, not by memory (a
// prefetch of the next rows made it slower). Each sum runs in DepthwiseBlock's order: the same bits.
template <int64_t K, size_t kB, class Act>
HWY_INLINE void DepthwiseBlockPair(const float* const* rows, int64_t col0, int64_t channels, const float* w, int64_t c16,
                                   const float* bias, const EpilogueVecs& e, float* out0, float* out1) {
  constexpr size_t kCols = kB - 1 + K;
  const DF d;
  VF acc0[kB], acc1[kB];
  const VF b = hn::LoadU(d, bias);
  EDGEQ_UNROLL_ALL
  for (size_t i = 0; i < kB; ++i) acc0[i] = acc1[i] = b;
  EDGEQ_UNROLL_ALL
  for (int64_t r = 0; r <= K; ++r) {
    VF col[kCols];
    const float* src = rows[r] + col0 * channels;
    EDGEQ_UNROLL_ALL
    for (size_t j = 0; j < kCols; ++j, src += channels) col[j] = hn::LoadU(d, src);
    if (r < K) {
      EDGEQ_UNROLL_ALL
      for (int64_t kw = 0; kw < K; ++kw) {
        const VF wv = hn::LoadU(d, w + (r * K + kw) * c16);
        EDGEQ_UNROLL_ALL
        for (size_t i = 0; i < kB; ++i) acc0[i] = hn::MulAdd(col[i + kw], wv, acc0[i]);
      }
    }
    if (r >= 1) {
      EDGEQ_UNROLL_ALL
      for (int64_t kw = 0; kw < K; ++kw) {
        const VF wv = hn::LoadU(d, w + ((r - 1) * K + kw) * c16);
        EDGEQ_UNROLL_ALL
        for (size_t i = 0; i < kB; ++i) acc1[i] = hn::MulAdd(col[i + kw], wv, acc1[i]);
      }
    }
  }
  EDGEQ_UNROLL_ALL
  for (size_t i = 0; i < kB; ++i) {
    VF y0, y1;
    if constexpr (std::is_same_v<Act, RuntimeActivation>) {
      y0 = Activate(e, acc0[i]);
      y1 = Activate(e, acc1[i]);
    } else {
      y0 = ActivateAs<Act::value>(e, acc0[i]);
      y1 = ActivateAs<Act::value>(e, acc1[i]);
    }
    hn::StoreU(y0, d, out0 + static_cast<int64_t>(i) * channels);
    hn::StoreU(y1, d, out1 + static_cast<int64_t>(i) * channels);
  }
}

// One output pixel (window columns from col0), kC consecutive channel vectors from channel c: kC
// independent sums (one pixel's K * K dependent FMAs on a single vector waited on their latency: the 7x7
// and 14x14 5x5 layers of EfficientNet run mostly on border pixels). Padding rows (nullptr) and columns
// outside [0, in_w) are skipped, as DepthwisePixel does.
template <int64_t K, size_t kC>
HWY_INLINE void DepthwisePixelVecs(const float* const* row_base, int64_t c, int64_t col0, int64_t in_w, int64_t channels,
                                   const float* w, int64_t c16, const float* bias, const EpilogueVecs& e, float* out) {
  const DF d;
  VF acc[kC];
  EDGEQ_UNROLL_ALL
  for (size_t j = 0; j < kC; ++j) acc[j] = hn::LoadU(d, bias + c + static_cast<int64_t>(j * kLanes));
  for (int64_t kh = 0; kh < K; ++kh) {
    if (row_base[kh] == nullptr) continue;
    for (int64_t kw = 0; kw < K; ++kw) {
      const int64_t iw = col0 + kw;
      if (iw < 0 || iw >= in_w) continue;
      const float* in = row_base[kh] + iw * channels + c;
      const float* wk = w + (kh * K + kw) * c16 + c;
      EDGEQ_UNROLL_ALL
      for (size_t j = 0; j < kC; ++j)
        acc[j] = hn::MulAdd(hn::LoadU(d, in + j * kLanes), hn::LoadU(d, wk + j * kLanes), acc[j]);
    }
  }
  EDGEQ_UNROLL_ALL
  for (size_t j = 0; j < kC; ++j) hn::StoreU(Activate(e, acc[j]), d, out + c + static_cast<int64_t>(j * kLanes));
}

// Calls f(act) with the activation resolved at compile time for the common ones of the depthwise
// interior blocks: ReLU6 (clip), SiLU (EfficientNet), ReLU, none (one instantiation per activation: they
// cost compile time, under ASan most of all); the others switch per vector (RuntimeActivation).
template <class F>
HWY_INLINE void WithInteriorActivation(edgeq::kernels::ActivationKind kind, const F& f) {
  using Kind = edgeq::kernels::ActivationKind;
  switch (kind) {
    case Kind::kNone: return f(StaticActivation<Kind::kNone>());
    case Kind::kRelu: return f(StaticActivation<Kind::kRelu>());
    case Kind::kClip: return f(StaticActivation<Kind::kClip>());
    case Kind::kSilu: return f(StaticActivation<Kind::kSilu>());
    default: return f(RuntimeActivation());
  }
}

// Output row `oh` of image n, channel vectors [c_begin, c_end), K x K at stride S, undilated. The columns
// [ow_lo, ow_hi) whose taps are inside the input row run in blocks of kDepthwiseBlock, every channel
// vector of a block before the next block (the block's window, 3 x 10 pixels at 3x3 stride 1, stays in
// L1; sweeping the row one channel vector at a time read a cache line per pixel: the stride-1 layers of
// BM_DepthwiseF32 went from 27-30 to 34-37 GMAC/s in one A/B run, stride 2 within the noise),
// the last block moved back to end at ow_hi (it recomputes a few outputs, with the same bits, instead of
// a slower partial block); the border columns one at a time (DepthwisePixelVecs); rows with a padding
// row in the window run checked blocks.
// interior false: the border columns only (DepthwisePairInterior ran the blocks).
template <int64_t K, int64_t S>
void DepthwiseRow(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* out_row, int64_t n,
                  int64_t oh, int64_t c_begin, int64_t c_end, int64_t c16, int64_t ow_lo, int64_t ow_hi, const EpilogueVecs& e,
                  bool interior) {
  const int64_t channels = packed.filter.out_channels;
  constexpr int64_t kBlock = static_cast<int64_t>(kDepthwiseBlock);
  const int64_t ih0 = oh * S - p.pad_top;
  const bool rows_inside = ih0 >= 0 && ih0 + K <= p.in_h;
  const float* row_base[K];
  for (int64_t kh = 0; kh < K; ++kh) {
    const int64_t ih = ih0 + kh;
    row_base[kh] = ih >= 0 && ih < p.in_h ? input + ((n * p.in_h + ih) * p.in_w) * channels : nullptr;
  }
  // Output columns [ow, ow + kB) (checked or not; the first `stores` of them), every full channel vector,
  // activation Act.
  auto columns = [&](int64_t ow, auto block, auto checked, auto act, size_t stores = decltype(block)::value) {
    const int64_t col0 = ow * S - p.pad_left;
    for (int64_t c = c_begin; c < c_end; c += static_cast<int64_t>(kLanes)) {
      const float* rows[K];
      for (int64_t kh = 0; kh < K; ++kh) rows[kh] = row_base[kh] ? row_base[kh] + c : nullptr;
      DepthwiseBlock<K, S, decltype(block)::value, decltype(checked)::value, decltype(act)>(
          rows, col0, p.in_w, channels, packed.weights + c, c16, packed.bias + c, e, out_row + ow * channels + c, stores);
    }
  };
  // One output column, checked: four channel vectors at a time.
  auto column = [&](int64_t ow) {
    const int64_t col0 = ow * S - p.pad_left;
    float* out = out_row + ow * channels;
    constexpr int64_t kFour = 4 * static_cast<int64_t>(kLanes);
    int64_t c = c_begin;
    for (; c + kFour <= c_end; c += kFour)
      DepthwisePixelVecs<K, 4>(row_base, c, col0, p.in_w, channels, packed.weights, c16, packed.bias, e, out);
    for (; c < c_end; c += static_cast<int64_t>(kLanes))
      DepthwisePixelVecs<K, 1>(row_base, c, col0, p.in_w, channels, packed.weights, c16, packed.bias, e, out);
  };
  using Full = std::integral_constant<size_t, kDepthwiseBlock>;
  using Checked = std::true_type;
  using Runtime = RuntimeActivation;
  if (interior && p.out_w >= kBlock / 2 && p.out_w < 2 * kBlock) {
    // Rows narrower than two blocks (7x7 and 14x14 maps; 1-3 columns inside the padding): checked blocks
    // over the whole row, the second moved back to end at out_w, or one storing out_w sums. One column
    // at a time, these rows ran at 15 GMAC/s (BM_DepthwiseF32 7x7x960: two loads per FMA).
    for (int64_t ow = 0; ow < p.out_w; ow += kBlock) {
      const int64_t start = std::max<int64_t>(0, std::min(ow, p.out_w - kBlock));
      columns(start, Full(), Checked(), Runtime(), static_cast<size_t>(std::min(kBlock, p.out_w - start)));
    }
    return;
  }
  for (int64_t ow = 0; ow < ow_lo; ++ow) column(ow);
  if (!interior) {
    // DepthwisePairInterior ran the columns [ow_lo, ow_hi) of this row with the next one.
  } else if (ow_hi - ow_lo >= kBlock) {
    for (int64_t ow = ow_lo; ow < ow_hi; ow += kBlock) {
      const int64_t start = std::min(ow, ow_hi - kBlock);
      if (!rows_inside) {
        columns(start, Full(), Checked(), Runtime());
        continue;
      }
      // The interior blocks, nearly all the work.
      WithInteriorActivation(e.kind, [&](auto act) { columns(start, Full(), std::false_type(), act); });
    }
  } else {
    for (int64_t ow = ow_lo; ow < ow_hi; ++ow) column(ow);
  }
  for (int64_t ow = std::max(ow_lo, ow_hi); ow < p.out_w; ++ow) column(ow);
}

// The interior blocks (columns [ow_lo, ow_hi), at least one block wide) of output rows oh and oh + 1 of
// image n, K x K at stride 1, both windows inside the image: DepthwiseBlockPair; the borders are
// DepthwiseRow's (interior false).
template <int64_t K>
void DepthwisePairInterior(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* out_row0,
                           int64_t n, int64_t oh, int64_t c_begin, int64_t c_end, int64_t c16, int64_t ow_lo, int64_t ow_hi,
                           const EpilogueVecs& e) {
  const int64_t channels = packed.filter.out_channels;
  constexpr int64_t kBlock = static_cast<int64_t>(kDepthwiseBlock);
  float* out_row1 = out_row0 + p.out_w * channels;
  const float* row_base[K + 1];
  for (int64_t r = 0; r <= K; ++r) row_base[r] = input + ((n * p.in_h + oh - p.pad_top + r) * p.in_w) * channels;
  auto blocks = [&](auto act) {
    for (int64_t ow = ow_lo; ow < ow_hi; ow += kBlock) {
      const int64_t start = std::min(ow, ow_hi - kBlock);
      const int64_t col0 = start - p.pad_left;
      for (int64_t c = c_begin; c < c_end; c += static_cast<int64_t>(kLanes)) {
        const float* rows[K + 1];
        for (int64_t r = 0; r <= K; ++r) rows[r] = row_base[r] + c;
        DepthwiseBlockPair<K, kDepthwiseBlock, decltype(act)>(rows, col0, channels, packed.weights + c, c16, packed.bias + c,
                                                              e, out_row0 + start * channels + c, out_row1 + start * channels + c);
      }
    }
  };
  WithInteriorActivation(e.kind, blocks);
}

// DepthwiseRow for this call's kernel and stride, or nullptr (other sizes, dilation, unequal strides:
// the pixel and quad path).
using DepthwiseRowFn = void (*)(const PackedConv2dF32&, const Conv2dParams&, const float*, float*, int64_t, int64_t,
                                int64_t, int64_t, int64_t, int64_t, int64_t, const EpilogueVecs&, bool);
DepthwiseRowFn SelectDepthwiseRow(const PackedConv2dF32& packed, const Conv2dParams& p) {
  const auto& f = packed.filter;
  if (p.dilation_h != 1 || p.dilation_w != 1 || p.stride_h != p.stride_w || f.kernel_h != f.kernel_w) return nullptr;
  const int64_t k = f.kernel_h, s = p.stride_h;
  if (k == 3 && s == 1) return &DepthwiseRow<3, 1>;
  if (k == 3 && s == 2) return &DepthwiseRow<3, 2>;
  if (k == 5 && s == 1) return &DepthwiseRow<5, 1>;
  if (k == 5 && s == 2) return &DepthwiseRow<5, 2>;
  return nullptr;
}

// DepthwisePairInterior for this call, or nullptr: where DepthwiseRow runs at stride 1, on 32-register
// targets (two rows of 8 sums and up to 12 columns).
using DepthwisePairFn = void (*)(const PackedConv2dF32&, const Conv2dParams&, const float*, float*, int64_t, int64_t,
                                 int64_t, int64_t, int64_t, int64_t, int64_t, const EpilogueVecs&);
DepthwisePairFn SelectDepthwisePair(const PackedConv2dF32& packed, const Conv2dParams& p) {
  if constexpr (kDepthwiseBlock != 8) {
    return nullptr;
  } else {
    if (SelectDepthwiseRow(packed, p) == nullptr || p.stride_h != 1) return nullptr;
    return packed.filter.kernel_h == 3 ? &DepthwisePairInterior<3> : &DepthwisePairInterior<5>;
  }
}

void ConvDepthwise(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                   int64_t row_begin, int64_t row_end, float* /*scratch*/) {
  const int64_t channels = packed.filter.out_channels;
  const int64_t c16 = (channels + kPanel - 1) / kPanel * kPanel;
  const int64_t full = channels / static_cast<int64_t>(kLanes) * static_cast<int64_t>(kLanes);
  // Channels past the last full vector, when there is one (24 = 16 + 8: BlazeFace): the block paths run one
  // more vector ending at the last channel, overlapping the one before (its sums are the same bits, stored
  // twice), instead of the one-pixel loop below (2.7 GMAC/s on BlazeFace's 64x64x24 5x5).
  const int64_t tail = channels > full && full > 0 ? channels - static_cast<int64_t>(kLanes) : -1;
  const int64_t block_end = tail >= 0 ? channels : full;
  const EpilogueVecs e(p.activation);
  // Output columns whose every tap is inside the input row: [ow_lo, ow_hi).
  const int64_t reach = (packed.filter.kernel_w - 1) * p.dilation_w;
  int64_t ow_lo = 0, ow_hi = p.out_w;
  while (ow_lo < p.out_w && ow_lo * p.stride_w - p.pad_left < 0) ++ow_lo;
  while (ow_hi > ow_lo && (ow_hi - 1) * p.stride_w - p.pad_left + reach >= p.in_w) --ow_hi;
  const DepthwiseRowFn depthwise_row = SelectDepthwiseRow(packed, p);
  const DepthwisePairFn depthwise_pair = SelectDepthwisePair(packed, p);
  const int64_t kernel_h = packed.filter.kernel_h;
  bool pair_done = false;  // this row's interior ran with the row before it
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t n = row / p.out_h;
    const int64_t oh = row % p.out_h;
    float* out_row = output + row * p.out_w * channels;
    // Rows oh and oh + 1 (same image, in this range) whose windows are inside the image: the pair's blocks.
    bool interior = !pair_done;
    pair_done = false;
    if (interior && depthwise_pair && full > 0 && ow_hi - ow_lo >= static_cast<int64_t>(kDepthwiseBlock) &&
        row + 1 < row_end && oh + 1 < p.out_h && oh - p.pad_top >= 0 && oh - p.pad_top + kernel_h + 1 <= p.in_h) {
      depthwise_pair(packed, p, input, out_row, n, oh, 0, full, c16, ow_lo, ow_hi, e);
      if (tail >= 0) depthwise_pair(packed, p, input, out_row, n, oh, tail, channels, c16, ow_lo, ow_hi, e);
      interior = false;
      pair_done = true;
    }
    // The block path covers the full channel vectors; the loop below the rest.
    int64_t c = 0;
    if (depthwise_row) {
      depthwise_row(packed, p, input, out_row, n, oh, 0, full, c16, ow_lo, ow_hi, e, interior);
      if (tail >= 0) depthwise_row(packed, p, input, out_row, n, oh, tail, channels, c16, ow_lo, ow_hi, e, interior);
      c = block_end;
    }
    for (; c < channels; c += static_cast<int64_t>(kLanes)) {
      const size_t valid = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(kLanes), channels - c));
      int64_t ow = 0;
      if (c < full) {
        for (; ow < ow_lo; ++ow) DepthwisePixel(packed, p, input, out_row + ow * channels, n, oh, ow, c, valid, c16, e);
        for (; ow + 4 <= ow_hi; ow += 4) DepthwiseQuad(packed, p, input, out_row + ow * channels, n, oh, ow, c, c16, e);
      }
      for (; ow < p.out_w; ++ow) DepthwisePixel(packed, p, input, out_row + ow * channels, n, oh, ow, c, valid, c16, e);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
// winograd.cpp, conv_small_cin.cpp
void DispatchWinograd(const edgeq::kernels::PackedConv2dF32& packed, const edgeq::kernels::Conv2dParams& params,
                      const float* input, float* output, int64_t row_begin, int64_t row_end, float* scratch);
void DispatchConvSmallCin(const edgeq::kernels::PackedConv2dF32& packed, const edgeq::kernels::Conv2dParams& params,
                          const float* input, float* output, int64_t row_begin, int64_t row_end, float* scratch);
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;
HWY_EXPORT(ConvPanels);
HWY_EXPORT(ConvDepthwise);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchConvPanels(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,
                        float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  HWY_DYNAMIC_DISPATCH(ConvPanels)(packed, params, input, output, row_begin, row_end, scratch);
}
void DispatchConvDepthwise(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,
                           float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  HWY_DYNAMIC_DISPATCH(ConvDepthwise)(packed, params, input, output, row_begin, row_end, scratch);
}
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

namespace {
// Whichever transform was packed (the packing may have been for another map size): the call's shape
// has to allow one (winograd_tile_for's stride, dilation and map-size conditions).
bool use_winograd(const PackedConv2dF32& packed, const Conv2dParams& p) {
  return packed.winograd_weights != nullptr && winograd_tile_for(packed.filter, &p) != 0;
}
}  // namespace

size_t conv2d_f32_scratch_floats(const PackedConv2dF32& packed, const Conv2dParams& p) {
  if (packed.method == kConvMethodDepthwise) return 0;
  if (use_winograd(packed, p)) {
    const int64_t cin = packed.filter.in_channels;
    const int64_t cout16 = (packed.filter.out_channels + kPanelChannels - 1) / kPanelChannels * kPanelChannels;
    const int64_t points = (packed.winograd_tile + 2) * (packed.winograd_tile + 2);
    return static_cast<size_t>(points * winograd_chunk_tiles(packed, p) * (cin + cout16));
  }
  return padded_rows_scratch_floats(p);
}

int64_t conv2d_f32_row_alignment(const PackedConv2dF32& packed, const Conv2dParams& params) {
  return use_winograd(packed, params) ? packed.winograd_tile : 1;
}

void conv2d_f32_nhwc(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input, float* output,
                     int64_t row_begin, int64_t row_end, float* scratch) {
  detail::check_conv2d(packed, params, Family::kHwy, row_begin, row_end);
  if (row_begin == row_end) return;
  if (packed.method == kConvMethodDepthwise) {
    edgeq_kernels_hwy::DispatchConvDepthwise(packed, params, input, output, row_begin, row_end, scratch);
    return;
  }
  if (scratch == nullptr && conv2d_f32_scratch_floats(packed, params) > 0)
    throw Error(ErrorCode::kInvalidArgument, "kernels: conv2d needs scratch (conv2d_f32_scratch_floats)");
  if (packed.method == kConvMethodSmallCin) {
    edgeq_kernels_hwy::DispatchConvSmallCin(packed, params, input, output, row_begin, row_end, scratch);
    return;
  }
  if (use_winograd(packed, params)) {
    edgeq_kernels_hwy::DispatchWinograd(packed, params, input, output, row_begin, row_end, scratch);
    return;
  }
  edgeq_kernels_hwy::DispatchConvPanels(packed, params, input, output, row_begin, row_end, scratch);
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
