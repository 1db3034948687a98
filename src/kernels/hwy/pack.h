// Private to the hwy family: algorithm tags stored in PackedConv2dF32::method.
#pragma once

#include <algorithm>
#include <cstdint>

#include "edgeq/kernels.h"

namespace edgeq::kernels::hwy {
inline constexpr int32_t kConvMethodPanels = 0;     // general: implicit GEMM over 16-channel panels
inline constexpr int32_t kConvMethodDepthwise = 1;  // one input + one output channel per group
// 3x3, ungrouped, in_channels <= kSmallCinMaxChannels: direct conv with compile-time taps
// (conv_small_cin.cpp), the panel weight layout.
inline constexpr int32_t kConvMethodSmallCin = 2;
inline constexpr int64_t kSmallCinMaxChannels = 4;
// Below this many input channels the Winograd transforms cost more than the multiplies they save
// (measured: 16 -> 32 channels on 14x14 slower than direct, re-measured on Zen3 side by side: 22.7 us
// vs 20.1 us; 32 -> 64 1.5x faster).
inline constexpr int64_t kWinogradMinInChannels = 32;
// Below this many output pixels per image the direct path is used: Winograd's transformed weights are
// 16/9 of the direct ones and small maps reuse them over few tiles (a 7x7 map: 16 tiles for 49 pixels),
// so the conv streams weights. ResNet-18's 3x3 512 -> 512 at 7x7 on Zen 4: direct 1.07 ms (107 GMAC/s,
// the 3-panel tile), Winograd 0.90-1.29 ms from run to run; at 14x14 256 -> 256 Winograd 0.72 ms, direct 1.06.
inline constexpr int64_t kWinogradMinOutputPixels = 100;
// F(4x4, 3x3) from this many output pixels per image (below it, F(2x2, 3x3)): 36 multiplies per 16
// outputs instead of 16 per 4, for 36 / 16 of F(2x2)'s transformed weights, heavier transforms and a
// last tile row / column partly outside the map. Measured on Zen 5 (AVX3_DL, BM_Conv3x3, medians of 3,
// F(4x4) vs F(2x2)): 56x56 64 -> 64 653 vs 857 us, 28x28 128 -> 128 343 vs 683, 28x28 32 -> 32 44 vs 60,
// 20x20 256 -> 256 674 vs 1202. At 14x14 (16 tiles of 4x4 for 196 pixels) the bench had them level
// (256 -> 256 456-665 vs 509-630 us), but inside ResNet-18, its 9.4 MB of F(4x4) weights coming from
// DRAM, layer3's convs took 857 us against ~750 with F(2x2).
inline constexpr int64_t kWinogradF43MinOutputPixels = 400;

// The Winograd output tile a 3x3 conv packs for: 0 (direct only), 2 (F(2x2, 3x3)) or 4 (F(4x4, 3x3)).
// Without a call shape: F(2x2, 3x3) for every filter that allows it (a stride-1 call of any size can
// use it); with one, only the transform that call runs (none below kWinogradMinOutputPixels).
inline int32_t winograd_tile_for(const Conv2dFilter& f, const Conv2dParams* call) {
  if (f.kernel_h != 3 || f.kernel_w != 3 || f.groups != 1 || f.in_channels < kWinogradMinInChannels) return 0;
  if (call == nullptr) return 2;
  const Conv2dParams& p = *call;
  if (p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 || p.dilation_w != 1 ||
      p.out_h * p.out_w < kWinogradMinOutputPixels)
    return 0;
  return p.out_h * p.out_w >= kWinogradF43MinOutputPixels ? 4 : 2;
}

// Winograd: output tiles a call of `packed` (winograd_tile set) transforms per chunk. Every chunk streams
// all n x n transformed weight matrices (n x n x cin x cout16 floats, n = tile + 2) once; the scratch
// holds n x n x chunk x (cin + cout16) floats. A chunk of cin * cout16 / (cin + cout16) tiles or more
// moves no more weight bytes per tile than scratch bytes, so wide convs (ResNet's 256 -> 256 at 14x14:
// 4 MB of weights, 49 tiles) take the whole image in one chunk instead of re-reading the weights from
// L3 for every 8 tiles. The scratch query and the kernel both ask here, so they agree.
inline int64_t winograd_chunk_tiles(const PackedConv2dF32& packed, const Conv2dParams& p) {
  const int64_t cin = packed.filter.in_channels;
  const int64_t cout16 = (packed.filter.out_channels + kPanelChannels - 1) / kPanelChannels * kPanelChannels;
  const int64_t tile = packed.winograd_tile;
  const int64_t image_tiles = ((p.out_h + tile - 1) / tile) * ((p.out_w + tile - 1) / tile);
  const int64_t balanced = cin * cout16 / (cin + cout16);
  const int64_t chunk = std::max<int64_t>(8, std::min<int64_t>(balanced, 256));
  return std::min(chunk, std::max<int64_t>(image_tiles, 1));
}
}  // namespace edgeq::kernels::hwy
