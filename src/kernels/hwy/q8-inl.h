// int8 micro-kernel shared by the hwy int8 conv, Winograd and gemm kernels (Highway per-target header,
// toggle guard as in tile-inl.h).
//
// A tile is MR rows (pixels, Winograd tiles or rows of A) x 16 output channels of int32 accumulators.
// The rows are int16 (x - zero_point); the reduction is `segments` runs of `seg_pairs` int16 pairs, run s
// of row r starting at a[r] + s * seg_stride (conv: one run per kernel row); the weights are the packed pairs [pairs][16][2] (int16, or
// int8 sign-extended in register). Per pair step: one broadcast 32-bit pair per row, one vpmaddwd +
// vpaddd per accumulator (exact: |pair sum| <= 2 * 255 * 1152 fits int32, no int16 saturation); NEON:
// smull + smull2 + addp + add (Highway 1.0.3's ReorderWidenMulAccumulate keeps the two products of a
// pair in different vectors there, so NEON has its own pair step); WASM SIMD128: i32x4.dot_i16x8_s +
// i32x4.add (Highway's ReorderWidenMulAccumulate: wasm's vpmaddwd, each int32 lane the exact sum of its
// two int16 products, lanes in place). The portable targets (EMU128, SCALAR) run plain loops over the
// same packed data.
// Quads (kQ8MethodQuads): AVX3_DL's vpdpbusd and NEON's SDOT (Armv8.2 dot product), see MulAccQuad.
#if defined(EDGEQ_KERNELS_HWY_Q8_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQ_KERNELS_HWY_Q8_INL_H_
#undef EDGEQ_KERNELS_HWY_Q8_INL_H_
#else
#define EDGEQ_KERNELS_HWY_Q8_INL_H_
#endif

#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "edgeq/kernels.h"
#include "hwy/highway.h"
#include "kernels/hwy/q8_plan.h"
#include "kernels/hwy/tile-inl.h"

#undef EDGEQ_Q8_PAIRWISE
#undef EDGEQ_Q8_QUADS
#undef EDGEQ_Q8_QUADS_BEGIN
#undef EDGEQ_Q8_QUADS_END
#if (HWY_ARCH_X86 || HWY_TARGET == HWY_NEON || HWY_TARGET == HWY_WASM) && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
#define EDGEQ_Q8_PAIRWISE 1
#endif
// The quad code (EDGEQ_Q8_QUADS) sits between EDGEQ_Q8_QUADS_BEGIN and _END. NEON: those functions are
// compiled for Armv8.2 with the dot product (SDOT) and only run when q8_product() found it
// (getauxval(AT_HWCAP) & HWCAP_ASIMDDP). A pragma region rather than a target attribute per function:
// the region's lambdas and templates get the target too, and SDOT inlines into them. (Highway 1.0.3
// dispatches at run time on Arm with GCC only, so GCC's pragma is the one needed.)
#if HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64
#define EDGEQ_Q8_QUADS_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"arch=armv8.2-a+crypto+dotprod\")")
#define EDGEQ_Q8_QUADS_END _Pragma("GCC pop_options")
#else
#define EDGEQ_Q8_QUADS_BEGIN
#define EDGEQ_Q8_QUADS_END
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using DI32 = hn::ScalableTag<int32_t>;
using V32 = hn::Vec<DI32>;

// Pixels per int8 tile. vpmaddwd does not accumulate in place, so each step needs a temporary besides
// the accumulators, the weight vectors and the broadcast: AVX2 (16 registers) holds 5 x 2 accumulators
// without spilling (6 x 2 spills); AVX-512 has 32 registers.
inline constexpr size_t kQ8TileRows = kVecs == 1 ? 8 : (kVecs == 2 ? 5 : 3);
static_assert(kQ8TileRows <= 8, "q8_plan.h kQ8MaxTileRows");

// Reduction shape of one tile (see the file comment).
struct Q8Reduction {
  size_t segments;
  int64_t seg_stride;  // int16 elements between runs (quad tiles: bytes)
  size_t seg_pairs;    // (quad tiles: quads)
  size_t Segments() const { return segments; }
  size_t SegPairs() const { return seg_pairs; }
};
// The same with a compile-time shape, so short reductions (3x3 with one input channel: 3 runs of 2
// pairs) unroll completely and keep the accumulators in registers through the epilogue.
template <size_t kSegments, size_t kSegPairs>
struct Q8FixedReduction {
  int64_t seg_stride;
  static constexpr size_t Segments() { return kSegments; }
  static constexpr size_t SegPairs() { return kSegPairs; }
};

// Output range of a call (requantize_u8's arguments).
struct Q8Requant {
  int32_t zero_point, out_min, out_max;
  float lo, hi;  // out_min - zero_point, out_max - zero_point: broadcast from memory, no int->float per store
  explicit Q8Requant(const edgeq::kernels::QuantU8Params& q)
      : zero_point(q.output_zero_point),
        out_min(q.output_min),
        out_max(q.output_max),
        lo(static_cast<float>(q.output_min - q.output_zero_point)),
        hi(static_cast<float>(q.output_max - q.output_zero_point)) {}
};

// Sinks: what a tile does with its int32 sums.
struct Q8RequantSink {  // + bias, requantize, store `channels` (<= 16) u8 per row
  uint8_t* const* out;
  const int32_t* bias;
  const float* mult;
  size_t channels;
  Q8Requant rq;
};
struct Q8Int32Sink {  // raw sums (+ bias), `channels` (<= 16) int32 per row (Winograd M, MatMulInteger)
  int32_t* const* out;
  const int32_t* bias = nullptr;  // nullptr: sums from 0
  size_t channels = kPanel;
};

// dst[0, len) = src[0, len) - zero_point, widened to int16.
HWY_INLINE void WidenRun(const uint8_t* src, int64_t len, int32_t zero_point, int16_t* dst) {
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<uint8_t, decltype(d16)> du8;
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d16));
  const auto zp = hn::Set(d16, static_cast<int16_t>(zero_point));
  int64_t j = 0;
  for (; j + lanes <= len; j += lanes) hn::StoreU(hn::Sub(hn::PromoteTo(d16, hn::LoadU(du8, src + j)), zp), d16, dst + j);
  for (; j < len; ++j) dst[j] = static_cast<int16_t>(static_cast<int32_t>(src[j]) - zero_point);
}

// Widens input rows [ih0, ih0 + rows) of image n into the band image: plan.image_w columns from
// -pad_left, plan.image_c int16 per pixel (channels past in_channels, and everything outside the
// input, are 0 = the zero point's real value).
HWY_INLINE void WidenBand(const edgeq::kernels::Conv2dParams& p, const edgeq::kernels::hwy::Q8ConvPlan& plan, const uint8_t* input, int64_t n, int64_t ih0,
               int64_t rows, int32_t zero_point, int16_t* image) {
  const int64_t cin = p.filter.in_channels, c = plan.image_c;
  const int64_t pitch = plan.image_w * c;
  const int64_t j0 = std::min(plan.image_w, p.pad_left);
  const int64_t j1 = std::clamp(p.pad_left + p.in_w, j0, plan.image_w);
  for (int64_t i = 0; i < rows; ++i) {
    int16_t* dst = image + i * pitch;
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= p.in_h || j0 == j1) {
      std::memset(dst, 0, static_cast<size_t>(pitch) * sizeof(int16_t));
      continue;
    }
    std::memset(dst, 0, static_cast<size_t>(j0 * c) * sizeof(int16_t));
    const uint8_t* src = input + ((n * p.in_h + ih) * p.in_w + (j0 - p.pad_left)) * cin;
    if (c == cin) {
      WidenRun(src, (j1 - j0) * cin, zero_point, dst + j0 * c);
    } else {
      for (int64_t j = j0; j < j1; ++j) {
        WidenRun(src + (j - j0) * cin, cin, zero_point, dst + j * c);
        std::memset(dst + j * c + cin, 0, static_cast<size_t>(c - cin) * sizeof(int16_t));
      }
    }
    std::memset(dst + j1 * c, 0, static_cast<size_t>((plan.image_w - j1) * c) * sizeof(int16_t));
  }
  // The last run of an odd length reads one element past the rows (its weight is 0): keep it defined.
  image[rows * pitch] = 0;
}

// Splits work rows [row_begin, row_end) (batch x rows of `unit` conv rows: 1, or 2 for a fused 2x2
// pool) into bands of plan.band_rows conv rows within one image, and calls
// band(n, b0, b1, ih0, in_rows): conv rows [b0, b1) of image n, which read input rows [ih0, ih0 + in_rows).
template <class Band>
HWY_INLINE void ForEachConvBand(const edgeq::kernels::Conv2dParams& p, const edgeq::kernels::hwy::Q8ConvPlan& plan,
                                int64_t row_begin, int64_t row_end, int64_t unit, const Band& band) {
  const int64_t window_rows = (p.filter.kernel_h - 1) * p.dilation_h + 1;
  const int64_t image_rows = p.out_h / unit, band_units = plan.band_rows / unit;
  for (int64_t row = row_begin; row < row_end;) {
    const int64_t n = row / image_rows, r0 = row % image_rows;
    const int64_t r1 = std::min(image_rows, r0 + (row_end - row));
    row += r1 - r0;
    for (int64_t u0 = r0; u0 < r1; u0 += band_units) {
      const int64_t b0 = unit * u0, b1 = unit * std::min(r1, u0 + band_units);  // conv rows
      band(n, b0, b1, b0 * p.stride_h - p.pad_top, (b1 - b0 - 1) * p.stride_h + window_rows);
    }
  }
}

// kQuads, kDepthwise: copies input rows [ih0, ih0 + rows) of image n into the u8 band image, plan.image_w pixels
// from -pad_left, everything outside the input = the zero point's code (real 0, as the padding is).
HWY_INLINE void CopyBandU8(const edgeq::kernels::Conv2dParams& p, const edgeq::kernels::hwy::Q8ConvPlan& plan, const uint8_t* input, int64_t n, int64_t ih0,
                int64_t rows, int32_t zero_point, uint8_t* image) {
  const int64_t c = plan.image_c, pitch = plan.image_w * c;
  const int64_t j0 = std::min(plan.image_w, p.pad_left);
  const int64_t j1 = std::clamp(p.pad_left + p.in_w, j0, plan.image_w);
  const int zp = static_cast<int>(zero_point);
  for (int64_t i = 0; i < rows; ++i) {
    uint8_t* dst = image + i * pitch;
    const int64_t ih = ih0 + i;
    if (ih < 0 || ih >= p.in_h || j0 == j1) {
      std::memset(dst, zp, static_cast<size_t>(pitch));
      continue;
    }
    std::memset(dst, zp, static_cast<size_t>(j0 * c));
    std::memcpy(dst + j0 * c, input + ((n * p.in_h + ih) * p.in_w + (j0 - p.pad_left)) * c, static_cast<size_t>((j1 - j0) * c));
    std::memset(dst + j1 * c, zp, static_cast<size_t>((plan.image_w - j1) * c));
  }
  // Reads past the rows (a run's last quad: up to 3 bytes, weights 0; a depthwise panel's tail: up to 15
  // bytes, lanes not stored): keep them defined.
  std::memset(image + rows * pitch, zp, kPanel);
}

#ifdef EDGEQ_Q8_PAIRWISE
using DI16 = hn::Repartition<int16_t, DI32>;  // (not on SCALAR: 2 int16 per int32 lane)
using V16 = hn::Vec<DI16>;

HWY_INLINE V32 BroadcastPair(const int16_t* p) {
  int32_t pair;
  std::memcpy(&pair, p, sizeof(pair));
  return hn::Set(DI32(), pair);
}

// kLanes channels x 2 of packed weights as int16.
HWY_INLINE V16 LoadPairs(const int16_t* w) { return hn::LoadU(DI16(), w); }
HWY_INLINE V16 LoadPairs(const int8_t* w) { return hn::PromoteTo(DI16(), hn::LoadU(hn::Rebind<int8_t, DI16>(), w)); }

// acc + per int32 lane the sum of the lane's two int16 products of a and w (vpmaddwd semantics).
HWY_INLINE V32 MulAccPairs(V32 acc, V16 a, V16 w) {
#if HWY_TARGET == HWY_NEON
  // smull / smull2: the 8 products of channels 0-1 and 2-3 as int32, addp: adjacent pairs summed, in
  // channel order.
  const int32x4_t lo = vmull_s16(vget_low_s16(a.raw), vget_low_s16(w.raw));
  const int32x4_t hi = vmull_high_s16(a.raw, w.raw);
  return V32(vaddq_s32(acc.raw, vpaddq_s32(lo, hi)));
#else
  V32 unused;
  // x86: vpmaddwd + vpaddd; WASM: i32x4.dot_i16x8_s + i32x4.add. Both keep a pair's sum in its lane.
  return hn::ReorderWidenMulAccumulate(DI32(), a, w, acc, unused);
#endif
}

// acc + the pairwise products of w with the int16 pair at p broadcast to every lane (vpmaddwd + vpaddd:
// exact, see the file comment). AVX3_DL: AVX512-VNNI vpdpwssd does both in one instruction (not
// saturating), the pair read as an embedded {1to16} broadcast. Inline asm because Highway 1.0.3's
// AVX3_DL target string enables avxvnni, not avx512vnni, so the intrinsic does not compile here; Highway
// picks AVX3_DL only on CPUs with AVX512-VNNI (its Ice Lake group), so the instruction is there.
HWY_INLINE V32 MulAccPair(V32 acc, const int16_t* p, V16 w) {
#if HWY_TARGET == HWY_AVX3_DL
  __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc.raw) : "v"(w.raw), "m"(*reinterpret_cast<const int16_t(*)[2]>(p)));
  return acc;
#else
  return MulAccPairs(acc, hn::BitCast(DI16(), BroadcastPair(p)), w);
#endif
}

// Requantizes the kVecs accumulators of one row (16 channels, + bias already in) and stores `count`.
HWY_INLINE void StoreRequantized(const V32 (&acc)[kVecs], const float* mult, const Q8Requant& rq, uint8_t* dst, size_t count) {
  const DF df;
  const VF lo = hn::Set(df, rq.lo);
  const VF hi = hn::Set(df, rq.hi);
  // Clamping before rounding equals requantize_u8's round-then-clamp (integer bounds, monotone rounding)
  // and keeps the float -> int conversion in range.
  VF x[kVecs];
  for (size_t v = 0; v < kVecs; ++v)
    x[v] = hn::Min(hn::Max(hn::Mul(hn::ConvertTo(df, acc[v]), hn::LoadU(df, mult + v * kLanes)), lo), hi);
#if HWY_TARGET == HWY_AVX2
  HWY_ALIGN uint8_t bytes[kPanel];
  // cvtps2dq rounds half to even (default MXCSR, as std::nearbyint); packs reorder 128-bit halves, the
  // final dword permute restores channel order: 16 channels in 4 pack/permute ops.
  const __m256i i0 = _mm256_cvtps_epi32(x[0].raw), i1 = _mm256_cvtps_epi32(x[1].raw);
  const __m256i w16 = _mm256_add_epi16(_mm256_packs_epi32(i0, i1), _mm256_set1_epi16(static_cast<int16_t>(rq.zero_point)));
  const __m256i b8 = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w16, w16), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  const __m128i q = _mm256_castsi256_si128(b8);
  if (count == kPanel) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), q);
    return;
  }
  _mm_store_si128(reinterpret_cast<__m128i*>(bytes), q);
  std::memcpy(dst, bytes, count);
#elif HWY_TARGET == HWY_AVX3 || HWY_TARGET == HWY_AVX3_DL
  // One vector of 16 channels: vcvtps2dq rounds half to even (default MXCSR, as std::nearbyint); the
  // clamped value + zero point lies in [0, 255], so vpmovdb's truncation is exact, and its masked form
  // stores only `count` channels.
  const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(x[0].raw), _mm512_set1_epi32(rq.zero_point));
  _mm512_mask_cvtepi32_storeu_epi8(dst, static_cast<__mmask16>((1u << count) - 1u), q);
  return;
#else
  HWY_ALIGN uint8_t bytes[kPanel];
  const DI32 d32;
  const hn::Rebind<uint8_t, DI32> du8;
  for (size_t v = 0; v < kVecs; ++v) {
    const V32 q = hn::Add(hn::ConvertTo(d32, hn::Round(x[v])), hn::Set(d32, rq.zero_point));
    hn::Store(hn::DemoteTo(du8, q), du8, bytes + v * kLanes);
  }
  if (count == kPanel) {
    std::memcpy(dst, bytes, kPanel);
    return;
  }
  std::memcpy(dst, bytes, count);
#endif
}

template <size_t MR>
HWY_INLINE void InitTile(const Q8RequantSink& s, V32 (&acc)[MR][kVecs]) {
  for (size_t v = 0; v < kVecs; ++v) {
    const V32 b = hn::LoadU(DI32(), s.bias + v * kLanes);
    for (size_t r = 0; r < MR; ++r) acc[r][v] = b;
  }
}
template <size_t MR>
HWY_INLINE void InitTile(const Q8Int32Sink& s, V32 (&acc)[MR][kVecs]) {
  for (size_t v = 0; v < kVecs; ++v) {
    const V32 b = s.bias ? hn::LoadU(DI32(), s.bias + v * kLanes) : hn::Zero(DI32());
    for (size_t r = 0; r < MR; ++r) acc[r][v] = b;
  }
}
template <size_t MR>
HWY_INLINE void FinishTile(const Q8RequantSink& s, V32 (&acc)[MR][kVecs]) {
  for (size_t r = 0; r < MR; ++r) StoreRequantized(acc[r], s.mult, s.rq, s.out[r], s.channels);
}
// The sums of one row, `count` (<= 16) int32 stored.
HWY_INLINE void StoreSums(const V32 (&acc)[kVecs], int32_t* dst, size_t count) {
  if (count == kPanel) {
    for (size_t v = 0; v < kVecs; ++v) hn::StoreU(acc[v], DI32(), dst + v * kLanes);
    return;
  }
  HWY_ALIGN int32_t sums[kPanel];
  for (size_t v = 0; v < kVecs; ++v) hn::Store(acc[v], DI32(), sums + v * kLanes);
  std::memcpy(dst, sums, count * sizeof(int32_t));
}
template <size_t MR>
HWY_INLINE void FinishTile(const Q8Int32Sink& s, V32 (&acc)[MR][kVecs]) {
  for (size_t r = 0; r < MR; ++r) StoreSums(acc[r], s.out[r], s.channels);
}

template <size_t MR, class Red, class WeightT, class Sink>
HWY_INLINE void Q8Tile(const int16_t* const* a, const Red& red, const WeightT* w, const Sink& sink) {
  V32 acc[MR][kVecs];
  InitTile(sink, acc);
  for (size_t s = 0; s < red.Segments(); ++s) {
    const int16_t* ap[MR];
    for (size_t r = 0; r < MR; ++r) ap[r] = a[r] + static_cast<int64_t>(s) * red.seg_stride;
    for (size_t i = 0; i < red.SegPairs(); ++i) {
      V16 wv[kVecs];
      for (size_t v = 0; v < kVecs; ++v) wv[v] = LoadPairs(w + v * 2 * kLanes);
      for (size_t r = 0; r < MR; ++r)
        for (size_t v = 0; v < kVecs; ++v) acc[r][v] = MulAccPair(acc[r][v], ap[r] + 2 * i, wv[v]);
      w += 2 * kPanel;
    }
  }
  FinishTile(sink, acc);
}

#if HWY_TARGET == HWY_AVX3_DL || (HWY_TARGET == HWY_NEON && HWY_ARCH_ARM_A64)
// u8 quads (kQ8MethodQuads, the quad-packed gemm): per int32 lane, the 4 products of the lane's u8
// bytes of `a` with its s8 bytes of `w`, added to the lane (exact: 4 * 255 * 128 fits easily).
//   AVX3_DL: AVX512-VNNI vpdpbusd (wraps, does not saturate, unlike vpdpbusds and vpmaddubsw); inline
//   asm for the reason MulAccPair gives. AT&T order: the s8 operand first, the u8 second, the
//   accumulator last.
//   NEON: SDOT multiplies s8 x s8, so the inputs are flipped to s8 (x ^ 0x80 = x - 128) and the sums
//   start 128 * (weight sum) higher (QuadInit). USDOT (i8mm) would take u8 as is: same layout, not
//   used yet.
#define EDGEQ_Q8_QUADS 1
EDGEQ_Q8_QUADS_BEGIN

HWY_INLINE V32 MulAccQuad(V32 acc, V32 a, V32 w_s8) {
#if HWY_TARGET == HWY_AVX3_DL
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc.raw) : "v"(a.raw), "v"(w_s8.raw));
  return acc;
#else
  return V32(vdotq_s32(acc.raw, vreinterpretq_s8_s32(a.raw), vreinterpretq_s8_s32(w_s8.raw)));
#endif
}
// The 4 bytes at p in every lane, as MulAccQuad takes them (NEON: flipped to s8).
HWY_INLINE V32 BroadcastQuad(const uint8_t* p) {
  int32_t quad;
  std::memcpy(&quad, p, sizeof(quad));
#if HWY_TARGET == HWY_NEON
  quad ^= static_cast<int32_t>(0x80808080u);
#endif
  return hn::Set(DI32(), quad);
}
// A panel's starting sums, one per channel vector: bias - zero_point * weight sums, so that adding
// sum(x * w) over the raw u8 inputs gives exactly bias + sum((x - zero_point) * w) (int32 wraps as a
// ring: exact when that fits). NEON adds sum((x - 128) * w): start 128 * weight sums higher.
#if HWY_TARGET == HWY_NEON
// Plain int32 on NEON: a struct of NEON vectors in a std::array gets an implicit constructor GCC
// compiles without the target pragma, which cannot inline the vectors' constructors.
struct Q8QuadStart {
  HWY_ALIGN int32_t sums[kPanel];
  HWY_INLINE V32 Vec(size_t v) const { return hn::Load(DI32(), sums + v * kLanes); }
  HWY_INLINE void Set(size_t v, V32 x) { hn::Store(x, DI32(), sums + v * kLanes); }
};
#else
// AVX3_DL (one vector per panel): the vector itself.
static_assert(kVecs == 1, "one 16-channel panel per AVX-512 vector");
using Q8QuadStart = V32;
#endif

HWY_INLINE Q8QuadStart QuadInit(const int32_t* bias, const int32_t* col_sums, int32_t zero_point) {
  const DI32 d32;
#if HWY_TARGET == HWY_NEON
  zero_point -= 128;
  Q8QuadStart start;
  for (size_t v = 0; v < kVecs; ++v)
    start.Set(v, hn::Sub(hn::LoadU(d32, bias + v * kLanes), hn::Mul(hn::LoadU(d32, col_sums + v * kLanes), hn::Set(d32, zero_point))));
  return start;
#else
  return hn::Sub(hn::LoadU(d32, bias), hn::Mul(hn::LoadU(d32, col_sums), hn::Set(d32, zero_point)));
#endif
}

// MR rows of u8 x NP panels of quads ([steps][16][4] each, `panel_stride` bytes apart): the reduction
// as in Q8Tile, in quads (red's seg_pairs counts quads, seg_stride bytes); panel p's sums start at
// init[p] (QuadInit) and go to sinks[p]. One broadcast quad feeds NP * kVecs multiply-adds.
template <size_t MR, size_t NP, class Red, class Sink>
HWY_INLINE void Q8QuadTile(const uint8_t* const* a, const Red& red, const int8_t* w, int64_t panel_stride,
                           const std::array<Q8QuadStart, NP>& init, const std::array<Sink, NP>& sinks) {
  const DI32 d32;
  V32 acc[NP][MR][kVecs];
  for (size_t p = 0; p < NP; ++p) {
    for (size_t r = 0; r < MR; ++r) {
#if HWY_TARGET == HWY_NEON
      for (size_t v = 0; v < kVecs; ++v) acc[p][r][v] = init[p].Vec(v);
#else
      // Not a loop over kVecs = 1: with it GCC kept AVX3_DL's weight vectors on the stack in the conv
      // tiles (cnn-s conv1 +14 %).
      acc[p][r][0] = init[p];
#endif
    }
  }
  for (size_t s = 0; s < red.Segments(); ++s) {
    const uint8_t* ap[MR];
    for (size_t r = 0; r < MR; ++r) ap[r] = a[r] + static_cast<int64_t>(s) * red.seg_stride;
    size_t i0 = 0;  // the first quad the loop below runs
#if HWY_TARGET == HWY_NEON
    // 4 quads of each row at once: one 16-byte load and one flip per row, then SDOT's lane form picks
    // quad l of the row for step l (XNNPACK's neondot kernels do the same). The remaining quads below.
    for (; i0 + 4 <= red.SegPairs(); i0 += 4) {
      const size_t i = i0;
      int8x16_t x[MR];
      for (size_t r = 0; r < MR; ++r) x[r] = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(ap[r] + 4 * i), vdupq_n_u8(0x80)));
      auto step = [&](auto lane) {
        constexpr int kLane = decltype(lane)::value;
        int8x16_t wv[NP][kVecs];
        for (size_t p = 0; p < NP; ++p)
          for (size_t v = 0; v < kVecs; ++v) wv[p][v] = vld1q_s8(w + static_cast<int64_t>(p) * panel_stride + (kLane * kPanel + v * kLanes) * 4);
        for (size_t r = 0; r < MR; ++r)
          for (size_t p = 0; p < NP; ++p)
            for (size_t v = 0; v < kVecs; ++v) acc[p][r][v] = V32(vdotq_laneq_s32(acc[p][r][v].raw, wv[p][v], x[r], kLane));
      };
      step(std::integral_constant<int, 0>());
      step(std::integral_constant<int, 1>());
      step(std::integral_constant<int, 2>());
      step(std::integral_constant<int, 3>());
      w += 16 * kPanel;
    }
#endif
    for (size_t i = i0; i < red.SegPairs(); ++i) {
      V32 wv[NP][kVecs];
      for (size_t p = 0; p < NP; ++p)
        for (size_t v = 0; v < kVecs; ++v)
          wv[p][v] = hn::LoadU(d32, reinterpret_cast<const int32_t*>(w + static_cast<int64_t>(p) * panel_stride) + v * kLanes);
      for (size_t r = 0; r < MR; ++r) {
        const V32 x = BroadcastQuad(ap[r] + 4 * i);
        for (size_t p = 0; p < NP; ++p)
          for (size_t v = 0; v < kVecs; ++v) acc[p][r][v] = MulAccQuad(acc[p][r][v], x, wv[p][v]);
      }
      w += 4 * kPanel;
    }
  }
  for (size_t p = 0; p < NP; ++p) FinishTile(sinks[p], acc[p]);
}

// Runs Q8QuadTile with MR = rows (1..kMaxRows).
template <size_t kMaxRows, size_t NP, class Red, class Sink>
HWY_INLINE void Q8QuadTileRows(size_t rows, const uint8_t* const* a, const Red& red, const int8_t* w,
                               int64_t panel_stride, const std::array<Q8QuadStart, NP>& init,
                               const std::array<Sink, NP>& sinks) {
  WithTileRows<kMaxRows>(rows, [&](auto mr) { Q8QuadTile<decltype(mr)::value, NP>(a, red, w, panel_stride, init, sinks); });
}
EDGEQ_Q8_QUADS_END
#endif  // HWY_AVX3_DL || NEON

#else  // portable: plain loops over the same packed data

// Requantizes one row's 16 sums exactly as requantize_u8 (it is requantize_u8) and stores `count`.
HWY_INLINE void StoreRequantized(const V32 (&acc)[kVecs], const float* mult, const Q8Requant& rq, uint8_t* dst, size_t count) {
  HWY_ALIGN int32_t sums[kPanel];
  for (size_t v = 0; v < kVecs; ++v) hn::Store(acc[v], DI32(), sums + v * kLanes);
  for (size_t j = 0; j < count; ++j)
    dst[j] = edgeq::kernels::requantize_u8(sums[j], mult[j], rq.zero_point, rq.out_min, rq.out_max);
}

template <size_t MR, class Red, class WeightT, class Sink>
HWY_INLINE void Q8Tile(const int16_t* const* a, const Red& red, const WeightT* w, const Sink& sink) {
  constexpr bool kRequant = std::is_same_v<Sink, Q8RequantSink>;
  for (size_t r = 0; r < MR; ++r) {
    int32_t acc[kPanel];
    for (size_t j = 0; j < kPanel; ++j) {
      if constexpr (kRequant) {
        acc[j] = sink.bias[j];
      } else {
        acc[j] = sink.bias ? sink.bias[j] : 0;
      }
    }
    const WeightT* wp = w;
    for (size_t s = 0; s < red.Segments(); ++s) {
      const int16_t* ap = a[r] + static_cast<int64_t>(s) * red.seg_stride;
      for (size_t i = 0; i < red.SegPairs(); ++i, wp += 2 * kPanel)
        for (size_t j = 0; j < kPanel; ++j) acc[j] += ap[2 * i] * wp[2 * j] + ap[2 * i + 1] * wp[2 * j + 1];
    }
    if constexpr (kRequant) {
      for (size_t j = 0; j < sink.channels; ++j)
        sink.out[r][j] = edgeq::kernels::requantize_u8(acc[j], sink.mult[j], sink.rq.zero_point, sink.rq.out_min,
                                                       sink.rq.out_max);
    } else {
      std::memcpy(sink.out[r], acc, sink.channels * sizeof(int32_t));
    }
  }
}

#endif  // EDGEQ_Q8_PAIRWISE

// A fused 2x2 max pool's sink: a tile of MR = 4P pixels holds P pool windows, conv row 2i's pixels
// 2j, 2j + 1 at rows 2j, 2j + 1 and conv row 2i + 1's at 2P + 2j, 2P + 2j + 1; window j's max (the
// sums' max: the requantization is monotone for multipliers > 0) is requantized once to out[j].
struct Q8Pool2Sink {
  uint8_t* const* out;
  const float* mult;
  size_t channels;
  Q8Requant rq;
};
// The max of four rows of sums, requantized and stored (the Winograd output transform's pooled store).
HWY_INLINE void StorePooled(const V32 (&a)[kVecs], const V32 (&b)[kVecs], const V32 (&c)[kVecs], const V32 (&d)[kVecs],
                            const float* mult, const Q8Requant& rq, uint8_t* dst, size_t count) {
  V32 m[kVecs];
  for (size_t v = 0; v < kVecs; ++v) m[v] = hn::Max(hn::Max(a[v], b[v]), hn::Max(c[v], d[v]));
  StoreRequantized(m, mult, rq, dst, count);
}
template <size_t MR>
HWY_INLINE void FinishTile(const Q8Pool2Sink& s, V32 (&acc)[MR][kVecs]) {
  constexpr size_t kWindows = MR / 4;
  for (size_t j = 0; j < kWindows; ++j)
    StorePooled(acc[2 * j], acc[2 * j + 1], acc[2 * kWindows + 2 * j], acc[2 * kWindows + 2 * j + 1], s.mult, s.rq, s.out[j],
                s.channels);
}

// Runs Q8Tile with MR = rows (1..kQ8TileRows).
template <class Red, class WeightT, class Sink>
HWY_INLINE void Q8TileRows(size_t rows, const int16_t* const* a, const Red& red, const WeightT* w, const Sink& sink) {
  WithTileRows<kQ8TileRows>(rows, [&](auto mr) { Q8Tile<decltype(mr)::value>(a, red, w, sink); });
}

// Splits `count` rows into tiles of at most kQ8TileRows, as equal as possible (49 pixels: 5 x 9 + 4,
// not 6 x 8 + 1: a 1-row tile has too few independent accumulators), calling f(first, rows).
template <size_t kMaxRows = kQ8TileRows, class F>
HWY_INLINE void ForEachBalancedTile(int64_t count, const F& f) {
  const int64_t tiles = (count + static_cast<int64_t>(kMaxRows) - 1) / static_cast<int64_t>(kMaxRows);
  for (int64_t t = 0, q = 0; t < tiles; ++t) {
    const int64_t q_next = count * (t + 1) / tiles;
    f(q, static_cast<size_t>(q_next - q));
    q = q_next;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#endif  // EDGEQ_KERNELS_HWY_Q8_INL_H_
