// Which Highway target the dispatcher picks on this CPU, and that the targets the tests iterate exist.
#include <fstream>
#include <string>

#include "edgeq/kernels.h"
#include "kernels/kernel_test_util.h"

namespace edgeq::kernels {
namespace {

bool cpu_has_flag(const std::string& flag) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) return (line + " ").find(" " + flag + " ") != std::string::npos;
  }
  return false;
}

TEST(KernelTargets, DispatcherPicksTheBestTargetForThisCpu) {
  const std::string chosen = hwy::target_name();
  std::string compiled;
  for (const auto& t : hwy::compiled_target_names()) compiled += t + " ";
  std::printf("highway dispatch target: %s (compiled: %s)\n", chosen.c_str(), compiled.c_str());
  // A CPU with AVX2+FMA (and the AES/CLMUL flags Highway's AVX2 target requires) must get AVX2 or better,
  // never the SSE4/EMU128 fallback (KERNELS.md: the missing -maes trap). /proc/cpuinfo spells the
  // AVX-512 extensions with an underscore (avx512_vnni), the base ones without (avx512f).
  if (cpu_has_flag("avx512_vnni") && cpu_has_flag("avx512_vbmi2")) {
    EXPECT_EQ(chosen, "AVX3_DL");
  } else if (cpu_has_flag("avx512f") && cpu_has_flag("avx512bw") && cpu_has_flag("avx512dq") &&
             cpu_has_flag("avx512vl")) {
    EXPECT_EQ(chosen, "AVX3");
  } else if (cpu_has_flag("avx2") && cpu_has_flag("fma") && cpu_has_flag("aes") && cpu_has_flag("pclmulqdq")) {
    EXPECT_EQ(chosen, "AVX2");
  } else {
    GTEST_SKIP() << "CPU without AVX2+FMA; dispatcher picked " << chosen;
  }
}

TEST(KernelTargets, TestsCoverThePortableTarget) {
  // The portable baseline stands in for wasm/NEON in the per-target loops: EMU128 (128-bit vectors in
  // plain C++), or SCALAR (1 lane) where Highway marks EMU128 broken (GCC < 12.3, e.g. Debian 12's 12.2).
  bool saw_portable = false;
  int count = 0;
  test::for_each_target([&](const std::string& name) {
    ++count;
    saw_portable = saw_portable || name == "EMU128" || name == "SCALAR";
  });
  EXPECT_GE(count, 2);
  EXPECT_TRUE(saw_portable);
}

}  // namespace
}  // namespace edgeq::kernels
