// Register-tiled f32 micro-kernel shared by the hwy conv and gemm kernels (Highway per-target header:
// included once per target through foreach_target.h, hence the toggle guard instead of #pragma once).
//
// A tile is MR output rows ("pixels" for conv, rows of A for gemm) x kPanelChannels (16) output
// channels, held in MR * kVecs accumulators (AVX2: 6 x 2 = 12 of the 16 ymm registers). Per step of
// the reduction it loads one row of the packed panel (16 floats) and broadcasts one A value per pixel,
// so the loop is bound by FMA throughput, not by loads.
#if defined(EDGEQ_KERNELS_HWY_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDGEQ_KERNELS_HWY_TILE_INL_H_
#undef EDGEQ_KERNELS_HWY_TILE_INL_H_
#else
#define EDGEQ_KERNELS_HWY_TILE_INL_H_
#endif

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "edgeq/kernels.h"
#include "hwy/contrib/math/math-inl.h"  // Exp, for the Silu epilogue
#include "hwy/highway.h"

// Full unrolling of the short fixed loops of the micro-kernels (rows, panels, taps).
#ifndef EDGEQ_UNROLL_ALL
#if defined(__clang__)
#define EDGEQ_UNROLL_ALL _Pragma("unroll")
#elif defined(__GNUC__)
#define EDGEQ_UNROLL_ALL _Pragma("GCC unroll 32")
#else
#define EDGEQ_UNROLL_ALL
#endif
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;
inline constexpr size_t kPanel = static_cast<size_t>(edgeq::kernels::kPanelChannels);
inline constexpr size_t kLanes = hn::MaxLanes(DF());
static_assert(kPanel % kLanes == 0, "a panel must be a whole number of vectors");
inline constexpr size_t kVecs = kPanel / kLanes;
// Pixels per tile: 12 accumulators on 16-register targets; AVX-512 has 32 registers.
inline constexpr size_t kTileRows = kVecs >= 4 ? 3 : (kVecs == 2 ? 6 : 8);

// Epilogue parameters, broadcast once per kernel call.
struct EpilogueVecs {
  edgeq::kernels::ActivationKind kind;
  VF lo, hi, alpha;
  explicit EpilogueVecs(const edgeq::kernels::Activation& a)
      : kind(a.kind),
        lo(hn::Set(DF(), a.kind == edgeq::kernels::ActivationKind::kClip ? a.clip_min : 0.0f)),
        hi(hn::Set(DF(), a.clip_max)),
        alpha(hn::Set(DF(), a.alpha)) {}
};

// 1 / (1 + exp(-v)) without a division or a library exp (EfficientNet runs it on every expanded
// activation: Highway's Exp and Div were ~20 cycles per vector, 1.5 of its ~7.7 ms). As XNNPACK's
// f32 sigmoid "rr1-p5-nr1fma": z = -|v| (clamped at ln(2^-126), where exp(z) is the smallest normal
// float), e = exp(z) in (0, 1] as 2^n (n = round(z / ln 2), written into the exponent bits through the
// magic-bias add) times a degree-5 polynomial of the reduced argument; r = 1 / (1 + e) with the
// reciprocal estimate and one Newton step on x86 (rcp14 / rcpps: 14 / 12 bits -> ~24), a division
// elsewhere (NEON's estimate has 8 bits); then sigmoid(v) = (v < 0 ? e : 1) * r. 21 operations, not
// 24: the sign set by an OR, the clamp instead of a compare and select, the numerator selected instead
// of 1 - f (EfficientNet-B0 spent ~1 ms of ~6.6 in this function). Within 1e-6 absolute / 1e-5
// relative of the double-precision sigmoid (tests/kernels/elementwise_test.cpp); below the clamp it
// gives ~1.2e-38 where the exact value is smaller.
// Not inlined: its dozen constants, hoisted by the compiler out of a kernel's reduction loop into
// registers, made the 1x1 convs without activation ~20 % slower (spilled accumulators).
static HWY_NOINLINE VF SigmoidOf(VF v) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const VF one = hn::Set(d, 1.0f);
  const VF neg = hn::Or(v, hn::SignBit(d));
  const VF lowest = hn::Set(d, -0x1.5D589Ep+6f);
#if HWY_ARCH_X86 && HWY_TARGET != HWY_SCALAR && HWY_TARGET != HWY_EMU128
  const VF z = hn::Max(lowest, neg);  // (max)ps returns its second operand when either is NaN: a NaN v carries on
#else
  const VF z = hn::IfThenElse(hn::Lt(neg, lowest), lowest, neg);  // NaN compares false: it carries on
#endif
  const VF magic_bias = hn::Set(d, 0x1.8000FEp23f);  // 1.5 * 2^23 + 127: n + 127 lands in the low mantissa bits
  VF n = hn::MulAdd(z, hn::Set(d, 0x1.715476p+0f), magic_bias);
  const VF pow2n = hn::BitCast(d, hn::ShiftLeft<23>(hn::BitCast(di, n)));
  n = hn::Sub(n, magic_bias);
  VF t = hn::MulAdd(n, hn::Set(d, -0x1.62E430p-1f), z);
  VF p = hn::MulAdd(hn::Set(d, 0x1.0F9F9Cp-7f), t, hn::Set(d, 0x1.573A1Ap-5f));
  p = hn::MulAdd(p, t, hn::Set(d, 0x1.555A80p-3f));
  p = hn::MulAdd(p, t, hn::Set(d, 0x1.FFFDC6p-2f));
  p = hn::MulAdd(p, t, hn::Set(d, 0x1.FFFFF6p-1f));
  t = hn::Mul(t, pow2n);
  const VF e = hn::MulAdd(t, p, pow2n);
  const VF den = hn::Add(e, one);
  const VF numerator = hn::IfThenElse(hn::Lt(v, hn::Zero(d)), e, one);
#if HWY_ARCH_X86
  VF r = hn::ApproximateReciprocal(den);
  r = hn::MulAdd(hn::NegMulAdd(r, den, one), r, r);
  return hn::Mul(numerator, r);
#else
  return hn::Div(numerator, den);
#endif
}

template <edgeq::kernels::ActivationKind kKind>
HWY_INLINE VF ActivateAs(const EpilogueVecs& e, VF v) {
  using edgeq::kernels::ActivationKind;
  if constexpr (kKind == ActivationKind::kRelu) return hn::Max(v, e.lo);
  if constexpr (kKind == ActivationKind::kClip) return hn::Min(hn::Max(v, e.lo), e.hi);
  if constexpr (kKind == ActivationKind::kLeakyRelu)
    return hn::IfThenElse(hn::Lt(v, hn::Zero(DF())), hn::Mul(v, e.alpha), v);
  if constexpr (kKind == ActivationKind::kSilu) {
    // The Sigmoid kernel's function (elementwise.cpp), then the product: the unfused bits.
    return hn::Mul(v, SigmoidOf(v));
  }
  return v;
}

HWY_INLINE VF Activate(const EpilogueVecs& e, VF v) {
  using edgeq::kernels::ActivationKind;
  switch (e.kind) {
    case ActivationKind::kNone: return v;
    case ActivationKind::kRelu: return ActivateAs<ActivationKind::kRelu>(e, v);
    case ActivationKind::kClip: return ActivateAs<ActivationKind::kClip>(e, v);
    case ActivationKind::kLeakyRelu: return ActivateAs<ActivationKind::kLeakyRelu>(e, v);
    case ActivationKind::kSilu: return ActivateAs<ActivationKind::kSilu>(e, v);
  }
  return v;
}

// Stores the first `count` lanes of v (count < lanes) without touching memory past them.
template <class D>
HWY_INLINE void StorePartial(D d, hn::Vec<D> v, hn::TFromD<D>* dst, size_t count) {
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(D())];
  hn::Store(v, d, lanes);
  std::memcpy(dst, lanes, count * sizeof(hn::TFromD<D>));
}
HWY_INLINE void StorePartial(VF v, float* dst, size_t count) { StorePartial(DF(), v, dst, count); }

// Loads `count` elements (count < lanes), zero-filling the rest, without reading past them.
template <class D>
HWY_INLINE hn::Vec<D> LoadPartial(D d, const hn::TFromD<D>* src, size_t count) {
  HWY_ALIGN hn::TFromD<D> lanes[hn::MaxLanes(D())] = {};
  std::memcpy(lanes, src, count * sizeof(hn::TFromD<D>));
  return hn::Load(d, lanes);
}
HWY_INLINE VF LoadPartial(const float* src, size_t count) { return LoadPartial(DF(), src, count); }

template <size_t MR>
struct Tile {
  VF acc[MR][kVecs];
  // Declared, not implicit: GCC compiles an implicit constructor without the target pragma of
  // HWY_BEFORE_NAMESPACE, and on aarch64 (NEON's "+crypto" over a -march=armv8-a baseline) the vectors'
  // always-inline constructors then do not inline into it.
  HWY_INLINE Tile() {}

  HWY_INLINE void Init(const float* bias) {
    for (size_t v = 0; v < kVecs; ++v) {
      const VF b = hn::Load(DF(), bias + v * kLanes);
      for (size_t r = 0; r < MR; ++r) acc[r][v] = b;
    }
  }

  // acc[r] += sum_i a[r][i] * w[i][0..16), i < k; w advances by k rows of the panel.
  HWY_INLINE void Accumulate(const float* const* a, size_t k, const float*& w) {
    for (size_t i = 0; i < k; ++i) {
      VF wv[kVecs];
      for (size_t v = 0; v < kVecs; ++v) wv[v] = hn::Load(DF(), w + v * kLanes);
      for (size_t r = 0; r < MR; ++r) {
        const VF av = hn::Set(DF(), a[r][i]);
        for (size_t v = 0; v < kVecs; ++v) acc[r][v] = hn::MulAdd(av, wv[v], acc[r][v]);
      }
      w += kPanel;
    }
  }

  // Applies activation kKind and stores the first `channels` (<= 16) channels of each row, row r's
  // from out[r] + column (StoreTiles picks kKind once per tile).
  template <edgeq::kernels::ActivationKind kKind>
  HWY_INLINE void StoreAs(const EpilogueVecs& e, float* const* out, size_t channels, size_t column = 0) {
    if (channels == kPanel) {
      EDGEQ_UNROLL_ALL
      for (size_t r = 0; r < MR; ++r)
        EDGEQ_UNROLL_ALL
        for (size_t v = 0; v < kVecs; ++v) hn::StoreU(ActivateAs<kKind>(e, acc[r][v]), DF(), out[r] + column + v * kLanes);
      return;
    }
    for (size_t r = 0; r < MR; ++r) {
      for (size_t v = 0; v < kVecs; ++v) {
        const VF y = ActivateAs<kKind>(e, acc[r][v]);
        const size_t first = v * kLanes;
        if (first + kLanes <= channels) {
          hn::StoreU(y, DF(), out[r] + column + first);
        } else if (first < channels) {
          StorePartial(y, out[r] + column + first, channels - first);
        }
      }
    }
  }
};

template <edgeq::kernels::ActivationKind kKind, size_t MR, size_t NP>
HWY_INLINE void StoreTilesAs(Tile<MR> (&tiles)[NP], const EpilogueVecs& e, float* const* out, size_t last_channels) {
  EDGEQ_UNROLL_ALL
  for (size_t p = 0; p < NP; ++p) tiles[p].template StoreAs<kKind>(e, out, p + 1 == NP ? last_channels : kPanel, p * kPanel);
}

// Stores NP tiles side by side (panel p at out[r] + p * 16; the last one's first `last_channels`), the
// activation resolved once for all of them. A switch per panel (each panel's store switching on its
// own, in the panel loop) made GCC park the accumulators on the stack: 24 spills and reloads per 8 x 3 tile, with the jump-table
// dispatch a third of a 16-channel-input 1x1 conv's time (112x112 16 -> 96). No lambda here: GCC does
// not inline one into a target-attributed caller, and the call kept the accumulators in memory. A single
// tile is NP = 1.
template <size_t MR, size_t NP>
HWY_INLINE void StoreTiles(Tile<MR> (&tiles)[NP], const EpilogueVecs& e, float* const* out, size_t last_channels) {
  using Kind = edgeq::kernels::ActivationKind;
  switch (e.kind) {
    case Kind::kNone: return StoreTilesAs<Kind::kNone>(tiles, e, out, last_channels);
    case Kind::kRelu: return StoreTilesAs<Kind::kRelu>(tiles, e, out, last_channels);
    case Kind::kClip: return StoreTilesAs<Kind::kClip>(tiles, e, out, last_channels);
    case Kind::kLeakyRelu: return StoreTilesAs<Kind::kLeakyRelu>(tiles, e, out, last_channels);
    case Kind::kSilu: return StoreTilesAs<Kind::kSilu>(tiles, e, out, last_channels);
  }
}

// How a kernel's store picks its activation: RuntimeActivation switches per vector (Activate);
// StaticActivation<K> is resolved at compile time (the depthwise blocks' interior).
struct RuntimeActivation {};
template <edgeq::kernels::ActivationKind K>
using StaticActivation = std::integral_constant<edgeq::kernels::ActivationKind, K>;

// Calls f(std::integral_constant<size_t, MR>) with MR = rows (1..kTileRows), so a tile loop can
// instantiate the right Tile<MR> for a partial tile.
template <size_t MR = kTileRows, class F>
HWY_INLINE void WithTileRows(size_t rows, const F& f) {
  if constexpr (MR == 1) {
    f(std::integral_constant<size_t, 1>());
  } else {
    if (rows == MR) {
      f(std::integral_constant<size_t, MR>());
    } else {
      WithTileRows<MR - 1>(rows, f);
    }
  }
}

// A gemm whose A rows are evenly spaced (lda floats apart: a pointwise conv's pixels, Winograd's
// transformed tiles): tiles of kRowsTileRows rows x kRowsTilePanels panels read A from one base
// pointer, so one broadcast feeds kRowsTilePanels FMAs and one weight load kRowsTileRows. On AVX-512
// (one vector per panel, 32 registers) 8 x 3: 24 accumulators, 3 weight vectors, the broadcast; the
// one-panel tile's 8 FMAs per 9 loads were load-bound. 16-register targets keep Tile's shape.
inline constexpr size_t kRowsTileRows = kVecs == 1 ? 8 : kTileRows;
inline constexpr size_t kRowsTilePanels = kVecs == 1 ? 3 : 1;

// Panels in the next group of a panel loop when `remaining` are left: kRowsTilePanels, but 2 + 2 for the
// last 4 (3 + 1 would run a quarter of the work on the load-bound one-panel tile: 64-channel convs).
HWY_INLINE int64_t NextPanelGroup(int64_t remaining) {
  constexpr int64_t kMax = static_cast<int64_t>(kRowsTilePanels);
  if (kMax == 3 && remaining == 4) return 2;
  return std::min(kMax, remaining);
}

// Rows [0, MR) of C (ldc apart) x NP panels (16 channels each; the last one stores last_channels)
// = A (lda apart, k columns) . the packed panels at w (panel_floats apart, [k][16] each) + bias (16 per
// panel; nullptr: 0), then the activation.
template <size_t MR, size_t NP>
HWY_INLINE void RowsTile(const float* a, int64_t lda, int64_t k, const float* w, int64_t panel_floats, const float* bias,
                         const EpilogueVecs& e, float* c, int64_t ldc, size_t last_channels) {
  const DF d;
  Tile<MR> tiles[NP];
  EDGEQ_UNROLL_ALL
  for (size_t p = 0; p < NP; ++p) {
    if (bias) {
      tiles[p].Init(bias + p * kPanel);
    } else {
      for (size_t r = 0; r < MR; ++r)
        for (size_t v = 0; v < kVecs; ++v) tiles[p].acc[r][v] = hn::Zero(d);
    }
  }
  for (int64_t i = 0; i < k; ++i) {
    VF wv[NP][kVecs];
    EDGEQ_UNROLL_ALL
    for (size_t p = 0; p < NP; ++p)
      for (size_t v = 0; v < kVecs; ++v)
        wv[p][v] = hn::Load(d, w + static_cast<int64_t>(p) * panel_floats + i * static_cast<int64_t>(kPanel) + static_cast<int64_t>(v * kLanes));
    EDGEQ_UNROLL_ALL
    for (size_t r = 0; r < MR; ++r) {
      const VF av = hn::Set(d, a[static_cast<int64_t>(r) * lda + i]);
      EDGEQ_UNROLL_ALL
      for (size_t p = 0; p < NP; ++p)
        for (size_t v = 0; v < kVecs; ++v) tiles[p].acc[r][v] = hn::MulAdd(av, wv[p][v], tiles[p].acc[r][v]);
    }
  }
  float* rows[MR];
  for (size_t r = 0; r < MR; ++r) rows[r] = c + static_cast<int64_t>(r) * ldc;
  StoreTiles(tiles, e, rows, last_channels);
}

// Rows [0, m) of C x the first `channels` channels (panels of 16) with RowsTile: panel groups
// (NextPanelGroup), each over every row.
HWY_INLINE void RowsGemm(const float* a, int64_t lda, int64_t m, int64_t k, const float* w, int64_t panel_floats,
                         const float* bias, const EpilogueVecs& e, float* c, int64_t ldc, int64_t channels) {
  const int64_t panels = (channels + static_cast<int64_t>(kPanel) - 1) / static_cast<int64_t>(kPanel);
  constexpr int64_t kRows = static_cast<int64_t>(kRowsTileRows);
  auto group = [&](auto np, int64_t panel) {
    constexpr size_t kNp = decltype(np)::value;
    const int64_t c0 = panel * static_cast<int64_t>(kPanel);
    const size_t last_channels = static_cast<size_t>(std::min<int64_t>(kPanel, channels - c0 - static_cast<int64_t>((kNp - 1) * kPanel)));
    const float* wp = w + panel * panel_floats;
    const float* bp = bias ? bias + c0 : nullptr;
    // Tiles as equal as possible (9 rows: 4 + 5, not 8 + 1; 49: 7 x 7): a 1- or 2-row tile has too few
    // independent sums to hide the FMA latency (the 3x3 maps of MobileNetV2-96's last 1x1 convs).
    const int64_t tiles = (m + kRows - 1) / kRows;
    for (int64_t t = 0, r = 0; t < tiles; ++t) {
      const int64_t r_next = m * (t + 1) / tiles;
      WithTileRows<kRowsTileRows>(static_cast<size_t>(r_next - r), [&](auto mr) {
        RowsTile<decltype(mr)::value, kNp>(a + r * lda, lda, k, wp, panel_floats, bp, e, c + r * ldc + c0, ldc, last_channels);
      });
      r = r_next;
    }
  };
  for (int64_t panel = 0; panel < panels;) {
    const int64_t np = NextPanelGroup(panels - panel);
    if constexpr (kRowsTilePanels == 3) {
      if (np == 3) group(std::integral_constant<size_t, 3>(), panel);
      if (np == 2) group(std::integral_constant<size_t, 2>(), panel);
    }
    if (np == 1) group(std::integral_constant<size_t, 1>(), panel);
    panel += np;
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#endif  // EDGEQ_KERNELS_HWY_TILE_INL_H_
