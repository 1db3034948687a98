// hwy Winograd F(2x2, 3x3) conv2d NHWC for 3x3, stride 1, dilation 1, ungrouped convs (one TU, compiled
// per Highway target). 2x2 outputs cost 16 multiplies per (ci, co) instead of 36:
//   input transform  V = B^T d B  (4x4 input tile, vectors along the input channels),
//   16 gemms         M[xi] = V[xi] . U[xi]  (tiles x cin times cin x cout; the shared micro-kernel),
//   output transform Y = A^T M A + bias, activation (2x2 outputs, vectors along the output channels).
// Tiles are processed in chunks sized to stay in L2; a row range covers whole tile rows and stores
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

void WinogradF23(const PackedConv2dF32& packed, const Conv2dParams& p, const float* input, float* output,
                 int64_t row_begin, int64_t row_end, float* scratch) {
  const int64_t cin = packed.filter.in_channels, cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel, cout16 = panels * kPanel;
  const int64_t chunk = edgeq::kernels::hwy::winograd_chunk_tiles(cin, cout16);
  const int64_t tiles_w = (p.out_w + 1) / 2;
  float* v_buf = scratch;                    // [16][chunk][cin]
  float* m_buf = scratch + 16 * chunk * cin;  // [16][chunk][cout16]
  const EpilogueVecs none(edgeq::kernels::Activation::none());
  const EpilogueVecs e(p.activation);

  for (int64_t row = row_begin; row < row_end;) {
    const int64_t n = row / p.out_h, oh0 = row % p.out_h;
    const int64_t oh1 = std::min(p.out_h, oh0 + (row_end - row));
    row += oh1 - oh0;
    const int64_t th0 = oh0 / 2, th1 = (oh1 - 1) / 2 + 1;
    const int64_t total = (th1 - th0) * tiles_w;
    for (int64_t t0 = 0; t0 < total; t0 += chunk) {
      const int64_t count = std::min(chunk, total - t0);
      // Input transform.
      for (int64_t i = 0; i < count; ++i) {
        const int64_t th = th0 + (t0 + i) / tiles_w, tw = (t0 + i) % tiles_w;
        const float* d_ptr[16];
        for (int64_t r = 0; r < 4; ++r) {
          const int64_t ih = 2 * th - p.pad_top + r;
          for (int64_t c = 0; c < 4; ++c) {
            const int64_t iw = 2 * tw - p.pad_left + c;
            d_ptr[r * 4 + c] = (ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w)
                                   ? input + ((n * p.in_h + ih) * p.in_w + iw) * cin
                                   : nullptr;
          }
        }
        for (int64_t c0 = 0; c0 < cin; c0 += static_cast<int64_t>(kLanes)) {
          const size_t valid = static_cast<size_t>(std::min<int64_t>(kLanes, cin - c0));
          VF d[16];
          for (int k = 0; k < 16; ++k) d[k] = LoadChannels(d_ptr[k] ? d_ptr[k] + c0 : nullptr, valid);
          VF t[16];  // B^T d
          for (int c = 0; c < 4; ++c) {
            t[0 * 4 + c] = hn::Sub(d[0 * 4 + c], d[2 * 4 + c]);
            t[1 * 4 + c] = hn::Add(d[1 * 4 + c], d[2 * 4 + c]);
            t[2 * 4 + c] = hn::Sub(d[2 * 4 + c], d[1 * 4 + c]);
            t[3 * 4 + c] = hn::Sub(d[1 * 4 + c], d[3 * 4 + c]);
          }
          for (int r = 0; r < 4; ++r) {  // (B^T d) B
            const VF v0 = hn::Sub(t[r * 4 + 0], t[r * 4 + 2]);
            const VF v1 = hn::Add(t[r * 4 + 1], t[r * 4 + 2]);
            const VF v2 = hn::Sub(t[r * 4 + 2], t[r * 4 + 1]);
            const VF v3 = hn::Sub(t[r * 4 + 1], t[r * 4 + 3]);
            float* dst = v_buf + ((r * 4) * chunk + i) * cin + c0;
            StoreChannels(v0, dst, valid);
            StoreChannels(v1, dst + chunk * cin, valid);
            StoreChannels(v2, dst + 2 * chunk * cin, valid);
            StoreChannels(v3, dst + 3 * chunk * cin, valid);
          }
        }
      }
      // 16 gemms: M[xi] (count x cout16) = V[xi] (count x cin) . U[xi] (cin x cout16), from zero: the bias is
      // added once, after the output transform.
      for (int64_t xi = 0; xi < 16; ++xi)
        RowsGemm(v_buf + xi * chunk * cin, cin, count, cin, packed.winograd_weights + xi * panels * cin * static_cast<int64_t>(kPanel),
                 cin * static_cast<int64_t>(kPanel), nullptr, none, m_buf + xi * chunk * cout16, cout16, cout16);
      // Output transform + bias + activation, only the rows of this range.
      for (int64_t i = 0; i < count; ++i) {
        const int64_t th = th0 + (t0 + i) / tiles_w, tw = (t0 + i) % tiles_w;
        const int64_t oh_top = 2 * th, ow_left = 2 * tw;
        const bool row_ok[2] = {oh_top >= oh0 && oh_top < oh1, oh_top + 1 >= oh0 && oh_top + 1 < oh1};
        const bool col_ok[2] = {true, ow_left + 1 < p.out_w};
        for (int64_t c0 = 0; c0 < cout; c0 += static_cast<int64_t>(kLanes)) {
          const size_t valid = static_cast<size_t>(std::min<int64_t>(kLanes, cout - c0));
          VF m[16];
          for (int k = 0; k < 16; ++k) m[k] = hn::LoadU(DF(), m_buf + (k * chunk + i) * cout16 + c0);
          VF s[8];  // A^T m: 2 x 4
          for (int c = 0; c < 4; ++c) {
            s[0 * 4 + c] = hn::Add(hn::Add(m[0 * 4 + c], m[1 * 4 + c]), m[2 * 4 + c]);
            s[1 * 4 + c] = hn::Sub(hn::Sub(m[1 * 4 + c], m[2 * 4 + c]), m[3 * 4 + c]);
          }
          const VF bias = hn::Load(DF(), packed.bias + c0);
          for (int r = 0; r < 2; ++r) {
            if (!row_ok[r]) continue;
            const VF y0 = hn::Add(hn::Add(hn::Add(s[r * 4 + 0], s[r * 4 + 1]), s[r * 4 + 2]), bias);
            const VF y1 = hn::Add(hn::Sub(hn::Sub(s[r * 4 + 1], s[r * 4 + 2]), s[r * 4 + 3]), bias);
            float* dst = output + ((n * p.out_h + oh_top + r) * p.out_w + ow_left) * cout + c0;
            StoreChannels(Activate(e, y0), dst, valid);
            if (col_ok[1]) StoreChannels(Activate(e, y1), dst + cout, valid);
          }
        }
      }
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dF32;
HWY_EXPORT(WinogradF23);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchWinogradF23(const PackedConv2dF32& packed, const Conv2dParams& params, const float* input,
                         float* output, int64_t row_begin, int64_t row_end, float* scratch) {
  HWY_DYNAMIC_DISPATCH(WinogradF23)(packed, params, input, output, row_begin, row_end, scratch);
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
