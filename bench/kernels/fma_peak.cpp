// Tight loop of 12 independent FMA accumulators (enough to cover FMA latency x throughput on AVX2 and
// AVX-512 cores), compiled per Highway target and dispatched like the kernels.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "fma_peak.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace edgeq_bench_hwy {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

int64_t FmaPeak(int64_t iterations, float* sink) {
  const hn::ScalableTag<float> d;
  constexpr int kAcc = 12;
  hn::Vec<decltype(d)> acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = hn::Set(d, static_cast<float>(i) * 1e-3f);
  const auto a = hn::Set(d, 0.999999f), b = hn::Set(d, 1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
    for (int i = 0; i < kAcc; ++i) acc[i] = hn::MulAdd(acc[i], a, b);
  }
  auto total = acc[0];
  for (int i = 1; i < kAcc; ++i) total = hn::Add(total, acc[i]);
  *sink = hn::GetLane(total);
  return iterations * kAcc * static_cast<int64_t>(hn::Lanes(d));
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_bench_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "fma_peak.h"
namespace edgeq_bench_hwy {
HWY_EXPORT(FmaPeak);
int64_t DispatchFmaPeak(int64_t iterations, float* sink) { return HWY_DYNAMIC_DISPATCH(FmaPeak)(iterations, sink); }
}  // namespace edgeq_bench_hwy

namespace edgeq::kernels::bench {
int64_t run_fma_peak(int64_t iterations, float* sink) { return edgeq_bench_hwy::DispatchFmaPeak(iterations, sink); }
}  // namespace edgeq::kernels::bench
#endif
