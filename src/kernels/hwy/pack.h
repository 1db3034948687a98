// Private to the hwy family: algorithm tags stored in PackedConv2dF32::method.
#pragma once

#include <cstdint>

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
// Winograd F(2x2, 3x3): output tiles transformed per call in chunks of this many (scratch holds
// 16 x chunk x (cin + cout16) floats: ~256 KB at most, so the chunk stays in L2).
inline int64_t winograd_chunk_tiles(int64_t cin, int64_t cout16) {
  const int64_t fit = 65536 / (16 * (cin + cout16));
  return fit < 8 ? 8 : (fit > 64 ? 64 : fit);
}
}  // namespace edgeq::kernels::hwy
