// int8 packing for the hwy family (plain C++, run once at session compile) and the per-call plan.
// Layouts (independent of the SIMD target, like the f32 ones): the reduction is interleaved in int16 or
// int8 pairs per output channel, [pairs][16 channels][2], the operand order of vpmaddwd (pairwise int16
// multiply, int32 add); bias and multipliers are padded to whole 16-channel panels (padding: 0).
//   conv:     int16 [group][panel][kh][row_pairs][16][2]: a kernel row's (kw, ci) run, padded to even,
//             so the kRows kernel reads each run straight from the widened NHWC input.
//   winograd: int16 [16][panel][cin16 / 2][16][2], (2G) g (2G)^T per (co, ci).
//   gemm:     int8 [panel][K / 2][16][2]: batch-1 fully-connected layers are weight-bandwidth bound.
//   quads:    int8 [panel][K / 4][16][4] (conv: [panel][kh][row_quads][16][4]), the operand order of
//             AVX512-VNNI vpdpbusd and Arm SDOT (4 8-bit products summed into int32), plus each channel's
//             weight sum; packed only while q8_quads() (AVX3_DL, or NEON with the dot product), where the
//             kernels read them.
// A conv packs only the layout of its method (choose_conv2d_q8_method, decided once here and stored
// in PackedConv2dQ8::method); a gemm packs the quads while q8_quads() and the pairs otherwise.
#include <algorithm>
#include <utility>
#include <cstdint>
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/hwy/q8_plan.h"
#include "kernels/validate.h"

namespace edgeq::kernels::hwy {

using detail::alloc_q8;
using detail::Q8Buffers;
using detail::round_up;

namespace {
constexpr int64_t kPanel = kPanelChannels;

// Index of reduction step kk, channel lane `lane`, in a panel of pairs.
inline int64_t pair_index(int64_t kk, int64_t lane) { return (kk / 2) * kPanel * 2 + lane * 2 + kk % 2; }
// The same in a panel of quads.
inline int64_t quad_index(int64_t kk, int64_t lane) { return (kk / 4) * kPanel * 4 + lane * 4 + kk % 4; }

// Bytes of a quad layout with `quads` steps per panel and its column sums, 64-byte aligned.
size_t quad_bytes(int64_t panels, int64_t quads) {
  return static_cast<size_t>(round_up(panels * quads * kPanel * 4, 64) + round_up(panels * kPanel * 4, 64));
}
// Carves the quad weights and column sums out of `at` (quad_bytes long).
std::pair<int8_t*, int32_t*> quad_buffers(std::byte* at, int64_t panels, int64_t quads) {
  return {reinterpret_cast<int8_t*>(at), reinterpret_cast<int32_t*>(at + round_up(panels * quads * kPanel * 4, 64))};
}

bool winograd_filter(const Conv2dFilter& f) {
  return f.kernel_h == 3 && f.kernel_w == 3 && f.groups == 1 && f.in_channels >= kQ8WinogradMinInChannels &&
         f.in_channels <= kQ8WinogradMaxInChannels;
}

// U = (2G) g (2G)^T for every (co, ci), exact in integers (|U| <= 9 * 128).
void pack_winograd_q8(const int8_t* weight_oihw, int64_t cout, int64_t cin, int64_t cin16, int16_t* u) {
  static constexpr int32_t kG2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  for (int64_t co = 0; co < cout; ++co) {
    for (int64_t ci = 0; ci < cin; ++ci) {
      const int8_t* g = weight_oihw + (co * cin + ci) * 9;
      int32_t gg[4][3];  // (2G) g
      for (int i = 0; i < 4; ++i)
        for (int k = 0; k < 3; ++k) gg[i][k] = kG2[i][0] * g[0 * 3 + k] + kG2[i][1] * g[1 * 3 + k] + kG2[i][2] * g[2 * 3 + k];
      for (int i = 0; i < 4; ++i) {
        for (int j = 0; j < 4; ++j) {
          const int32_t value = gg[i][0] * kG2[j][0] + gg[i][1] * kG2[j][1] + gg[i][2] * kG2[j][2];
          const int64_t xi = 4 * i + j;
          u[(xi * panels + co / kPanel) * cin16 * kPanel + pair_index(ci, co % kPanel)] = static_cast<int16_t>(value);
        }
      }
    }
  }
}

// kDepthwise: each channel's weight sum, bias / multipliers by channel, and the weights: on AVX512-VNNI
// (q8_product() == kVnni) s8 quads [panel][row group][column][16][4] (a group: up to 4 kernel rows, byte k
// = row 4 * group + k, 0 past the kernel; depthwise_q8.cpp's DepthwiseQuadsBand), elsewhere int32
// [tap][channel] (channels padded to a panel, padding 0).
PackedConv2dQ8 pack_depthwise_q8(const Conv2dFilter& f, const int8_t* weight_oihw, const int32_t* bias,
                                 const float* multipliers) {
  const int64_t channels = f.out_channels, taps = f.kernel_h * f.kernel_w;
  const int64_t padded = round_up(channels, kPanel);
  const bool quads = q8_product() == Q8Product::kVnni;
  const int64_t groups = (f.kernel_h + 3) / 4;
  const int64_t weight_bytes = quads ? round_up(padded / kPanel * groups * f.kernel_w * kPanel * 4, 64) : round_up(taps * padded * 4, 64);
  Q8Buffers b = alloc_q8(static_cast<size_t>(weight_bytes + padded * 4), static_cast<size_t>(padded));
  int32_t* w = reinterpret_cast<int32_t*>(b.weights);
  int8_t* wq = reinterpret_cast<int8_t*>(b.weights);
  int32_t* sums = reinterpret_cast<int32_t*>(b.weights + weight_bytes);
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < taps; ++t) {
      const int8_t v = weight_oihw[c * taps + t];  // OIHW with one input channel per group
      if (quads) {
        const int64_t row = t / f.kernel_w, col = t % f.kernel_w;
        wq[(((c / kPanel) * groups + row / 4) * f.kernel_w + col) * kPanel * 4 + (c % kPanel) * 4 + row % 4] = v;
      } else {
        w[t * padded + c] = v;
      }
      sums[c] += v;
    }
    b.bias[c] = bias ? bias[c] : 0;
    b.multipliers[c] = multipliers[c];
  }
  PackedConv2dQ8 packed;
  packed.family = Family::kHwy;
  packed.filter = f;
  packed.method = kQ8MethodDepthwise;
  packed.storage = b.storage;
  packed.storage_bytes = b.bytes;
  packed.bias = b.bias;
  packed.multipliers = b.multipliers;
  packed.depthwise_weights = quads ? nullptr : w;
  packed.quad_weights = quads ? wq : nullptr;
  packed.col_sums = sums;
  return packed;
}
}  // namespace

int32_t choose_conv2d_q8_method(const Conv2dFilter& f, const Conv2dParams& p, bool quads) {
  if (q8_depthwise_conv(f, p)) return kQ8MethodDepthwise;
  if (quads && f.groups == 1 && p.dilation_w == 1) return kQ8MethodQuads;
  if (winograd_filter(f) && p.stride_h == 1 && p.stride_w == 1 && p.dilation_h == 1 && p.dilation_w == 1)
    return kQ8MethodWinograd;
  return f.groups == 1 && p.dilation_w == 1 ? kQ8MethodRows : kQ8MethodIm2col;
}

PackedConv2dQ8 pack_conv2d_qu8_qc8w(const Conv2dParams& conv, const int8_t* weight_oihw, const int32_t* bias,
                                    const float* multipliers) {
  const Conv2dFilter& f = conv.filter;
  detail::check_filter(f);
  if (weight_oihw == nullptr || multipliers == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 conv2d needs weights and multipliers");
  const int32_t method = choose_conv2d_q8_method(f, conv, q8_quads());
  if (method == kQ8MethodDepthwise) return pack_depthwise_q8(f, weight_oihw, bias, multipliers);
  const int64_t cin_g = f.in_channels / f.groups, cout_g = f.out_channels / f.groups;
  const int64_t row_pairs = (f.kernel_w * cin_g + 1) / 2;
  const int64_t k_padded = f.kernel_h * 2 * row_pairs;
  const int64_t panels = (cout_g + kPanel - 1) / kPanel;
  const int64_t panel_count = f.groups * panels;
  // Only the layout `method` reads.
  const bool direct = method == kQ8MethodRows || method == kQ8MethodIm2col;
  const bool winograd = method == kQ8MethodWinograd;
  const bool quads = method == kQ8MethodQuads;
  const size_t weight_count = direct ? static_cast<size_t>(panel_count * k_padded * kPanel) : 0;
  const int64_t cin16 = winograd ? round_up(f.in_channels, kQ8WinogradChannelAlign) : 0;
  const size_t winograd_count = static_cast<size_t>(16 * panels * cin16 * kPanel);
  const size_t direct_bytes = static_cast<size_t>(round_up(static_cast<int64_t>(weight_count * 2), 64));
  const size_t winograd_bytes = static_cast<size_t>(round_up(static_cast<int64_t>(winograd_count * 2), 64));
  const int64_t row_quads = (f.kernel_w * cin_g + 3) / 4;
  const size_t quads_bytes = quads ? quad_bytes(panels, f.kernel_h * row_quads) : 0;
  Q8Buffers b = alloc_q8(direct_bytes + winograd_bytes + quads_bytes, static_cast<size_t>(panel_count * kPanel));
  int16_t* w = direct ? reinterpret_cast<int16_t*>(b.weights) : nullptr;
  for (int64_t g = 0; g < f.groups; ++g) {
    for (int64_t co_g = 0; co_g < cout_g; ++co_g) {
      const int64_t co = g * cout_g + co_g;
      const int64_t panel = g * panels + co_g / kPanel, lane = co_g % kPanel;
      if (direct) {
        int16_t* dst = w + panel * k_padded * kPanel;
        for (int64_t kh = 0; kh < f.kernel_h; ++kh)
          for (int64_t kw = 0; kw < f.kernel_w; ++kw)
            for (int64_t ci = 0; ci < cin_g; ++ci)
              dst[pair_index(kh * 2 * row_pairs + kw * cin_g + ci, lane)] =
                  weight_oihw[((co * cin_g + ci) * f.kernel_h + kh) * f.kernel_w + kw];
      }
      b.bias[panel * kPanel + lane] = bias ? bias[co] : 0;
      b.multipliers[panel * kPanel + lane] = multipliers[co];
    }
  }
  PackedConv2dQ8 packed;
  packed.family = Family::kHwy;
  packed.filter = f;
  packed.method = method;
  packed.storage = b.storage;
  packed.storage_bytes = b.bytes;
  packed.weights = w;
  packed.bias = b.bias;
  packed.multipliers = b.multipliers;
  packed.k_padded = k_padded;
  packed.row_pairs = row_pairs;
  if (winograd) {
    int16_t* u = reinterpret_cast<int16_t*>(b.weights + direct_bytes);
    pack_winograd_q8(weight_oihw, f.out_channels, f.in_channels, cin16, u);
    packed.winograd_weights = u;
    packed.winograd_cin = cin16;
  }
  if (quads) {
    auto [wq, sums] = quad_buffers(b.weights + direct_bytes + winograd_bytes, panels, f.kernel_h * row_quads);
    for (int64_t co = 0; co < f.out_channels; ++co) {
      int8_t* dst = wq + (co / kPanel) * f.kernel_h * row_quads * kPanel * 4;
      for (int64_t kh = 0; kh < f.kernel_h; ++kh)
        for (int64_t kw = 0; kw < f.kernel_w; ++kw)
          for (int64_t ci = 0; ci < cin_g; ++ci) {
            const int8_t v = weight_oihw[((co * cin_g + ci) * f.kernel_h + kh) * f.kernel_w + kw];
            dst[quad_index(kh * 4 * row_quads + kw * cin_g + ci, co % kPanel)] = v;
            sums[co] += v;
          }
    }
    packed.quad_weights = wq;
    packed.col_sums = sums;
    packed.row_quads = row_quads;
  }
  return packed;
}

PackedGemmQ8 pack_gemm_qu8_qc8w(const int8_t* src, int64_t k, int64_t n, BLayout layout, const int32_t* bias,
                                const float* multipliers) {
  if (k < 1 || n < 1 || src == nullptr || multipliers == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm pack needs K, N >= 1, B and multipliers");
  const int64_t k_padded = round_up(k, 2);
  const int64_t n16 = round_up(n, kPanel);
  const bool quads = q8_quads();
  const int64_t k_quads = (k + 3) / 4;
  // The quad kernels read the quads only: the pairs are packed for the others.
  const size_t pairs_bytes = quads ? 0 : static_cast<size_t>(round_up(n16 * k_padded, 64));
  Q8Buffers b = alloc_q8(pairs_bytes + (quads ? quad_bytes(n16 / kPanel, k_quads) : 0), static_cast<size_t>(n16));
  int8_t* w = quads ? nullptr : reinterpret_cast<int8_t*>(b.weights);
  for (int64_t j = 0; j < n; ++j) {
    if (!quads) {
      int8_t* dst = w + (j / kPanel) * k_padded * kPanel;
      for (int64_t kk = 0; kk < k; ++kk)
        dst[pair_index(kk, j % kPanel)] = detail::gemm_b_at(src, layout, k, n, kk, j);
    }
    b.bias[j] = bias ? bias[j] : 0;
    b.multipliers[j] = multipliers[j];
  }
  PackedGemmQ8 packed;
  packed.family = Family::kHwy;
  packed.k = k;
  packed.n = n;
  packed.k_padded = k_padded;
  packed.storage = b.storage;
  packed.storage_bytes = b.bytes;
  packed.weights_s8 = w;
  packed.bias = b.bias;
  packed.multipliers = b.multipliers;
  if (quads) {
    auto [wq, sums] = quad_buffers(b.weights + pairs_bytes, n16 / kPanel, k_quads);
    for (int64_t j = 0; j < n; ++j) {
      int8_t* dst = wq + (j / kPanel) * k_quads * kPanel * 4;
      for (int64_t kk = 0; kk < k; ++kk) {
        const int8_t v = detail::gemm_b_at(src, layout, k, n, kk, j);
        dst[quad_index(kk, j % kPanel)] = v;
        sums[j] += v;
      }
    }
    packed.quad_weights = wq;
    packed.col_sums = sums;
    packed.k_quads = k_quads;
  }
  return packed;
}

namespace {
// Band images are sized to stay in L1/L2 (at least one output row, whatever the width).
constexpr int64_t kQ8BandBytes = 64 * 1024;
// Winograd V holds 16 x chunk tiles x channels int16: ~64 KB.
constexpr int64_t kQ8WinogradVBytes = 64 * 1024;
constexpr size_t kSlackBytes = 64;  // the overread past a band image (odd runs: one int16; quads: 3 bytes;
                                    // depthwise: a panel's 16 bytes from its last channels)

size_t aligned_bytes(int64_t bytes) { return static_cast<size_t>(round_up(bytes, 64)); }
}  // namespace

Q8ConvPlan plan_conv2d_q8(const PackedConv2dQ8& packed, const Conv2dParams& p) {
  const Conv2dFilter& f = packed.filter;
  Q8ConvPlan plan;
  plan.method = packed.method;
  // The choice this call would make on the target it was packed for must be the packed one.
  const bool vnni_depthwise = packed.method == kQ8MethodDepthwise && packed.quad_weights != nullptr;
  if (choose_conv2d_q8_method(f, p, packed.method == kQ8MethodQuads) != packed.method || (packed.method == kQ8MethodQuads && !q8_quads()) ||
      (vnni_depthwise && q8_product() != Q8Product::kVnni))
    throw Error(ErrorCode::kInvalidArgument, "kernels: this int8 conv2d was packed for another stride / dilation or target than " +
                                                 target_name() + " (pack with the conv's params on the target that runs it)");
  const bool quads = packed.method == kQ8MethodQuads;
  const bool u8_image = quads || packed.method == kQ8MethodDepthwise;
  if (packed.method == kQ8MethodWinograd) {
    const int64_t tiles_w = (p.out_w + 1) / 2, tiles_h = (p.out_h + 1) / 2;
    plan.image_w = 2 * tiles_w + 2;
    plan.image_c = packed.winograd_cin;
    plan.chunk_tiles = std::max(kQ8MaxTileRows, kQ8WinogradVBytes / (16 * plan.image_c * 2));
    plan.band_rows = std::clamp<int64_t>(plan.chunk_tiles / tiles_w, 1, tiles_h);
    plan.chunk_tiles = std::min(plan.chunk_tiles, plan.band_rows * tiles_w);
    plan.band_in_rows = 2 * plan.band_rows + 2;
    plan.image_bytes = aligned_bytes(plan.band_in_rows * plan.image_w * plan.image_c * 2) + kSlackBytes;
    plan.work_bytes = aligned_bytes(16 * plan.chunk_tiles * plan.image_c * 2) +
                      aligned_bytes(16 * kQ8MaxTileRows * kPanel * 4);
    return plan;
  }
  plan.image_w = (p.out_w - 1) * p.stride_w + (f.kernel_w - 1) * p.dilation_w + 1;
  plan.image_c = f.in_channels;
  const int64_t row_bytes = plan.image_w * plan.image_c * (u8_image ? 1 : 2);
  const int64_t window_rows = (f.kernel_h - 1) * p.dilation_h + 1;
  const int64_t fit_rows = kQ8BandBytes / std::max<int64_t>(row_bytes, 1);
  // kQuads: at least 2 output rows, the two rows of a fused 2x2 max pool's windows.
  const int64_t min_rows = quads ? std::min<int64_t>(2, std::max<int64_t>(p.out_h, 1)) : 1;
  plan.band_rows = std::clamp<int64_t>(fit_rows > window_rows ? (fit_rows - window_rows) / p.stride_h + 1 : 1, min_rows,
                                       std::max<int64_t>(p.out_h, 1));
  plan.band_in_rows = (plan.band_rows - 1) * p.stride_h + window_rows;
  plan.image_bytes = aligned_bytes(plan.band_in_rows * row_bytes) + kSlackBytes;
  plan.work_bytes = plan.method == kQ8MethodIm2col ? aligned_bytes(kQ8MaxTileRows * packed.k_padded * 2) : 0;
  if (plan.method == kQ8MethodRows && q8_row_pair_filter(f)) plan.work_bytes = aligned_bytes(plan.band_in_rows * plan.image_w * 4);
  return plan;
}

}  // namespace edgeq::kernels::hwy
