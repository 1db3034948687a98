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

template <edgeq::kernels::ActivationKind kKind>
HWY_INLINE VF ActivateAs(const EpilogueVecs& e, VF v) {
  using edgeq::kernels::ActivationKind;
  if constexpr (kKind == ActivationKind::kRelu) return hn::Max(v, e.lo);
  if constexpr (kKind == ActivationKind::kClip) return hn::Min(hn::Max(v, e.lo), e.hi);
  if constexpr (kKind == ActivationKind::kLeakyRelu)
    return hn::IfThenElse(hn::Lt(v, hn::Zero(DF())), hn::Mul(v, e.alpha), v);
  if constexpr (kKind == ActivationKind::kSilu) {
    // The Sigmoid kernel's expression (elementwise.cpp), then the product: the unfused bits.
    const VF one = hn::Set(DF(), 1.0f);
    return hn::Mul(v, hn::Div(one, hn::Add(one, hn::Exp(DF(), hn::Neg(v)))));
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

  // Applies the activation and stores the first `channels` (<= 16) channels of each row. The
  // activation is resolved once per tile, not per vector.
  HWY_INLINE void Store(const EpilogueVecs& e, float* const* out, size_t channels) {
    using edgeq::kernels::ActivationKind;
    switch (e.kind) {
      case ActivationKind::kNone: return StoreAs<ActivationKind::kNone>(e, out, channels);
      case ActivationKind::kRelu: return StoreAs<ActivationKind::kRelu>(e, out, channels);
      case ActivationKind::kClip: return StoreAs<ActivationKind::kClip>(e, out, channels);
      case ActivationKind::kLeakyRelu: return StoreAs<ActivationKind::kLeakyRelu>(e, out, channels);
      case ActivationKind::kSilu: return StoreAs<ActivationKind::kSilu>(e, out, channels);
    }
  }

  template <edgeq::kernels::ActivationKind kKind>
  HWY_INLINE void StoreAs(const EpilogueVecs& e, float* const* out, size_t channels) {
    if (channels == kPanel) {
      for (size_t r = 0; r < MR; ++r)
        for (size_t v = 0; v < kVecs; ++v) hn::StoreU(ActivateAs<kKind>(e, acc[r][v]), DF(), out[r] + v * kLanes);
      return;
    }
    for (size_t r = 0; r < MR; ++r) {
      for (size_t v = 0; v < kVecs; ++v) {
        const VF y = ActivateAs<kKind>(e, acc[r][v]);
        const size_t first = v * kLanes;
        if (first + kLanes <= channels) {
          hn::StoreU(y, DF(), out[r] + first);
        } else if (first < channels) {
          StorePartial(y, out[r] + first, channels - first);
        }
      }
    }
  }
};

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

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#endif  // EDGEQ_KERNELS_HWY_TILE_INL_H_
