// Packing for the hwy family: plain C++ (the layouts do not depend on the SIMD target, see
// kPanelChannels), run once at session compile.
//   conv, general:   weights [group][panel][kh][kw][ci][16], bias [group][panel * 16]; channels past
//                    out_channels/groups are zero so a full panel can always be computed. The same
//                    layout serves the small-cin direct path (3x3, 1..4 input channels).
//   conv, depthwise: (one input and one output channel per group) weights [kh][kw][C16], bias [C16],
//                    C16 = round_up(C, 16): vectors run along the channels.
//   gemm:            B [panel][k][16], bias [N16].
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/hwy/pack.h"
#include "kernels/validate.h"

namespace edgeq::kernels::hwy {

using detail::round_up;

namespace {
constexpr int64_t kPanel = kPanelChannels;

// Winograd filter transform U = G g G^T for every (co, ci), F(2x2, 3x3) (tile 2, 4x4 points) or
// F(4x4, 3x3) (tile 4, 6x6 points), computed in double; stored as n x n gemm B matrices [ci][co] in
// 16-channel panels: u[((xi * panels + panel) * cin + ci) * 16 + lane], xi = n * i + j.
void pack_winograd(int32_t tile, const float* weight_oihw, int64_t cout, int64_t cin, float* u) {
  static constexpr double kG23[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double kG43[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                        {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6},  {0, 0, 1}};
  const int n = tile + 2;
  const double(*g_rows)[3] = tile == 4 ? kG43 : kG23;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  for (int64_t co = 0; co < cout; ++co) {
    for (int64_t ci = 0; ci < cin; ++ci) {
      const float* g = weight_oihw + (co * cin + ci) * 9;
      double gg[6][3];  // G g
      for (int i = 0; i < n; ++i)
        for (int k = 0; k < 3; ++k) gg[i][k] = g_rows[i][0] * g[0 * 3 + k] + g_rows[i][1] * g[1 * 3 + k] + g_rows[i][2] * g[2 * 3 + k];
      for (int i = 0; i < n; ++i) {
        for (int j = 0; j < n; ++j) {
          const double value = gg[i][0] * g_rows[j][0] + gg[i][1] * g_rows[j][1] + gg[i][2] * g_rows[j][2];
          const int64_t xi = n * i + j;
          u[((xi * panels + co / kPanel) * cin + ci) * kPanel + co % kPanel] = static_cast<float>(value);
        }
      }
    }
  }
}

float* alloc_floats(PackedConv2dF32& packed, size_t floats) {
  packed.storage_bytes = std::max<size_t>(floats, 1) * sizeof(float);
  packed.storage = aligned_alloc_shared(packed.storage_bytes);
  float* p = reinterpret_cast<float*>(packed.storage.get());
  std::memset(p, 0, floats * sizeof(float));
  return p;
}
}  // namespace

PackedConv2dF32 pack_conv2d_f32(const Conv2dFilter& f, const float* weight_oihw, const float* bias, const Conv2dParams* call) {
  detail::check_filter(f);
  if (weight_oihw == nullptr) throw Error(ErrorCode::kInvalidArgument, "kernels: conv2d weights are null");
  const int64_t cin_g = f.in_channels / f.groups;
  const int64_t cout_g = f.out_channels / f.groups;
  const int64_t taps = f.kernel_h * f.kernel_w;
  PackedConv2dF32 packed;
  packed.family = Family::kHwy;
  packed.filter = f;
  if (cin_g == 1 && cout_g == 1) {
    packed.method = kConvMethodDepthwise;
    const int64_t c16 = round_up(f.out_channels, kPanel);
    packed.weight_floats = static_cast<size_t>(taps * c16);
    float* w = alloc_floats(packed, packed.weight_floats + static_cast<size_t>(c16));
    float* b = w + packed.weight_floats;
    for (int64_t c = 0; c < f.out_channels; ++c) {
      for (int64_t t = 0; t < taps; ++t) w[t * c16 + c] = weight_oihw[c * taps + t];
      b[c] = bias ? bias[c] : 0.0f;
    }
    packed.weights = w;
    packed.bias = b;
    return packed;
  }
  const bool small_cin = f.kernel_h == 3 && f.kernel_w == 3 && f.groups == 1 && f.in_channels <= kSmallCinMaxChannels;
  packed.method = small_cin ? kConvMethodSmallCin : kConvMethodPanels;
  const int64_t panels = (cout_g + kPanel - 1) / kPanel;
  const int64_t panel_floats = taps * cin_g * kPanel;
  packed.weight_floats = static_cast<size_t>(f.groups * panels * panel_floats);
  const size_t bias_floats = static_cast<size_t>(f.groups * panels * kPanel);
  const int32_t winograd_tile = winograd_tile_for(f, call);
  const int64_t winograd_points = (winograd_tile + 2) * (winograd_tile + 2);
  const size_t winograd_floats = winograd_tile ? static_cast<size_t>(winograd_points * panels * cin_g * kPanel) : 0;
  float* w = alloc_floats(packed, packed.weight_floats + bias_floats + winograd_floats);
  float* b = w + packed.weight_floats;
  if (winograd_tile) {
    float* u = b + bias_floats;  // bias_floats is a multiple of 16: stays 64-byte aligned
    pack_winograd(winograd_tile, weight_oihw, f.out_channels, f.in_channels, u);
    packed.winograd_weights = u;
    packed.winograd_tile = winograd_tile;
  }
  for (int64_t g = 0; g < f.groups; ++g) {
    for (int64_t co_g = 0; co_g < cout_g; ++co_g) {
      const int64_t co = g * cout_g + co_g;
      const int64_t panel = co_g / kPanel, lane = co_g % kPanel;
      float* dst = w + (g * panels + panel) * panel_floats + lane;
      for (int64_t ci = 0; ci < cin_g; ++ci)
        for (int64_t t = 0; t < taps; ++t)  // t = kh * kernel_w + kw
          dst[(t * cin_g + ci) * kPanel] = weight_oihw[(co * cin_g + ci) * taps + t];
      b[(g * panels + panel) * kPanel + lane] = bias ? bias[co] : 0.0f;
    }
  }
  packed.weights = w;
  packed.bias = b;
  return packed;
}

int32_t conv2d_f32_packing(const Conv2dFilter& filter, const Conv2dParams& call) { return winograd_tile_for(filter, &call); }

PackedConv2dF32 scale_conv2d_f32_input_channels(const PackedConv2dF32& packed, const float* scale, float* dst) {
  if (packed.weights == nullptr || scale == nullptr || dst == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: scale_conv2d_f32_input_channels needs packed weights, scale and dst");
  const Conv2dFilter& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups, taps = f.kernel_h * f.kernel_w;
  if (packed.method == kConvMethodDepthwise) {  // [taps][c16]: channel c reads input channel c
    const int64_t c16 = round_up(f.out_channels, kPanel);
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < c16; ++c) dst[t * c16 + c] = packed.weights[t * c16 + c] * (c < f.out_channels ? scale[c] : 0.0f);
  } else {  // [group][panel][tap][ci_g][16]
    const int64_t panels = (f.out_channels / f.groups + kPanel - 1) / kPanel;
    const int64_t rows = taps * cin_g;
    for (int64_t gp = 0; gp < f.groups * panels; ++gp) {
      const float* group_scale = scale + gp / panels * cin_g;
      for (int64_t r = 0; r < rows; ++r) {
        const float sc = group_scale[r % cin_g];
        const int64_t base = (gp * rows + r) * kPanel;
        for (int64_t lane = 0; lane < kPanel; ++lane) dst[base + lane] = packed.weights[base + lane] * sc;
      }
    }
  }
  PackedConv2dF32 view = packed;
  view.storage.reset();
  view.storage_bytes = 0;
  view.weights = dst;
  view.winograd_weights = nullptr;
  view.winograd_tile = 0;
  return view;
}

size_t packed_gemm_f32_floats(int64_t k, int64_t n) {
  const int64_t n16 = round_up(n, kPanel);
  return static_cast<size_t>(n16 * k + n16);
}

PackedGemmF32 pack_gemm_f32_into(float* dst, const float* b, int64_t k, int64_t n, BLayout layout, const float* bias,
                                 float alpha) {
  if (k < 1 || n < 1 || dst == nullptr || b == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: gemm pack needs K, N >= 1 and non-null B");
  if (reinterpret_cast<uintptr_t>(dst) % 64 != 0)
    throw Error(ErrorCode::kInvalidArgument, "kernels: gemm pack destination must be 64-byte aligned");
  const int64_t n16 = round_up(n, kPanel);
  std::memset(dst, 0, packed_gemm_f32_floats(k, n) * sizeof(float));
  for (int64_t j = 0; j < n; ++j) {
    float* col = dst + (j / kPanel) * k * kPanel + j % kPanel;
    for (int64_t kk = 0; kk < k; ++kk) col[kk * kPanel] = alpha * detail::gemm_b_at(b, layout, k, n, kk, j);
  }
  float* packed_bias = dst + n16 * k;
  for (int64_t j = 0; j < n; ++j) packed_bias[j] = bias ? bias[j] : 0.0f;
  PackedGemmF32 packed;
  packed.family = Family::kHwy;
  packed.k = k;
  packed.n = n;
  packed.weights = dst;
  packed.bias = packed_bias;
  return packed;
}

PackedGemmF32 pack_gemm_f32(const float* b, int64_t k, int64_t n, BLayout layout, const float* bias, float alpha) {
  if (k < 1 || n < 1) throw Error(ErrorCode::kInvalidArgument, "kernels: gemm pack needs K, N >= 1");
  const size_t bytes = packed_gemm_f32_floats(k, n) * sizeof(float);
  auto storage = aligned_alloc_shared(bytes);
  PackedGemmF32 packed = pack_gemm_f32_into(reinterpret_cast<float*>(storage.get()), b, k, n, layout, bias, alpha);
  packed.storage = std::move(storage);
  packed.storage_bytes = bytes;
  return packed;
}

}  // namespace edgeq::kernels::hwy
