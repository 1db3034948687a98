// hwy gemm with packed B (one TU, compiled once per Highway target).
// Rows are tiled kTileRows at a time against one 16-column panel (the shared micro-kernel). A single
// row (batch-1 fully-connected) would leave only kVecs accumulators per panel, a chain bound by FMA
// latency, so it runs kGemvPanels panels at once instead.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/gemm.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_GEMM_ONCE_
#define EDGEQ_KERNELS_HWY_GEMM_ONCE_
#include <algorithm>

#include "edgeq/kernels.h"
#include "kernels/validate.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Activation;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedGemmF32;

inline constexpr size_t kGemvPanels = 4;

template <size_t MR>
HWY_INLINE void GemmTile(const float* const* a, size_t k, const float* w, const float* bias, const EpilogueVecs& e,
                         float* const* c, size_t channels) {
  Tile<MR> tile[1];
  tile[0].Init(bias);
  tile[0].Accumulate(a, k, w);
  StoreTiles(tile, e, c, channels);
}

// One row of A against P consecutive panels; `channels` = valid columns of the last panel.
template <size_t P>
HWY_INLINE void GemvPanels(const float* a, size_t k, const float* w, size_t panel_stride, const float* bias,
                           const EpilogueVecs& e, float* c, size_t channels_last) {
  const DF d;
  VF acc[P][kVecs];
  for (size_t p = 0; p < P; ++p)
    for (size_t v = 0; v < kVecs; ++v) acc[p][v] = hn::Load(d, bias + p * kPanel + v * kLanes);
  for (size_t i = 0; i < k; ++i) {
    const VF av = hn::Set(d, a[i]);
    for (size_t p = 0; p < P; ++p)
      for (size_t v = 0; v < kVecs; ++v)
        acc[p][v] = hn::MulAdd(av, hn::Load(d, w + p * panel_stride + i * kPanel + v * kLanes), acc[p][v]);
  }
  for (size_t p = 0; p < P; ++p) {
    const size_t channels = p + 1 == P ? channels_last : kPanel;
    for (size_t v = 0; v < kVecs; ++v) {
      const VF y = Activate(e, acc[p][v]);
      const size_t first = v * kLanes;
      if (first + kLanes <= channels) {
        hn::StoreU(y, d, c + p * kPanel + first);
      } else if (first < channels) {
        StorePartial(y, c + p * kPanel + first, channels - first);
      }
    }
  }
}

void Gemm(const PackedGemmF32& packed, const float* a, int64_t lda, float* c, int64_t ldc, const GemmRange& range,
          const Activation& activation) {
  const EpilogueVecs e(activation);
  const size_t k = static_cast<size_t>(packed.k);
  const size_t panel_stride = k * kPanel;
  const int64_t panel_begin = range.n_begin / static_cast<int64_t>(kPanel);
  const int64_t panel_end = (range.n_end + static_cast<int64_t>(kPanel) - 1) / static_cast<int64_t>(kPanel);
  auto valid_columns = [&](int64_t panel) {
    return static_cast<size_t>(std::min<int64_t>(kPanel, range.n_end - panel * static_cast<int64_t>(kPanel)));
  };
  const int64_t rows = range.m_end - range.m_begin;
  if (rows == 1) {  // batch-1 fully-connected
    const float* a_row = a + range.m_begin * lda;
    float* c_row = c + range.m_begin * ldc;
    int64_t panel = panel_begin;
    for (; panel + static_cast<int64_t>(kGemvPanels) <= panel_end; panel += kGemvPanels)
      GemvPanels<kGemvPanels>(a_row, k, packed.weights + panel * panel_stride, panel_stride,
                              packed.bias + panel * kPanel, e, c_row + panel * kPanel,
                              valid_columns(panel + kGemvPanels - 1));
    for (; panel < panel_end; ++panel)
      GemvPanels<1>(a_row, k, packed.weights + panel * panel_stride, panel_stride, packed.bias + panel * kPanel, e,
                    c_row + panel * kPanel, valid_columns(panel));
    return;
  }
  const float* a_rows[kTileRows];
  float* c_rows[kTileRows];
  for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
    const float* w = packed.weights + panel * panel_stride;
    const float* bias = packed.bias + panel * kPanel;
    for (int64_t m = range.m_begin; m < range.m_end; m += kTileRows) {
      const size_t tile_rows = static_cast<size_t>(std::min<int64_t>(kTileRows, range.m_end - m));
      for (size_t r = 0; r < tile_rows; ++r) {
        a_rows[r] = a + (m + static_cast<int64_t>(r)) * lda;
        c_rows[r] = c + (m + static_cast<int64_t>(r)) * ldc + panel * kPanel;
      }
      const size_t columns = valid_columns(panel);
      WithTileRows(tile_rows, [&](auto mr) { GemmTile<decltype(mr)::value>(a_rows, k, w, bias, e, c_rows, columns); });
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Activation;
using edgeq::kernels::GemmRange;
using edgeq::kernels::PackedGemmF32;
HWY_EXPORT(Gemm);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
void DispatchGemm(const PackedGemmF32& packed, const float* a, int64_t lda, float* c, int64_t ldc,
                  const GemmRange& range, const Activation& activation) {
  HWY_DYNAMIC_DISPATCH(Gemm)(packed, a, lda, c, ldc, range, activation);
}
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

void gemm_f32(const PackedGemmF32& packed, const float* a, int64_t lda, float* c, int64_t ldc, const GemmRange& range,
              const Activation& activation) {
  detail::check_gemm(packed, Family::kHwy, lda, ldc, range);
  if (range.n_begin % kPanelChannels != 0 && range.n_begin != range.n_end)
    throw Error(ErrorCode::kInvalidArgument, "kernels: gemm column range must start at a multiple of 16, got " +
                                                 std::to_string(range.n_begin));
  if (range.m_begin == range.m_end || range.n_begin == range.n_end) return;
  edgeq_kernels_hwy::DispatchGemm(packed, a, lda, c, ldc, range, activation);
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
