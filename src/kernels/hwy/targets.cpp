// Which Highway targets this binary carries and which one the dispatcher actually picks (asked through
// HWY_DYNAMIC_DISPATCH itself, so tests that force a target can check it took effect).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/targets.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {
int64_t CompiledTarget() { return HWY_TARGET; }
}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <string>
#include <vector>

#include "edgeq/kernels.h"

namespace edgeq_kernels_hwy {
HWY_EXPORT(CompiledTarget);
int64_t DispatchedTarget() { return HWY_DYNAMIC_DISPATCH(CompiledTarget)(); }
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

std::string target_name() { return ::hwy::TargetName(edgeq_kernels_hwy::DispatchedTarget()); }

bool dispatches_vnni() { return edgeq_kernels_hwy::DispatchedTarget() == HWY_AVX3_DL; }

std::vector<std::string> compiled_target_names() {
  std::vector<std::string> names;
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) names.emplace_back(::hwy::TargetName(t & -t));
  return names;
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
