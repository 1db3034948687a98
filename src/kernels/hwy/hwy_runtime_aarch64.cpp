// Highway's run-time part for aarch64 builds: the five functions of Highway 1.0.3's targets.cc and
// abort.cc that the kernels link (SupportedTargets, DisableTargets, SetSupportedTargetsForTest,
// GetChosenTarget, Abort), written against hwy/targets.h and hwy/base.h. Why not Debian's libhwy: it is
// an x86 library here (libhwy-dev:arm64 would need a multiarch apt setup, and ships no static archive
// for the static test programs qemu runs), and Highway's sources are not packaged. Highway itself is
// otherwise header-only for what edgeq uses.
//
// One difference from Highway's detection, on purpose: Highway 1.0.3 offers its NEON target only with
// the AES extension (HWCAP_AES), because its NEON target string is "+crypto" for the AES ops. edgeq
// calls no AES op, and cores without the crypto extension (Raspberry Pi 4's Cortex-A72, the BCM2711
// has none) would otherwise fall back to EMU128; so NEON needs only Advanced SIMD (HWCAP_ASIMD).
// SVE / SVE2 are not compiled for aarch64 (HWY_DISABLED_TARGETS, CMakeLists.txt), so not detected.
#include <sys/auxv.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "hwy/base.h"
#include "hwy/targets.h"

#if !HWY_ARCH_ARM_A64
#error "hwy_runtime_aarch64.cpp is the aarch64 build's Highway runtime (x86 links Debian's libhwy)"
#endif
static_assert((HWY_TARGETS & (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)) == 0,
              "SVE targets are compiled in but this runtime does not detect them");

#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif

namespace hwy {
namespace {
std::atomic<int64_t> supported_for_test{0};  // 0: no mock
std::atomic<int64_t> supported_mask{~int64_t{0}};

int64_t DetectTargets() {
  int64_t bits = HWY_SCALAR | HWY_EMU128;
  if (getauxval(AT_HWCAP) & HWCAP_ASIMD) bits |= HWY_NEON;
  return bits;
}
}  // namespace

HWY_DLLEXPORT ChosenTarget& GetChosenTarget() {
  static ChosenTarget chosen;
  return chosen;
}

HWY_DLLEXPORT int64_t SupportedTargets() {
  int64_t targets = supported_for_test.load();
  if (targets == 0) targets = DetectTargets();
  targets &= supported_mask.load();
  return targets == 0 ? HWY_STATIC_TARGET : targets;
}

// As Highway: takes effect at the next HWY_DYNAMIC_DISPATCH, which re-runs the choice.
HWY_DLLEXPORT void DisableTargets(int64_t disabled_targets) {
  supported_mask.store(~disabled_targets);
  GetChosenTarget().DeInit();
}

HWY_DLLEXPORT void SetSupportedTargetsForTest(int64_t targets) {
  supported_for_test.store(targets);
  GetChosenTarget().DeInit();
}

HWY_DLLEXPORT HWY_NORETURN void HWY_FORMAT(3, 4) Abort(const char* file, int line, const char* format, ...) {
  char message[800];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  std::fprintf(stderr, "Abort at %s:%d: %s\n", file, line, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace hwy
