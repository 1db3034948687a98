// hwy int8 Winograd F(2x2, 3x3) conv2d NHWC (3x3, stride 1, dilation 1, ungrouped, 16..1024 input
// channels), exact: every step is integer add/sub/mul, so the result equals the direct sum bit for bit
// (the bound is in q8_plan.h). 2x2 outputs cost 16 multiplies per (ci, co) instead of 36.
//   band image    int16 x - zero_point, channels padded to 16 (WidenBand, shared with the direct conv);
//   input         V = B^T d B in int16 (|V| <= 1020), vectors along the channels, [16][chunk][cin16];
//   16 products   M[xi] = V[xi] . U[xi] with U = (2G) g (2G)^T, the int8 micro-kernel into int32;
//   output        Y' = A^T M A = 4 Y, Y = Y' >> 2 (exact), + bias, requantize_u8.
// Per panel of 16 output channels and per micro-tile of Winograd tiles, the 16 products land in a small
// M buffer that the output transform reads straight back (L1). A row range covers whole tile rows and
// stores only its own output rows (a tile row split between two ranges is computed by both).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/winograd_q8.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/q8-inl.h"

#ifndef EDGEQ_KERNELS_HWY_WINOGRAD_Q8_ONCE_
#define EDGEQ_KERNELS_HWY_WINOGRAD_Q8_ONCE_
#include <algorithm>
#include <cstdint>

#include "edgeq/kernels.h"
#include "kernels/hwy/q8_plan.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::kQ8MaxTileRows;
using edgeq::kernels::hwy::Q8ConvPlan;

// V = B^T d B for tiles [t0, t0 + count) of the band (row-major over tiles_w tiles per row).
HWY_INLINE void InputTransform(const int16_t* image, int64_t pitch, int64_t cin16, int64_t tiles_w, int64_t t0,
                               int64_t count, int64_t chunk, int16_t* v_buf) {
  const hn::CappedTag<int16_t, 16> d;
  using V = hn::Vec<decltype(d)>;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  const int64_t plane = chunk * cin16;  // between two xi planes of V
  for (int64_t i = 0; i < count; ++i) {
    const int64_t t = t0 + i;
    const int16_t* base = image + 2 * (t / tiles_w) * pitch + 2 * (t % tiles_w) * cin16;
    for (int64_t c0 = 0; c0 < cin16; c0 += lanes) {
      V x[16];
      for (int r = 0; r < 4; ++r)
        for (int c = 0; c < 4; ++c) x[r * 4 + c] = hn::LoadU(d, base + r * pitch + c * cin16 + c0);
      V t4[16];  // B^T d
      for (int c = 0; c < 4; ++c) {
        t4[0 * 4 + c] = hn::Sub(x[0 * 4 + c], x[2 * 4 + c]);
        t4[1 * 4 + c] = hn::Add(x[1 * 4 + c], x[2 * 4 + c]);
        t4[2 * 4 + c] = hn::Sub(x[2 * 4 + c], x[1 * 4 + c]);
        t4[3 * 4 + c] = hn::Sub(x[1 * 4 + c], x[3 * 4 + c]);
      }
      for (int r = 0; r < 4; ++r) {  // (B^T d) B
        int16_t* dst = v_buf + (r * 4 * chunk + i) * cin16 + c0;
        hn::StoreU(hn::Sub(t4[r * 4 + 0], t4[r * 4 + 2]), d, dst);
        hn::StoreU(hn::Add(t4[r * 4 + 1], t4[r * 4 + 2]), d, dst + plane);
        hn::StoreU(hn::Sub(t4[r * 4 + 2], t4[r * 4 + 1]), d, dst + 2 * plane);
        hn::StoreU(hn::Sub(t4[r * 4 + 1], t4[r * 4 + 3]), d, dst + 3 * plane);
      }
    }
  }
}

// Output tile at (th, tw): Y = (A^T M A) >> 2 + bias for the 16 channels of one panel (M: [16][8][16]
// int32, this tile's row `r`), requantized into the 2x2 output pixels inside rows [oh0, oh1); pool: the
// max of the four, requantized once into the pooled output (floor: out_h / 2 x out_w / 2).
HWY_INLINE void OutputTransform(const int32_t* m_buf, size_t r, const Conv2dParams& p, int64_t n, int64_t th,
                                int64_t tw, int64_t oh0, int64_t oh1, const int32_t* bias, const float* mult,
                                const Q8Requant& rq, size_t channels, uint8_t* output, int64_t channel0, bool pool) {
  const DI32 d32;
  V32 y[4][kVecs];
  for (size_t v = 0; v < kVecs; ++v) {
    V32 m[16];
    for (size_t k = 0; k < 16; ++k)
      m[k] = hn::LoadU(d32, m_buf + (k * kQ8MaxTileRows + r) * kPanel + v * kLanes);
    V32 s[8];  // A^T M: 2 x 4
    for (int c = 0; c < 4; ++c) {
      s[0 * 4 + c] = hn::Add(hn::Add(m[0 * 4 + c], m[1 * 4 + c]), m[2 * 4 + c]);
      s[1 * 4 + c] = hn::Sub(hn::Sub(m[1 * 4 + c], m[2 * 4 + c]), m[3 * 4 + c]);
    }
    const V32 b = hn::LoadU(d32, bias + v * kLanes);
    for (int i = 0; i < 2; ++i) {
      y[2 * i][v] = hn::Add(hn::ShiftRight<2>(hn::Add(hn::Add(s[i * 4 + 0], s[i * 4 + 1]), s[i * 4 + 2])), b);
      y[2 * i + 1][v] = hn::Add(hn::ShiftRight<2>(hn::Sub(hn::Sub(s[i * 4 + 1], s[i * 4 + 2]), s[i * 4 + 3])), b);
    }
  }
  const int64_t cout = p.filter.out_channels;
  if (pool) {  // the tile is the 2x2 pool window of pooled pixel (th, tw)
    const int64_t pw = p.out_w / 2;
    if (th < p.out_h / 2 && tw < pw)
      StorePooled(y[0], y[1], y[2], y[3], mult, rq, output + ((n * (p.out_h / 2) + th) * pw + tw) * cout + channel0, channels);
    return;
  }
  for (int64_t i = 0; i < 2; ++i) {
    const int64_t oh = 2 * th + i;
    if (oh < oh0 || oh >= oh1) continue;
    for (int64_t j = 0; j < 2; ++j) {
      const int64_t ow = 2 * tw + j;
      if (ow >= p.out_w) continue;
      StoreRequantized(y[2 * i + j], mult, rq, output + ((n * p.out_h + oh) * p.out_w + ow) * cout + channel0, channels);
    }
  }
}

// pool: the fused 2x2 max pool; rows are pooled rows (= tile rows), each tile one pool window.
void Q8Winograd(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const Q8ConvPlan& plan,
                const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch, bool pool) {
  const int64_t cin16 = plan.image_c, cout = packed.filter.out_channels;
  const int64_t panels = (cout + kPanel - 1) / kPanel;
  const int64_t tiles_w = (p.out_w + 1) / 2;
  const int64_t chunk = plan.chunk_tiles;
  const int64_t pitch = plan.image_w * cin16;
  std::byte* bytes = static_cast<std::byte*>(scratch);
  int16_t* image = reinterpret_cast<int16_t*>(bytes);
  int16_t* v_buf = reinterpret_cast<int16_t*>(bytes + plan.image_bytes);
  int32_t* m_buf = reinterpret_cast<int32_t*>(bytes + plan.image_bytes + (16 * chunk * cin16 * 2 + 63) / 64 * 64);
  const int64_t u_plane = panels * cin16 * static_cast<int64_t>(kPanel);  // between two xi of U
  const Q8Requant rq(q);
  const Q8Reduction red{1, 0, static_cast<size_t>(cin16 / 2)};
  const int16_t* a[kQ8TileRows];
  int32_t* m_out[kQ8TileRows];
  const int64_t image_rows = pool ? p.out_h / 2 : p.out_h;
  for (int64_t row = row_begin; row < row_end;) {
    const int64_t n = row / image_rows, r0 = row % image_rows;
    const int64_t r1 = std::min(image_rows, r0 + (row_end - row));
    row += r1 - r0;
    const int64_t oh0 = pool ? 2 * r0 : r0, oh1 = pool ? 2 * r1 : r1;
    const int64_t th0 = oh0 / 2, th1 = (oh1 - 1) / 2 + 1;
    for (int64_t tb0 = th0; tb0 < th1; tb0 += plan.band_rows) {
      const int64_t tb1 = std::min(th1, tb0 + plan.band_rows);
      WidenBand(p, plan, input, n, 2 * tb0 - p.pad_top, 2 * (tb1 - tb0) + 2, q.input_zero_point, image);
      const int64_t total = (tb1 - tb0) * tiles_w;
      for (int64_t t0 = 0; t0 < total; t0 += chunk) {
        const int64_t count = std::min(chunk, total - t0);
        InputTransform(image, pitch, cin16, tiles_w, t0, count, chunk, v_buf);
        for (int64_t panel = 0; panel < panels; ++panel) {
          const int16_t* u = packed.winograd_weights + panel * cin16 * static_cast<int64_t>(kPanel);
          const size_t channels = static_cast<size_t>(std::min<int64_t>(kPanel, cout - panel * kPanel));
          ForEachBalancedTile(count, [&](int64_t first, size_t rows) {
            WithTileRows<kQ8TileRows>(rows, [&](auto mr) {  // one row-count dispatch for all 16 products
              for (int64_t xi = 0; xi < 16; ++xi) {
                for (size_t r = 0; r < rows; ++r) {
                  a[r] = v_buf + (xi * chunk + first + static_cast<int64_t>(r)) * cin16;
                  m_out[r] = m_buf + (xi * kQ8MaxTileRows + static_cast<int64_t>(r)) * static_cast<int64_t>(kPanel);
                }
                Q8Tile<decltype(mr)::value>(a, red, u + xi * u_plane, Q8Int32Sink{m_out});
              }
            });
            for (size_t r = 0; r < rows; ++r) {
              const int64_t t = t0 + first + static_cast<int64_t>(r);
              OutputTransform(m_buf, r, p, n, tb0 + t / tiles_w, t % tiles_w, oh0, oh1, packed.bias + panel * kPanel,
                              packed.multipliers + panel * kPanel, rq, channels, output, panel * kPanel, pool);
            }
          });
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
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;
HWY_EXPORT(Q8Winograd);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchQ8Winograd(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                        const Q8ConvPlan& plan, const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch,
                        bool pool) {
  HWY_DYNAMIC_DISPATCH(Q8Winograd)(packed, p, q, plan, in, out, b, e, scratch, pool);
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
