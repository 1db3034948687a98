// Private to the hwy family: how one int8 conv call is carried out. Plain code (no SIMD target), so the
// scratch query, the entry and every target's kernel agree on the same plan and scratch layout.
//
// Every method first widens the input rows a band of output rows reads into scratch, once: int16
// (x - input_zero_point) NHWC with the padding materialized as 0 (= the zero point), so the kernels have
// no bounds checks and no per-pixel im2col copy.
//   kRows:     groups == 1, dilation_w == 1: each kernel row of a pixel's window is one contiguous run of
//              kernel_w * cin int16 in the band image; the reduction reads kernel_h runs in place.
//   kIm2col:   grouped or dilated along w: the window is gathered per tile into im2col rows of the same
//              packed order (runs per kernel row, each padded to an even length).
//   kWinograd: 3x3, stride 1, dilation 1, ungrouped, cin in [16, 1024]: exact integer F(2x2, 3x3).
//   kQuads:    q8_quads() (AVX3_DL's AVX512-VNNI, NEON's SDOT), ungrouped, dilation_w 1: as kRows, but the band image stays u8 with
//              the padding = the zero point's code, and vpdpbusd multiplies 4 u8 x s8 at once; the sums
//              start at bias - zero_point * (the channel's weight sum), which makes them exactly
//              sum((x - zero_point) * w). Twice the multiplies per instruction of the int16 pairs.
//   kDepthwise: groups == in == out channels, 3x3 or 5x5, stride 1 or 2, dilation 1 (any target): the
//              band image stays u8 (padding = the zero point's code) and vectors run along the channels
//              (NHWC: contiguous), one int32 multiply-add per tap and channel; the sums start at
//              bias - zero_point * (the channel's weight sum), as kQuads. The other methods treat each
//              channel as a group of one and fill 1 of 16 panel lanes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edgeq/kernels.h"
#include "kernels/validate.h"

namespace edgeq::kernels::hwy {

inline constexpr int32_t kQ8MethodRows = 0;
inline constexpr int32_t kQ8MethodIm2col = 1;
inline constexpr int32_t kQ8MethodWinograd = 2;
inline constexpr int32_t kQ8MethodQuads = 3;
inline constexpr int32_t kQ8MethodDepthwise = 4;

// Winograd F(2x2, 3x3) in integers: V = B^T d B (|V| <= 4 * 255), U = (2G) g (2G)^T (|U| <= 9 * 128,
// both int16), M = sum over ci of V * U in int32 and Y' = A^T M A are ring operations mod 2^32, so
// Y' equals the true 4 * (sum of products) whenever that fits int32: 4 * 9 * cin * 255 * 128 < 2^31
// holds for cin <= 1827. Below 16 input channels the transforms cost more than the multiplies saved.
inline constexpr int64_t kQ8WinogradMinInChannels = 16;
inline constexpr int64_t kQ8WinogradMaxInChannels = 1024;
// Winograd tile channels are padded to this many (the int16 vector width of the transforms).
inline constexpr int64_t kQ8WinogradChannelAlign = 16;
// Most pixels (or Winograd tiles) one micro-tile holds on any target: sizes the im2col / M scratch.
inline constexpr int64_t kQ8MaxTileRows = 8;

// 3x3 over one input channel (first layers), kRows: the kernel's first two rows are read as pairs of
// vertically adjacent pixels from a row-pair image (int32 = pixel (i, j) | pixel (i + dilation_h, j)),
// so a window is 5 pairs, not 6 (work_bytes holds that image).
inline bool q8_row_pair_filter(const Conv2dFilter& f) {
  return f.in_channels == 1 && f.groups == 1 && f.kernel_h == 3 && f.kernel_w == 3;
}

// kDepthwise's filters and calls (see the file comment).
inline bool q8_depthwise_conv(const Conv2dFilter& f, const Conv2dParams& p) {
  const bool square_3_or_5 = f.kernel_h == f.kernel_w && (f.kernel_h == 3 || f.kernel_h == 5);
  return f.groups == f.in_channels && f.out_channels == f.in_channels && square_3_or_5 && p.stride_h >= 1 &&
         p.stride_h <= 2 && p.stride_w >= 1 && p.stride_w <= 2 && p.dilation_h == 1 && p.dilation_w == 1;
}

// kQuads convs that are a plain gemm over the input pixels (AVX3_DL runs them without the band image):
// pointwise, with whole quads per pixel.
inline bool q8_pointwise_conv(const Conv2dFilter& f, const Conv2dParams& p) {
  return detail::pointwise_conv(f, p) && f.in_channels % 4 == 0;
}

struct Q8ConvPlan {
  int32_t method = kQ8MethodRows;
  int64_t image_w = 0;        // columns of the band image (padded coordinates, from -pad_left)
  int64_t image_c = 0;        // int16 (kQuads, kDepthwise: u8) channels per band-image pixel (Winograd: padded to 16)
  int64_t band_rows = 0;      // output rows per band (Winograd: tile rows per band)
  int64_t band_in_rows = 0;   // image rows a full band holds
  int64_t chunk_tiles = 0;    // Winograd: tiles transformed at once
  size_t image_bytes = 0;     // band image (+ slack for the one-element overread of odd runs)
  size_t work_bytes = 0;      // im2col rows, row-pair image, or Winograd V [16][chunk][image_c] + M [16][8][16]
  size_t scratch_bytes() const { return image_bytes + work_bytes + 64; }  // + 64 to align the caller's pointer
};

// The one place that decides an int8 conv's method: from the filter, the conv's stride / dilation and
// whether the int8 product is a quad one (q8_quads(): AVX3_DL VNNI or the Arm dot product). Quads before Winograd: on Zen 4 the direct quad
// kernel runs cnn-m's conv2 (14x14, 32 -> 64) in 17.9 us and conv3 (7x7, 64 -> 128) in 16.6 us,
// Winograd's int16 pairs in 20.7 and 24.9 us (bench/kernels BM_Conv3x3Q8): the same multiply-adds per
// output at twice the products each.
int32_t choose_conv2d_q8_method(const Conv2dFilter& filter, const Conv2dParams& conv, bool quads);

// The call's geometry for the method packed.method (chosen at pack time). Throws kInvalidArgument when
// the call cannot run it: another stride / dilation than packed for, or kQuads off AVX3_DL.
Q8ConvPlan plan_conv2d_q8(const PackedConv2dQ8& packed, const Conv2dParams& params);

}  // namespace edgeq::kernels::hwy
