// Highway's run-time part for the builds without Debian's libhwy (aarch64 and wasm32): the five functions
// of Highway 1.0.3's targets.cc and abort.cc that the kernels and their tests link (SupportedTargets,
// DisableTargets, SetSupportedTargetsForTest, GetChosenTarget, Abort), written against hwy/targets.h and
// hwy/base.h. Why not Debian's libhwy: it is an x86 library here (libhwy-dev:arm64 would need a multiarch
// apt setup and ships no static archive for the static test programs qemu runs; nothing is packaged for
// wasm32), and Highway's sources are not packaged. Highway itself is otherwise header-only for what
// edgeq uses.
//
// aarch64: one difference from Highway's detection, on purpose: Highway 1.0.3 offers its NEON target only
// with the AES extension (HWCAP_AES), because its NEON target string is "+crypto" for the AES ops. edgeq
// calls no AES op, and cores without the crypto extension (Raspberry Pi 4's Cortex-A72, the BCM2711 has
// none) would otherwise fall back to EMU128; so NEON needs only Advanced SIMD (HWCAP_ASIMD). SVE / SVE2
// are not compiled for aarch64 (HWY_DISABLED_TARGETS, CMakeLists.txt), so not detected.
// wasm32: nothing to detect. The module is compiled for one target (HWY_WASM with -msimd128,
// cmake/wasm.cmake), so HWY_DYNAMIC_DISPATCH is a direct call; an engine without SIMD128 refuses to
// compile the module rather than run a slower path.
#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "hwy/base.h"
#include "hwy/targets.h"

#if HWY_ARCH_ARM_A64
#include <sys/auxv.h>
static_assert((HWY_TARGETS & (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128)) == 0,
              "SVE targets are compiled in but this runtime does not detect them");
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1 << 1)
#endif
#elif HWY_ARCH_WASM
static_assert(HWY_TARGETS == HWY_WASM, "the wasm build compiles HWY_WASM alone (-msimd128, cmake/wasm.cmake)");
#else
#error "hwy_runtime.cpp is Highway's runtime for aarch64 and wasm32 builds (x86 links Debian's libhwy)"
#endif

namespace hwy {
namespace {
std::atomic<int64_t> supported_for_test{0};  // 0: no mock
std::atomic<int64_t> supported_mask{~int64_t{0}};

int64_t DetectTargets() {
  int64_t bits = HWY_SCALAR | HWY_EMU128;
#if HWY_ARCH_ARM_A64
  if (getauxval(AT_HWCAP) & HWCAP_ASIMD) bits |= HWY_NEON;
#else
  bits |= HWY_WASM;  // the module only instantiates where SIMD128 is
#endif
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
