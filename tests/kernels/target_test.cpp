// Which Highway target the dispatcher picks on this CPU, and that the targets the tests iterate exist.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

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
#if defined(__aarch64__)
  // Every aarch64 Linux CPU has Advanced SIMD: NEON, never the scalar fallback; the int8 product is SDOT
  // exactly when the kernel reports the dot product. Under qemu (`make test-arm64`) ctest says which CPU
  // it emulates, so a detection that never finds the dot product (or always does) fails here.
  EXPECT_EQ(chosen, "NEON");
  const bool dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  EXPECT_EQ(hwy::q8_product(), dotprod ? hwy::Q8Product::kDotProd : hwy::Q8Product::kPairs);
  std::printf("int8 product: %s\n", hwy::q8_product_name(hwy::q8_product()));
  if (const char* cpu = std::getenv("EDGEQ_TEST_QEMU_CPU")) {
    EXPECT_EQ(dotprod, std::string(cpu) != "cortex-a53") << "qemu -cpu " << cpu;
  }
  return;
#endif
#if defined(__wasm__)
  // wasm32 compiles WASM (SIMD128) alone (cmake/wasm.cmake); its int8 product is the int16 pairs on
  // i32x4.dot_i16x8_s, never the portable loops.
  EXPECT_EQ(chosen, "WASM");
  EXPECT_EQ(compiled, "WASM ");
  EXPECT_EQ(hwy::q8_product(), hwy::Q8Product::kPairs);
  return;
#endif
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
#if defined(__aarch64__)
  // aarch64 compiles NEON alone (the baseline: Highway adds no scalar fallback below it, and SVE is
  // disabled, CMakeLists.txt); the portable loops run in the x86 build. Here the loops must cover NEON
  // with every int8 product the CPU has: the int16 pairs always, SDOT where the dot product is.
  std::vector<std::string> names;
  test::for_each_target([&](const std::string& name) { names.push_back(name); });
  const bool dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
  const std::vector<std::string> want =
      dotprod ? std::vector<std::string>{"NEON+int16 pairs", "NEON"} : std::vector<std::string>{"NEON"};
  EXPECT_EQ(names, want);
  return;
#endif
#if defined(__wasm__)
  // wasm32: the one target the module runs; the portable loops are covered by the x86 build.
  std::vector<std::string> names;
  test::for_each_target([&](const std::string& name) { names.push_back(name); });
  EXPECT_EQ(names, std::vector<std::string>{"WASM"});
  return;
#endif
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
