// hwy int8 conv2d / gemm (u8 activations, s8 per-channel weights), one TU compiled per Highway target.
//
// Both build "A rows" of int16 (x - input_zero_point; padding taps are 0) for a tile of output pixels
// (conv: an im2col row per pixel, only kTileRows rows at a time) or rows of A (gemm), then multiply them
// with the packed int16 weight panels: on x86 SIMD targets with vpmaddwd (int16 pairs, int32 sums:
// exact, no int16 saturation), kTileRows x 16 channels of int32 accumulators; other targets (SCALAR,
// and for now wasm/NEON) run a plain loop over the same packed data. The epilogue requantizes exactly
// like requantize_u8() (float multiply, round half to even, clamp, add zero point).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/quantized.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_QUANTIZED_ONCE_
#define EDGEQ_KERNELS_HWY_QUANTIZED_ONCE_
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/validate.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::PackedGemmQ8;
using edgeq::kernels::QuantU8Params;

using DI32 = hn::ScalableTag<int32_t>;
using DI16 = hn::Repartition<int16_t, DI32>;
using DW16 = hn::ScalableTag<int16_t>;       // widening: full int16 vectors
using DU8Half = hn::Rebind<uint8_t, DW16>;   // as many u8 lanes as int16 lanes
using DU8Quarter = hn::Rebind<uint8_t, DI32>;

// Output pixel or A-row pointers of one tile and its epilogue constants.
struct Q8Epilogue {
  int32_t zero_point, out_min, out_max;
};

// dst[0, len) = src[0, len) - zero_point, widened to int16.
HWY_INLINE void WidenRun(const uint8_t* src, int64_t len, int32_t zero_point, int16_t* dst) {
  const DW16 d16;
  const DU8Half du8;
  const size_t lanes = hn::Lanes(d16);
  const auto zp = hn::Set(d16, static_cast<int16_t>(zero_point));
  int64_t j = 0;
  for (; j + static_cast<int64_t>(lanes) <= len; j += static_cast<int64_t>(lanes))
    hn::StoreU(hn::Sub(hn::PromoteTo(d16, hn::LoadU(du8, src + j)), zp), d16, dst + j);
  for (; j < len; ++j) dst[j] = static_cast<int16_t>(static_cast<int32_t>(src[j]) - zero_point);
}

// The reference epilogue for one channel (tails and the non-SIMD path).
HWY_INLINE uint8_t RequantScalar(int32_t acc, float multiplier, const Q8Epilogue& e) {
  return edgeq::kernels::requantize_u8(acc, multiplier, e.zero_point, e.out_min, e.out_max);
}

// Plain loop over the packed pairs: rows x channels of one panel.
void Q8TilePortable(size_t rows, const int16_t* const* a, size_t k_pairs, const int16_t* w, const int32_t* bias,
                    const float* mult, const Q8Epilogue& e, uint8_t* const* out, size_t channels) {
  for (size_t r = 0; r < rows; ++r) {
    for (size_t j = 0; j < channels; ++j) {
      int32_t acc = bias[j];
      for (size_t i = 0; i < k_pairs; ++i)
        acc += a[r][2 * i] * w[i * 2 * kPanel + 2 * j] + a[r][2 * i + 1] * w[i * 2 * kPanel + 2 * j + 1];
      out[r][j] = RequantScalar(acc, mult[j], e);
    }
  }
}

#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define EDGEQ_Q8_PAIRWISE 1
using V32 = hn::Vec<DI32>;

// Requantizes one vector of int32 accumulators (kLanes channels) and stores `count` bytes.
HWY_INLINE void StoreRequantized(V32 acc, const float* mult, const Q8Epilogue& e, uint8_t* dst, size_t count) {
  const DF df;
  const DI32 d32;
  const DU8Quarter du8;
  VF x = hn::Round(hn::Mul(hn::ConvertTo(df, acc), hn::LoadU(df, mult)));  // round half to even
  x = hn::Min(hn::Max(x, hn::Set(df, static_cast<float>(e.out_min - e.zero_point))),
              hn::Set(df, static_cast<float>(e.out_max - e.zero_point)));
  const auto q = hn::DemoteTo(du8, hn::Add(hn::ConvertTo(d32, x), hn::Set(d32, e.zero_point)));
  if (count == kLanes) {
    hn::StoreU(q, du8, dst);
  } else {
    HWY_ALIGN uint8_t lanes[kLanes];
    hn::StoreU(q, du8, lanes);
    std::memcpy(dst, lanes, count);
  }
}

HWY_INLINE V32 BroadcastPair(const int16_t* p) {
  int32_t pair;
  std::memcpy(&pair, p, sizeof(pair));
  return hn::Set(DI32(), pair);
}

template <size_t MR>
HWY_INLINE void Q8Tile(const int16_t* const* a, size_t k_pairs, const int16_t* w, const int32_t* bias,
                       const float* mult, const Q8Epilogue& e, uint8_t* const* out, size_t channels) {
  const DI32 d32;
  const DI16 d16;
  V32 acc[MR][kVecs];
  for (size_t v = 0; v < kVecs; ++v) {
    const V32 b = hn::LoadU(d32, bias + v * kLanes);
    for (size_t r = 0; r < MR; ++r) acc[r][v] = b;
  }
  for (size_t i = 0; i < k_pairs; ++i) {
    hn::Vec<DI16> wv[kVecs];
    for (size_t v = 0; v < kVecs; ++v) wv[v] = hn::LoadU(d16, w + v * 2 * kLanes);
    for (size_t r = 0; r < MR; ++r) {
      const auto av = hn::BitCast(d16, BroadcastPair(a[r] + 2 * i));
      for (size_t v = 0; v < kVecs; ++v) {
        V32 unused;
        acc[r][v] = hn::ReorderWidenMulAccumulate(d32, av, wv[v], acc[r][v], unused);
      }
    }
    w += 2 * kPanel;
  }
  for (size_t r = 0; r < MR; ++r)
    for (size_t v = 0; v < kVecs && v * kLanes < channels; ++v)
      StoreRequantized(acc[r][v], mult + v * kLanes, e, out[r] + v * kLanes, std::min(kLanes, channels - v * kLanes));
}

// One A row against kPanels consecutive panels (batch-1 fully-connected): 4 x kVecs independent sums.
template <size_t kPanels>
HWY_INLINE void Q8Gemv(const int16_t* a, size_t k_pairs, const int16_t* w, size_t panel_stride, const int32_t* bias,
                       const float* mult, const Q8Epilogue& e, uint8_t* out, size_t channels_last) {
  const DI32 d32;
  const DI16 d16;
  V32 acc[kPanels][kVecs];
  for (size_t p = 0; p < kPanels; ++p)
    for (size_t v = 0; v < kVecs; ++v) acc[p][v] = hn::LoadU(d32, bias + p * kPanel + v * kLanes);
  for (size_t i = 0; i < k_pairs; ++i) {
    const auto av = hn::BitCast(d16, BroadcastPair(a + 2 * i));
    for (size_t p = 0; p < kPanels; ++p) {
      for (size_t v = 0; v < kVecs; ++v) {
        V32 unused;
        acc[p][v] = hn::ReorderWidenMulAccumulate(
            d32, av, hn::LoadU(d16, w + p * panel_stride + i * 2 * kPanel + v * 2 * kLanes), acc[p][v], unused);
      }
    }
  }
  for (size_t p = 0; p < kPanels; ++p) {
    const size_t channels = p + 1 == kPanels ? channels_last : kPanel;
    for (size_t v = 0; v < kVecs && v * kLanes < channels; ++v)
      StoreRequantized(acc[p][v], mult + p * kPanel + v * kLanes, e, out + p * kPanel + v * kLanes,
                       std::min(kLanes, channels - v * kLanes));
  }
}
#endif  // x86 SIMD

HWY_INLINE void Q8Panel(size_t rows, const int16_t* const* a, size_t k_pairs, const int16_t* w, const int32_t* bias,
                        const float* mult, const Q8Epilogue& e, uint8_t* const* out, size_t channels) {
#ifdef EDGEQ_Q8_PAIRWISE
  WithTileRows(rows, [&](auto mr) { Q8Tile<decltype(mr)::value>(a, k_pairs, w, bias, mult, e, out, channels); });
#else
  Q8TilePortable(rows, a, k_pairs, w, bias, mult, e, out, channels);
#endif
}

// im2col row of one output pixel for group g: (kh, kw, ci) order, zero for taps in the padding.
HWY_INLINE void BuildConvRow(const Conv2dParams& p, const uint8_t* input, int64_t n, int64_t oh, int64_t ow,
                             int64_t g, int64_t cin_g, int64_t k_padded, int32_t zero_point, int16_t* dst) {
  const int64_t cin = p.filter.in_channels;
  const int64_t iw0 = ow * p.stride_w - p.pad_left;
  const int64_t kernel_w = p.filter.kernel_w;
  int64_t at = 0;
  // Ungrouped, undilated, and the window's columns inside the image: each kernel row is one contiguous
  // run of kernel_w * cin bytes (NHWC), converted in one pass.
  const bool row_runs = p.filter.groups == 1 && p.dilation_w == 1 && iw0 >= 0 && iw0 + kernel_w <= p.in_w;
  for (int64_t kh = 0; kh < p.filter.kernel_h; ++kh) {
    const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
    const bool row_inside = ih >= 0 && ih < p.in_h;
    const uint8_t* src_row = input + ((n * p.in_h + ih) * p.in_w) * cin + g * cin_g;
    if (row_runs || !row_inside) {
      const int64_t len = kernel_w * cin_g;
      if (row_inside) {
        WidenRun(src_row + iw0 * cin, len, zero_point, dst + at);
      } else {
        std::memset(dst + at, 0, static_cast<size_t>(len) * sizeof(int16_t));
      }
      at += len;
      continue;
    }
    for (int64_t kw = 0; kw < kernel_w; ++kw, at += cin_g) {
      const int64_t iw = iw0 + kw * p.dilation_w;
      if (iw < 0 || iw >= p.in_w) {
        std::memset(dst + at, 0, static_cast<size_t>(cin_g) * sizeof(int16_t));
      } else {
        WidenRun(src_row + iw * cin, cin_g, zero_point, dst + at);
      }
    }
  }
  for (; at < k_padded; ++at) dst[at] = 0;
}

void Q8Conv(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const uint8_t* input,
            uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch) {
  const auto& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups, cout_g = f.out_channels / f.groups;
  const int64_t panels = (cout_g + kPanel - 1) / kPanel;
  const int64_t k_padded = packed.k_padded;
  const size_t k_pairs = static_cast<size_t>(k_padded / 2);
  const Q8Epilogue e{q.output_zero_point, q.output_min, q.output_max};
  int16_t* rows = static_cast<int16_t*>(scratch);
  const int16_t* a[kTileRows];
  uint8_t* out_pixel[kTileRows];
  uint8_t* out[kTileRows];
  int64_t pix_n[kTileRows], pix_oh[kTileRows], pix_ow[kTileRows];
  const int64_t pixels = (row_end - row_begin) * p.out_w;
  int64_t n = row_begin / p.out_h, oh = row_begin % p.out_h, ow = 0;
  for (int64_t q0 = 0; q0 < pixels; q0 += kTileRows) {
    const size_t count = static_cast<size_t>(std::min<int64_t>(kTileRows, pixels - q0));
    for (size_t r = 0; r < count; ++r) {
      pix_n[r] = n;
      pix_oh[r] = oh;
      pix_ow[r] = ow;
      out_pixel[r] = output + ((n * p.out_h + oh) * p.out_w + ow) * f.out_channels;
      a[r] = rows + static_cast<int64_t>(r) * k_padded;
      if (++ow == p.out_w) {
        ow = 0;
        if (++oh == p.out_h) {
          oh = 0;
          ++n;
        }
      }
    }
    for (int64_t g = 0; g < f.groups; ++g) {
      for (size_t r = 0; r < count; ++r)
        BuildConvRow(p, input, pix_n[r], pix_oh[r], pix_ow[r], g, cin_g, k_padded, q.input_zero_point,
                     rows + static_cast<int64_t>(r) * k_padded);
      for (int64_t panel = 0; panel < panels; ++panel) {
        const int64_t index = g * panels + panel;
        const int64_t channel0 = g * cout_g + panel * kPanel;
        for (size_t r = 0; r < count; ++r) out[r] = out_pixel[r] + channel0;
        Q8Panel(count, a, k_pairs, packed.weights + index * k_padded * kPanel, packed.bias + index * kPanel,
                packed.multipliers + index * kPanel, e, out,
                static_cast<size_t>(std::min<int64_t>(kPanel, cout_g - panel * kPanel)));
      }
    }
  }
}

void Q8Gemm(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a_u8, int64_t lda, uint8_t* c,
            int64_t ldc, const GemmRange& range, void* scratch) {
  const int64_t k_padded = packed.k_padded;
  const size_t k_pairs = static_cast<size_t>(k_padded / 2);
  const size_t panel_stride = static_cast<size_t>(k_padded) * kPanel;
  const Q8Epilogue e{q.output_zero_point, q.output_min, q.output_max};
  const int64_t panel_begin = range.n_begin / static_cast<int64_t>(kPanel);
  const int64_t panel_end = (range.n_end + static_cast<int64_t>(kPanel) - 1) / static_cast<int64_t>(kPanel);
  auto columns = [&](int64_t panel) {
    return static_cast<size_t>(std::min<int64_t>(kPanel, range.n_end - panel * static_cast<int64_t>(kPanel)));
  };
  int16_t* rows = static_cast<int16_t*>(scratch);
  const int16_t* a[kTileRows];
  uint8_t* out[kTileRows];
  for (int64_t m = range.m_begin; m < range.m_end; m += kTileRows) {
    const size_t count = static_cast<size_t>(std::min<int64_t>(kTileRows, range.m_end - m));
    for (size_t r = 0; r < count; ++r) {
      int16_t* row = rows + static_cast<int64_t>(r) * k_padded;
      WidenRun(a_u8 + (m + static_cast<int64_t>(r)) * lda, packed.k, q.input_zero_point, row);
      for (int64_t kk = packed.k; kk < k_padded; ++kk) row[kk] = 0;
      a[r] = row;
    }
    int64_t panel = panel_begin;
#ifdef EDGEQ_Q8_PAIRWISE
    if (count == 1) {  // batch-1 fully-connected: several panels at once
      constexpr int64_t kGemvPanels = 4;
      for (; panel + kGemvPanels <= panel_end; panel += kGemvPanels)
        Q8Gemv<kGemvPanels>(a[0], k_pairs, packed.weights + panel * static_cast<int64_t>(panel_stride), panel_stride,
                            packed.bias + panel * kPanel, packed.multipliers + panel * kPanel, e,
                            c + m * ldc + panel * kPanel, columns(panel + kGemvPanels - 1));
    }
#endif
    for (; panel < panel_end; ++panel) {
      for (size_t r = 0; r < count; ++r) out[r] = c + (m + static_cast<int64_t>(r)) * ldc + panel * kPanel;
      Q8Panel(count, a, k_pairs, packed.weights + panel * static_cast<int64_t>(panel_stride),
              packed.bias + panel * kPanel, packed.multipliers + panel * kPanel, e, out, columns(panel));
    }
  }
}

#undef EDGEQ_Q8_PAIRWISE
}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Conv2dParams;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::PackedGemmQ8;
using edgeq::kernels::QuantU8Params;
HWY_EXPORT(Q8Conv);
HWY_EXPORT(Q8Gemm);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchQ8Conv(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const uint8_t* in,
                    uint8_t* out, int64_t b, int64_t e, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8Conv)(packed, p, q, in, out, b, e, scratch);
}
void DispatchQ8Gemm(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, uint8_t* c,
                    int64_t ldc, const GemmRange& range, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8Gemm)(packed, q, a, lda, c, ldc, range, scratch);
}
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

namespace {
// Rows of int16 for the widest tile any target uses (8), plus 64 bytes to align the caller's pointer.
size_t q8_rows_bytes(int64_t k_padded) { return static_cast<size_t>(8 * k_padded * 2 + 64); }
void* align64(void* p) {
  return reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(p) + 63) & ~static_cast<uintptr_t>(63));
}
}  // namespace

size_t conv2d_qu8_qc8w_scratch_bytes(const PackedConv2dQ8& packed, const Conv2dParams&) {
  return q8_rows_bytes(packed.k_padded);
}

void conv2d_qu8_qc8w_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& params, const QuantU8Params& quant,
                          const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch) {
  detail::check_conv2d_q8(packed, params, Family::kHwy, row_begin, row_end);
  detail::check_quant(quant);
  if (row_begin == row_end) return;
  if (scratch == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 conv2d needs scratch (conv2d_qu8_qc8w_scratch_bytes)");
  edgeq_kernels_hwy::DispatchQ8Conv(packed, params, quant, input, output, row_begin, row_end, align64(scratch));
}

size_t gemm_qu8_qc8w_scratch_bytes(const PackedGemmQ8& packed) { return q8_rows_bytes(packed.k_padded); }

void gemm_qu8_qc8w(const PackedGemmQ8& packed, const QuantU8Params& quant, const uint8_t* a, int64_t lda, uint8_t* c,
                   int64_t ldc, const GemmRange& range, void* scratch) {
  detail::check_gemm_q8(packed, Family::kHwy, lda, ldc, range);
  detail::check_quant(quant);
  if (range.n_begin % kPanelChannels != 0 && range.n_begin != range.n_end)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm column range must start at a multiple of 16, got " +
                                                 std::to_string(range.n_begin));
  if (range.m_begin == range.m_end || range.n_begin == range.n_end) return;
  if (scratch == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm needs scratch (gemm_qu8_qc8w_scratch_bytes)");
  edgeq_kernels_hwy::DispatchQ8Gemm(packed, quant, a, lda, c, ldc, range, align64(scratch));
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
