// hwy Winograd conv2d NHWC for 3x3, stride 1, dilation 1, ungrouped convs (one TU, compiled per
// Highway target), in two tile sizes (PackedConv2dF32::winograd_tile, chosen at pack time):
//   F(2x2, 3x3): 2x2 outputs from a 4x4 input tile, 16 multiplies per (ci, co) instead of 36;
//   F(4x4, 3x3): 4x4 outputs from a 6x6 input tile, 36 multiplies instead of 144 (Lavin & Gray's
//                points 0, +-1, +-2; the transforms' larger coefficients cost some fp32 accuracy).
// Each runs
//   input transform  V = B^T d B  (vectors along the input channels),
//   n x n gemms      M[xi] = V[xi] . U[xi]  (tiles x cin times cin x cout; the shared micro-kernel),
//   output transform Y = A^T M A + bias, activation (vectors along the output channels).
// Tiles are processed in chunks (winograd_chunk_tiles); a row range covers whole tile rows and stores
// only its own output rows (a tile row split between two ranges is computed by both).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/winograd.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_WINOGRAD_ONCE_
#define EDGEQ_KERNELS_HWY_WINOGRAD_ONCE_
#include <algorithm>

#include "edgeq/kernels.h"
#include "kernels/hwy/pack.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;

HWY_INLINE VF LoadChannels(const float* p, size_t valid) {
  if (p == nullptr) return hn::Zero(DF());
  return valid == kLanes ? hn::LoadU(DF(), p) : LoadPartial(p, valid);
}

HWY_INLINE void StoreChannels(VF v, float* p, size_t valid) {
  if (valid == kLanes) {
    hn::StoreU(v, DF(), p);
  } else {
    StorePartial(v, p, valid);
  }
}

// The 1-D transforms along one line of a tile; the 2-D ones apply them to the columns, then the rows.
template <int kOut>
struct WinogradLines;

template <>
struct WinogradLines<2> {
  static constexpr int kIn = 4;
  // B^T d
  static HWY_INLINE void Input(const VF* d, VF* t) {
    t[0] = hn::Sub(d[0], d[2]);
    t[1] = hn::Add(d[1], d[2]);
    t[2] = hn::Sub(d[2], d[1]);
    t[3] = hn::Sub(d[1], d[3]);
  }
  // A^T m
  static HWY_INLINE void Output(const VF* m, VF* y) {
    y[0] = hn::Add(hn::Add(m[0], m[1]), m[2]);
    y[1] = hn::Sub(hn::Sub(m[1], m[2]), m[3]);
  }
};

template <>
struct WinogradLines<4> {
  static constexpr int kIn = 6;
  // B^T d, B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
  static HWY_INLINE void Input(const VF* d, VF* t) {
    const DF df;
    const VF four = hn::Set(df, 4.0f), five = hn::Set(df, 5.0f), two = hn::Set(df, 2.0f);
    const VF a = hn::NegMulAdd(four, d[2], d[4]);  // d4 - 4 d2
    const VF b = hn::NegMulAdd(four, d[1], d[3]);  // d3 - 4 d1
    const VF c = hn::Sub(d[4], d[2]);
    const VF e = hn::Mul(two, hn::Sub(d[3], d[1]));
    t[0] = hn::MulAdd(four, d[0], hn::NegMulAdd(five, d[2], d[4]));
    t[1] = hn::Add(a, b);
    t[2] = hn::Sub(a, b);
    t[3] = hn::Add(c, e);
    t[4] = hn::Sub(c, e);
    t[5] = hn::MulAdd(four, d[1], hn::NegMulAdd(five, d[3], d[5]));
  }
  // A^T m, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
  static HWY_INLINE void Output(const VF* m, VF* y) {
    const DF df;
    const VF s12 = hn::Add(m[1], m[2]), d12 = hn::Sub(m[1], m[2]);
    const VF s34 = hn::Add(m[3], m[4]), d34 = hn::Sub(m[3], m[4]);
    y[0] = hn::Add(hn::Add(m[0], s12), s34);
    y[1] = hn::MulAdd(hn::Set(df, 2.0f), d34, d12);
    y[2] = hn::MulAdd(hn::Set(df, 4.0f), s34, s12);
    y[3] = hn::Add(hn::MulAdd(hn::Set(df, 8.0f), d34, d12), m[5]);
  }
};

template <int kOut>
void WinogradConv(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                  int64_t row_begin, int64_t row_end, float* scratch) {
  using Lines = WinogradLines<kOut>;
  constexpr int kIn = Lines::kIn, kPoints = kIn * kIn;
  const int64_t cin = packed.filter.in_channels, cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel, cout16 = panels * kPanel;
  const int64_t tiles_w = (p.out_w + kOut - 1) / kOut;
  const int64_t chunk = edgeq::kernels::hwy::winograd_chunk_tiles(packed, p);
  float* v_buf = scratch;                          // [kPoints][chunk][cin]
  float* m_buf = scratch + kPoints * chunk * cin;  // [kPoints][chunk][cout16]
  const EpilogueVecs none(edgeq::kernels::Activation::none());
  const EpilogueVecs e(p.activation);

  for (int64_t row = row_begin; row < row_end;) {
    const int64_t n = row / p.out_h, oh0 = row % p.out_h;
    const int64_t oh1 = std::min(p.out_h, oh0 + (row_end - row));
    row += oh1 - oh0;
    const int64_t th0 = oh0 / kOut, th1 = (oh1 - 1) / kOut + 1;
    const int64_t total = (th1 - th0) * tiles_w;
    for (int64_t t0 = 0; t0 < total; t0 += chunk) {
      const int64_t count = std::min(chunk, total - t0);
      // Input transform.
      for (int64_t i = 0; i < count; ++i) {
        const int64_t th = th0 + (t0 + i) / tiles_w, tw = (t0 + i) % tiles_w;
        const float* d_ptr[kPoints];
        for (int64_t r = 0; r < kIn; ++r) {
          const int64_t ih = kOut * th - p.pad_top + r;
          for (int64_t c = 0; c < kIn; ++c) {
            const int64_t iw = kOut * tw - p.pad_left + c;
            d_ptr[r * kIn + c] = (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w)
                                     ? input + ((n * p.in_h + ih) * p.in_w + iw) * cin
                                     : nullptr;
          }
        }
        for (int64_t c0 = 0; c0 < cin; c0 += static_cast<int64_t>(kLanes)) {
          const size_t valid = static_cast<size_t>(std::min<int64_t>(kLanes, cin - c0));
          VF t[kPoints];  // B^T d, column by column
          for (int c = 0; c < kIn; ++c) {
            VF column[kIn], out[kIn];
            for (int r = 0; r < kIn; ++r) column[r] = LoadChannels(d_ptr[r * kIn + c] ? d_ptr[r * kIn + c] + c0 : nullptr, valid);
            Lines::Input(column, out);
            for (int r = 0; r < kIn; ++r) t[r * kIn + c] = out[r];
          }
          for (int r = 0; r < kIn; ++r) {  // (B^T d) B, row by row
            VF out[kIn];
            Lines::Input(t + r * kIn, out);
            float* dst = v_buf + ((r * kIn) * chunk + i) * cin + c0;
            for (int c = 0; c < kIn; ++c) StoreChannels(out[c], dst + c * chunk * cin, valid);
          }
        }
      }
      // kPoints gemms: M[xi] (count x cout16) = V[xi] (count x cin) . U[xi] (cin x cout16), from zero: the
      // bias is added once, after the output transform.
      for (int64_t xi = 0; xi < kPoints; ++xi)
        RowsGemm(v_buf + xi * chunk * cin, cin, count, cin, packed.winograd_weights + xi * panels * cin * static_cast<int64_t>(kPanel),
                 cin * static_cast<int64_t>(kPanel), nullptr, none, m_buf + xi * chunk * cout16, cout16, cout16);
      // Output transform + bias + activation, only the rows of this range.
      for (int64_t i = 0; i < count; ++i) {
        const int64_t th = th0 + (t0 + i) / tiles_w, tw = (t0 + i) % tiles_w;
        const int64_t oh_top = kOut * th, ow_left = kOut * tw;
        const int64_t row_first = std::max(oh0, oh_top), row_last = std::min(oh1, oh_top + kOut);
        const int64_t cols = std::min<int64_t>(kOut, p.out_w - ow_left);
        for (int64_t c0 = 0; c0 < cout; c0 += static_cast<int64_t>(kLanes)) {
          const size_t valid = static_cast<size_t>(std::min<int64_t>(kLanes, cout - c0));
          VF s[kOut * kIn];  // A^T m, column by column
          for (int c = 0; c < kIn; ++c) {
            VF column[kIn], out[kOut];
            for (int r = 0; r < kIn; ++r) column[r] = hn::LoadU(DF(), m_buf + ((r * kIn + c) * chunk + i) * cout16 + c0);
            Lines::Output(column, out);
            for (int r = 0; r < kOut; ++r) s[r * kIn + c] = out[r];
          }
          const VF bias = hn::Load(DF(), packed.bias + c0);
          for (int64_t oh = row_first; oh < row_last; ++oh) {
            VF y[kOut];
            Lines::Output(s + (oh - oh_top) * kIn, y);
            float* dst = output + ((n * p.out_h + oh) * p.out_w + ow_left) * cout + c0;
            for (int64_t c = 0; c < cols; ++c) StoreChannels(Activate(e, hn::Add(y[c], bias)), dst + c * cout, valid);
          }
        }
      }
    }
  }
}

void WinogradF23(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                 int64_t row_begin, int64_t row_end, float* scratch) {
  WinogradConv<2>(packed, p, input, output, row_begin, row_end, scratch);
}

void WinogradF43(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                 int64_t row_begin, int64_t row_end, float* scratch) {
  WinogradConv<4>(packed, p, input, output, row_begin, row_end, scratch);
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;
HWY_EXPORT(WinogradF23);
HWY_EXPORT(WinogradF43);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchWinograd(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,
                      float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  if (packed.winograd_tile == 4) {
    HWY_DYNAMIC_DISPATCH(WinogradF43)(packed, params, input, output, row_begin, row_end, scratch);
  } else {
    HWY_DYNAMIC_DISPATCH(WinogradF23)(packed, params, input, output, row_begin, row_end, scratch);
  }
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
