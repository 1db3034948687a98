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
#include <algorithm>
#include <atomic>
#include <string>
#include <vector>
#if HWY_ARCH_ARM_A64 && defined(__linux__)
#include <sys/auxv.h>
#endif

#include "edgeq/kernels.h"

namespace edgeq_kernels_hwy {
HWY_EXPORT(CompiledTarget);
int64_t DispatchedTarget() { return HWY_DYNAMIC_DISPATCH(CompiledTarget)(); }
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {

std::string target_name() { return ::hwy::TargetName(edgeq_kernels_hwy::DispatchedTarget()); }

bool dispatches_vnni() { return edgeq_kernels_hwy::DispatchedTarget() == HWY_AVX3_DL; }

namespace {
std::atomic<Q8Product> q8_cap{Q8Product::kVnni};

// The int8 product this CPU offers the NEON target (read once: the auxiliary vector does not change).
// i8mm (HWCAP2_I8MM, USDOT / USMMLA) is not used yet: its USDOT would save SDOT's input flip only.
Q8Product arm_q8_product() {
#if HWY_ARCH_ARM_A64 && defined(__linux__)
  static const Q8Product best = [] {
    if (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) return Q8Product::kDotProd;
    return Q8Product::kPairs;
  }();
  return best;
#else
  return Q8Product::kPairs;
#endif
}
}  // namespace

Q8Product q8_product() {
  const int64_t target = edgeq_kernels_hwy::DispatchedTarget();
  const Q8Product cap = q8_cap.load();
  if (target == HWY_AVX3_DL) return cap == Q8Product::kPairs ? Q8Product::kPairs : Q8Product::kVnni;
  // NEON: the CPU's product, at most the cap.
  if (target == HWY_NEON) return std::min(arm_q8_product(), cap);
  return Q8Product::kPairs;
}

bool q8_quads() { return q8_product() != Q8Product::kPairs; }

const char* q8_product_name(Q8Product product) {
  switch (product) {
    case Q8Product::kPairs: return "int16 pairs";
    case Q8Product::kDotProd: return "dotprod (SDOT)";
    case Q8Product::kVnni: return "AVX512-VNNI (vpdpbusd)";
  }
  return "?";
}

void set_q8_product_cap_for_test(Q8Product cap) { q8_cap.store(cap); }

std::vector<std::string> compiled_target_names() {
  std::vector<std::string> names;
  for (int64_t t = HWY_TARGETS; t != 0; t &= t - 1) names.emplace_back(::hwy::TargetName(t & -t));
  return names;
}

}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
