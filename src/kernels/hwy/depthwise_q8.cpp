// hwy int8 depthwise conv2d NHWC (kQ8MethodDepthwise, q8_plan.h: groups == in == out channels, 3x3 or
// 5x5, stride 1 or 2, dilation 1), exact, on every Highway target.
//   band image  u8 input rows with the padding = the input zero point's code (CopyBandU8, as kQuads), so
//               the taps need no bounds checks: a padded tap adds (zp - zp) * w = 0 (AVX3_DL reads the
//               input in place, see DepthwiseSource);
//   reduction   vectors along the channels (contiguous in NHWC): per tap, the u8 pixels zero-extended
//               to int32 times the tap's int32 weights, added; the sums start at
//               bias - zero_point * sum(w), so they end as bias + sum((x - zero_point) * w) mod 2^32,
//               exactly the reference's int32 sum (ring arithmetic, whatever wraps);
//   epilogue    StoreRequantized (q8-inl.h), the one every int8 method shares.
// Per 16-channel panel, the taps' weights and the initial sums are loaded once and every pixel of the
// band streams past (the band image stays in L1/L2).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/depthwise_q8.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/q8-inl.h"

#ifndef EDGEQ_KERNELS_HWY_DEPTHWISE_Q8_ONCE_
#define EDGEQ_KERNELS_HWY_DEPTHWISE_Q8_ONCE_
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/hwy/q8_plan.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Conv2dParams;
using edgeq::kernels::PackedConv2dQ8;
using edgeq::kernels::QuantU8Params;
using edgeq::kernels::hwy::Q8ConvPlan;

// kVecs vectors of kLanes u8 pixels' channels, zero-extended to int32.
HWY_INLINE V32 LoadPixelsU8(const uint8_t* at) {
  const DI32 d32;
  return hn::PromoteTo(d32, hn::LoadU(hn::Rebind<uint8_t, DI32>(), at));
}

// Output rows [oh_begin, oh_end) of image n from the u8 band image (row 0 = input row
// oh_begin * stride_h - pad_top), kSize x kSize taps.
template <int64_t kSize>
void DepthwiseBand(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8ConvPlan& plan, const Q8Requant& rq,
                   int32_t zero_point, const uint8_t* image, int64_t n, int64_t oh_begin, int64_t oh_end,
                   uint8_t* output) {
  constexpr int64_t kTaps = kSize * kSize;
  const DI32 d32;
  const int64_t channels = packed.filter.out_channels;
  const int64_t padded = (channels + kPanel - 1) / kPanel * kPanel;  // the packed weights' tap stride
  const int64_t pitch = plan.image_w * plan.image_c, step = p.stride_w * plan.image_c;
  const V32 zp = hn::Set(d32, zero_point);
  for (int64_t c0 = 0; c0 < channels; c0 += kPanel) {
    V32 w[kTaps][kVecs], init[kVecs];
    for (size_t v = 0; v < kVecs; ++v) {
      const int64_t c = c0 + static_cast<int64_t>(v * kLanes);
      for (int64_t t = 0; t < kTaps; ++t) w[t][v] = hn::LoadU(d32, packed.depthwise_weights + t * padded + c);
      init[v] = hn::Sub(hn::LoadU(d32, packed.bias + c), hn::Mul(zp, hn::LoadU(d32, packed.col_sums + c)));
    }
    const float* mult = packed.multipliers + c0;
    const size_t count = static_cast<size_t>(std::min<int64_t>(kPanel, channels - c0));
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const uint8_t* window = image + (oh - oh_begin) * p.stride_h * pitch + c0;
      uint8_t* out = output + (n * p.out_h + oh) * p.out_w * channels + c0;
      for (int64_t ow = 0; ow < p.out_w; ++ow, window += step, out += channels) {
        V32 acc[kVecs];
        for (size_t v = 0; v < kVecs; ++v) acc[v] = init[v];
        EDGEQ_UNROLL_ALL
        for (int64_t t = 0; t < kTaps; ++t) {
          const uint8_t* tap = window + (t / kSize) * pitch + (t % kSize) * plan.image_c;
          for (size_t v = 0; v < kVecs; ++v)
            acc[v] = hn::Add(acc[v], hn::Mul(LoadPixelsU8(tap + v * kLanes), w[t][v]));
        }
        StoreRequantized(acc, mult, rq, out, count);
      }
    }
  }
}

#if HWY_TARGET == HWY_AVX3_DL
// AVX512-VNNI (packed.quad_weights, pack_depthwise_q8): the window's rows at one column as u8 quads of
// up to 4 rows (kSize 3: one quad, the 4th byte's weight 0; kSize 5: rows 0-3 and row 4), so one vpdpbusd
// adds up to 4 taps of 16 channels; the plain path's vpmovzxbd + vpmulld + vpaddd per tap were 34 vector
// ops per 16 outputs of a 3x3. Along an output row a column's quads serve kSize / stride outputs: they
// slide in registers, so stride 1 builds one new column per output.
//   source   the window rows are read where they are, in the input (rows above or below it: a row of
//            zero point codes; columns left or right of it: the zero point's quad, so the interior runs
//            unchecked): the band copy was a quarter of a stride-2 layer's time (perf, 112x112x96). When
//            channels % 16 != 0 the last panel's 16-byte loads would read past the input's end: those
//            convs read a band copy as before (CopyBandU8, all columns inside).
//   blocks   3x3, 64 channels (4 panels) at a time: one 64-byte load per row and 8 in-lane unpacks give
//            4 quad vectors, where a panel took 3 loads, 2 inserts and a vpermb for one; the quad vectors
//            hold channels in the order of Quads64, so the weights, starting sums and multipliers are
//            reordered once per band (TransposeLanes) and the requantize packs restore the order. Then
//            32 channels at a time (Quads32: 2 vectors from 3 loads and 2 two-source vpermb, in channel
//            order), then 16-channel panels (and all of 5x5, whose blocks would not fit the registers).

// acc + vpdpbusd(a, w) (MulAccQuad), the weights allowed to stay in memory: a 3x3 block keeps 12 weight
// and 12 column vectors live, which with the sums exceeds the 32 registers.
HWY_INLINE __m512i MulAccQuadMem(__m512i acc, __m512i a, const __m512i& w_s8) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "vm"(w_s8));
  return acc;
}

// 4 vectors of one block's panels (lane = channel within the panel) -> the order of Quads64: v[m]'s
// 128-bit lane L = panel L's lane m (a 4x4 transpose of 128-bit lanes).
HWY_INLINE void TransposeLanes(__m512i (&v)[4]) {
  const __m512i t0 = _mm512_shuffle_i32x4(v[0], v[1], 0x44), t1 = _mm512_shuffle_i32x4(v[0], v[1], 0xEE);
  const __m512i t2 = _mm512_shuffle_i32x4(v[2], v[3], 0x44), t3 = _mm512_shuffle_i32x4(v[2], v[3], 0xEE);
  v[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
  v[1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
  v[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
  v[3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}

// The quads of 3 rows (a 3x3 window's column; the 4th byte 0) for 64 channels: q[m]'s dword 4L + i =
// channel 16L + 4m + i (the unpacks work within 128-bit lanes).
HWY_INLINE void Quads64(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, __m512i (&q)[4]) {
  const __m512i a = _mm512_loadu_si512(r0), b = _mm512_loadu_si512(r1), c = _mm512_loadu_si512(r2);
  const __m512i zero = _mm512_setzero_si512();
  const __m512i ab_lo = _mm512_unpacklo_epi8(a, b), ab_hi = _mm512_unpackhi_epi8(a, b);
  const __m512i c_lo = _mm512_unpacklo_epi8(c, zero), c_hi = _mm512_unpackhi_epi8(c, zero);
  q[0] = _mm512_unpacklo_epi16(ab_lo, c_lo);
  q[1] = _mm512_unpackhi_epi16(ab_lo, c_lo);
  q[2] = _mm512_unpacklo_epi16(ab_hi, c_hi);
  q[3] = _mm512_unpackhi_epi16(ab_hi, c_hi);
}

// The quads of 3 rows (a 3x3 window's column; the 4th byte 0) for 32 channels, in channel order: q[b]'s
// byte 4c + k = channel 16b + c of row k.
HWY_INLINE void Quads32(const uint8_t* r0, const uint8_t* r1, const uint8_t* r2, __m512i (&q)[2]) {
  // Byte 4c + k <- rows 0 | 1 side by side (indices 0-63), row 2 then zeros (64-127): row k's channel
  // 16b + c is at 32k + 16b + c; the 4th byte reads a zero (96).
  alignas(64) static constexpr uint8_t kPick[2][64] = {
      {0,  32, 64, 96, 1,  33, 65, 96, 2,  34, 66, 96, 3,  35, 67, 96, 4,  36, 68, 96, 5,  37, 69, 96,
       6,  38, 70, 96, 7,  39, 71, 96, 8,  40, 72, 96, 9,  41, 73, 96, 10, 42, 74, 96, 11, 43, 75, 96,
       12, 44, 76, 96, 13, 45, 77, 96, 14, 46, 78, 96, 15, 47, 79, 96},
      {16, 48, 80, 96, 17, 49, 81, 96, 18, 50, 82, 96, 19, 51, 83, 96, 20, 52, 84, 96, 21, 53, 85, 96,
       22, 54, 86, 96, 23, 55, 87, 96, 24, 56, 88, 96, 25, 57, 89, 96, 26, 58, 90, 96, 27, 59, 91, 96,
       28, 60, 92, 96, 29, 61, 93, 96, 30, 62, 94, 96, 31, 63, 95, 96}};
  const __m512i ab = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r0))),
                                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r1)), 1);
  const __m512i c = _mm512_zextsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r2)));
  q[0] = _mm512_permutex2var_epi8(ab, _mm512_load_si512(kPick[0]), c);
  q[1] = _mm512_permutex2var_epi8(ab, _mm512_load_si512(kPick[1]), c);
}

// The quads of rows 4g.. (up to 4) for one 16-channel panel: byte 4c + k = channel c of row 4g + k.
template <int64_t kSize>
HWY_INLINE __m512i Quads16(const uint8_t* const* row, int64_t g, int64_t offset, __m512i interleave) {
  const uint8_t* const* r = row + 4 * g;
  __m512i v = _mm512_zextsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[0] + offset)));
  if (4 * g + 1 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[1] + offset)), 1);
  if (4 * g + 2 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[2] + offset)), 2);
  if (4 * g + 3 < kSize) v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[3] + offset)), 3);
  // Byte 4c + k <- byte 16k + c of the 4 rows side by side.
  return _mm512_permutexvar_epi8(interleave, v);
}

// Requantizes 64 channels' sums in the order of Quads64 (mult in that order too) and stores them in
// channel order: the same float steps as StoreRequantized, then packs instead of vpmovdb (the clamped
// value + zero point lies in [0, 255], so neither pack saturates: the same bytes).
HWY_INLINE void StoreRequantized64(const __m512i (&acc)[4], const float* mult, const Q8Requant& rq, uint8_t* dst) {
  const __m512 lo = _mm512_set1_ps(rq.lo), hi = _mm512_set1_ps(rq.hi);
  __m512i q[4];
  for (int m = 0; m < 4; ++m) {
    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[m]), _mm512_load_ps(mult + 16 * m));
    q[m] = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(x, lo), hi));
  }
  // Lane L: packs(q0, q1) = channels 16L + 0..7, packs(q2, q3) = 16L + 8..15; packus: 16L + 0..15.
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(rq.zero_point));
  const __m512i w01 = _mm512_add_epi16(_mm512_packs_epi32(q[0], q[1]), zp);
  const __m512i w23 = _mm512_add_epi16(_mm512_packs_epi32(q[2], q[3]), zp);
  _mm512_storeu_si512(dst, _mm512_packus_epi16(w01, w23));
}

// Where output row oh's window rows are (row i = input row oh * stride_h - pad_top + i) and which of
// their columns hold data: image column x (padded coordinates) is at byte (x - shift) * channels of
// its row when x_lo <= x < x_hi; the others are padding, the zero point's code.
struct DepthwiseSource {
  const uint8_t* input;   // the rows themselves (in_h rows of image n), or the band image
  const uint8_t* zp_row;  // rows outside the input (image_w * channels codes = the zero point)
  int64_t first_row;      // + oh * stride_h + i = window row i's row in `input` (input: -pad_top; band
                          // image: -(the band's first conv row) * stride_h)
  int64_t rows;           // rows `input` holds (input: in_h; band image: all that are read)
  int64_t pitch;
  int64_t x_lo, x_hi, shift;
};

// Output rows [oh_begin, oh_end) of image n, channels [c_begin, c_end) in blocks of kBlock panels.
template <int64_t kSize, int64_t kStride, int64_t kBlock>
void DepthwiseQuadsBand(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8Requant& rq, int32_t zero_point,
                        const DepthwiseSource& src, int64_t n, int64_t oh_begin, int64_t oh_end, int64_t c_begin,
                        int64_t c_end, uint8_t* output) {
  static_assert(kBlock == 1 || ((kBlock == 2 || kBlock == 4) && kSize == 3), "blocks are 3x3 (Quads32, Quads64)");
  constexpr int64_t kGroups = (kSize + 3) / 4;
  constexpr int64_t sw = kStride;
  const int64_t channels = packed.filter.out_channels;
  alignas(64) static constexpr uint8_t kInterleave[64] = {
      0, 16, 32, 48, 1, 17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51, 4,  20, 36, 52, 5,  21, 37, 53,
      6, 22, 38, 54, 7, 23, 39, 55, 8,  24, 40, 56, 9,  25, 41, 57, 10, 26, 42, 58, 11, 27, 43, 59,
      12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};
  const __m512i interleave = _mm512_load_si512(kInterleave);
  const __m512i zp_quad = _mm512_set1_epi8(static_cast<char>(zero_point));  // a padding column (any 4th byte: weight 0)
  // Outputs whose whole window lies in [x_lo, x_hi) read unchecked: [ow_in, ow_out).
  const int64_t ow_in = std::min(p.out_w, (src.x_lo + sw - 1) / sw);
  const int64_t ow_out = std::clamp<int64_t>(src.x_hi >= kSize ? (src.x_hi - kSize) / sw + 1 : 0, ow_in, p.out_w);
  for (int64_t c0 = c_begin; c0 < c_end; c0 += kBlock * kPanel) {
    const int64_t panel = c0 / static_cast<int64_t>(kPanel);
    alignas(64) __m512i w[kGroups][kSize][kBlock];
    alignas(64) __m512i init[kBlock];
    alignas(64) float block_mult[kBlock * kPanel];  // kBlock 4: the multipliers in the order of Quads64
    for (int64_t g = 0; g < kGroups; ++g)
      for (int64_t j = 0; j < kSize; ++j)
        for (int64_t b = 0; b < kBlock; ++b)
          w[g][j][b] = _mm512_loadu_si512(packed.quad_weights + (((panel + b) * kGroups + g) * kSize + j) * 64);
    for (int64_t b = 0; b < kBlock; ++b) init[b] = QuadInit(packed.bias + c0 + b * kPanel, packed.col_sums + c0 + b * kPanel, zero_point).raw;
    if constexpr (kBlock == 4) {
      __m512i m[4];
      for (int64_t b = 0; b < 4; ++b) m[b] = _mm512_castps_si512(_mm512_loadu_ps(packed.multipliers + c0 + b * kPanel));
      TransposeLanes(m);
      for (int64_t b = 0; b < 4; ++b) _mm512_store_ps(block_mult + b * kPanel, _mm512_castsi512_ps(m[b]));
      TransposeLanes(init);
      for (int64_t j = 0; j < kSize; ++j) TransposeLanes(w[0][j]);
    }
    const float* mult = kBlock == 4 ? block_mult : packed.multipliers + c0;
    const size_t count = static_cast<size_t>(std::min<int64_t>(kPanel, channels - c0));
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      const uint8_t* row[kSize];
      for (int64_t i = 0; i < kSize; ++i) {
        const int64_t r = oh * p.stride_h + i + src.first_row;
        row[i] = r >= 0 && r < src.rows ? src.input + r * src.pitch : src.zp_row;
      }
      // The window's column x into cols (kBlock vectors per group).
      auto load_column = [&](int64_t x, bool checked, __m512i (&dst)[kGroups][kBlock]) __attribute__((always_inline)) {
        if (checked && (x < src.x_lo || x >= src.x_hi)) {
          for (int64_t g = 0; g < kGroups; ++g)
            for (int64_t b = 0; b < kBlock; ++b) dst[g][b] = zp_quad;
          return;
        }
        const int64_t offset = (x - src.shift) * channels + c0;
        if constexpr (kBlock == 4) {
          Quads64(row[0] + offset, row[1] + offset, row[2] + offset, dst[0]);
        } else if constexpr (kBlock == 2) {
          Quads32(row[0] + offset, row[1] + offset, row[2] + offset, dst[0]);
        } else {
          for (int64_t g = 0; g < kGroups; ++g) dst[g][0] = Quads16<kSize>(row, g, offset, interleave);
        }
      };
      uint8_t* out = output + (n * p.out_h + oh) * p.out_w * channels + c0;
      __m512i cols[kSize][kGroups][kBlock];  // the window's columns: cols[j] = column ow * sw + j
      for (int64_t j = 0; j + sw < kSize; ++j) load_column(j, true, cols[j + sw]);
      auto output_pixel = [&](int64_t ow, bool checked) __attribute__((always_inline)) {
        EDGEQ_UNROLL_ALL
        for (int64_t j = 0; j < kSize; ++j) {
          if (j + sw < kSize) {
            for (int64_t g = 0; g < kGroups; ++g)
              for (int64_t b = 0; b < kBlock; ++b) cols[j][g][b] = cols[j + sw][g][b];
          } else {
            load_column(ow * sw + j, checked, cols[j]);
          }
        }
        __m512i acc[kBlock];
        for (int64_t b = 0; b < kBlock; ++b) acc[b] = init[b];
        EDGEQ_UNROLL_ALL
        for (int64_t j = 0; j < kSize; ++j)
          EDGEQ_UNROLL_ALL
          for (int64_t g = 0; g < kGroups; ++g)
            EDGEQ_UNROLL_ALL
            for (int64_t b = 0; b < kBlock; ++b) acc[b] = MulAccQuadMem(acc[b], cols[j][g][b], w[g][j][b]);
        if constexpr (kBlock == 4) {
          StoreRequantized64(acc, mult, rq, out + ow * channels);
        } else {
          for (int64_t b = 0; b < kBlock; ++b) {
            V32 sums[1];
            sums[0].raw = acc[b];
            StoreRequantized(sums, mult + b * kPanel, rq, out + ow * channels + b * kPanel, count);
          }
        }
      };
      int64_t ow = 0;
      for (; ow < ow_in; ++ow) output_pixel(ow, true);
      for (; ow < ow_out; ++ow) output_pixel(ow, false);
      for (; ow < p.out_w; ++ow) output_pixel(ow, true);
    }
  }
}

template <int64_t kSize, int64_t kStride>
void DepthwiseQuads(const PackedConv2dQ8& packed, const Conv2dParams& p, const Q8Requant& rq, int32_t zero_point,
                    const DepthwiseSource& src, int64_t n, int64_t oh_begin, int64_t oh_end, uint8_t* output) {
  const int64_t channels = packed.filter.out_channels;
  int64_t c0 = 0;
  if constexpr (kSize == 3) {  // [0, c64): blocks of 64 channels, [c64, c32): at most one of 32
    const int64_t c64 = channels / (4 * kPanel) * (4 * kPanel), c32 = channels / (2 * kPanel) * (2 * kPanel);
    DepthwiseQuadsBand<kSize, kStride, 4>(packed, p, rq, zero_point, src, n, oh_begin, oh_end, 0, c64, output);
    DepthwiseQuadsBand<kSize, kStride, 2>(packed, p, rq, zero_point, src, n, oh_begin, oh_end, c64, c32, output);
    c0 = c32;
  }
  DepthwiseQuadsBand<kSize, kStride, 1>(packed, p, rq, zero_point, src, n, oh_begin, oh_end, c0, channels, output);
}
#endif  // HWY_AVX3_DL

void Q8Depthwise(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q, const Q8ConvPlan& plan,
                 const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void* scratch) {
  const Q8Requant rq(q);
  uint8_t* image = static_cast<uint8_t*>(scratch);
  const int64_t size = packed.filter.kernel_h;
  HWY_ASSERT(size == 3 || size == 5);  // q8_depthwise_conv
#if HWY_TARGET == HWY_AVX3_DL
  if (packed.quad_weights) {
    const int64_t channels = packed.filter.out_channels;
    const bool in_place = channels % static_cast<int64_t>(kPanel) == 0;  // no panel reads past a pixel
    DepthwiseSource src{};
    if (in_place) {
      // The zero point's row: the scratch's first image_w pixels (no read goes further, see DepthwiseSource).
      std::memset(image, q.input_zero_point, static_cast<size_t>(plan.image_w * channels));
      src = {nullptr, image, -p.pad_top, p.in_h, p.in_w * channels, p.pad_left, p.pad_left + p.in_w, p.pad_left};
    } else {
      src = {image, nullptr, 0, INT64_MAX, plan.image_w * plan.image_c, 0, plan.image_w, 0};
    }
    ForEachConvBand(p, plan, row_begin, row_end, 1, [&](int64_t n, int64_t b0, int64_t b1, int64_t ih0, int64_t rows) {
      DepthwiseSource band = src;
      if (in_place) {
        band.input = input + n * p.in_h * band.pitch;
      } else {
        CopyBandU8(p, plan, input, n, ih0, rows, q.input_zero_point, image);
        band.first_row = -b0 * p.stride_h;
      }
      const bool s1 = p.stride_w == 1;
      if (size == 3 && s1) DepthwiseQuads<3, 1>(packed, p, rq, q.input_zero_point, band, n, b0, b1, output);
      if (size == 3 && !s1) DepthwiseQuads<3, 2>(packed, p, rq, q.input_zero_point, band, n, b0, b1, output);
      if (size == 5 && s1) DepthwiseQuads<5, 1>(packed, p, rq, q.input_zero_point, band, n, b0, b1, output);
      if (size == 5 && !s1) DepthwiseQuads<5, 2>(packed, p, rq, q.input_zero_point, band, n, b0, b1, output);
    });
    return;
  }
#endif
  HWY_ASSERT(packed.depthwise_weights != nullptr);  // quads are packed for AVX3_DL only (plan_conv2d_q8)
  ForEachConvBand(p, plan, row_begin, row_end, 1, [&](int64_t n, int64_t b0, int64_t b1, int64_t ih0, int64_t rows) {
    CopyBandU8(p, plan, input, n, ih0, rows, q.input_zero_point, image);
    if (size == 3) {
      DepthwiseBand<3>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
    } else {
      DepthwiseBand<5>(packed, p, plan, rq, q.input_zero_point, image, n, b0, b1, output);
    }
  });
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
HWY_EXPORT(Q8Depthwise);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchQ8Depthwise(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                         const Q8ConvPlan& plan, const uint8_t* in, uint8_t* out, int64_t b, int64_t e, void* scratch) {
  HWY_DYNAMIC_DISPATCH(Q8Depthwise)(packed, p, q, plan, in, out, b, e, scratch);
}
}  // namespace edgeq_kernels_hwy
#endif  // HWY_ONCE
