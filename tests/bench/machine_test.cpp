// Machine description and resident-memory figures.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "edgeq/bench.h"

namespace edgeq::bench {
namespace {

constexpr const char* kCpuinfo =
    "processor\t: 0\n"
    "vendor_id\t: AuthenticAMD\n"
    "model name\t: AMD EPYC 9B14\n"
    "flags\t\t: fpu sse4_1 sse4_2 avx2 fma avx512f avx512_vnni avx512_bf16 sha_ni\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: AMD EPYC 9B14\n"
    "flags\t\t: fpu sse4_1 sse4_2 avx2 fma avx512f avx512_vnni avx512_bf16 sha_ni\n";

TEST(BenchMachine, ParsesCpuinfo) {
  const MachineInfo m = parse_cpuinfo(kCpuinfo);
  EXPECT_EQ(m.cpu_model, "AMD EPYC 9B14");
  EXPECT_EQ(m.logical_cpus, 2);
  const std::vector<std::string> expected = {"sse4_2", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16"};
  EXPECT_EQ(m.isa_flags, expected);
  EXPECT_FALSE(m.has("avx_vnni"));
  EXPECT_FALSE(m.has("sha_ni")) << "only the flags of interest are kept";
}

TEST(BenchMachine, OldKernelVnniSpelling) {
  const MachineInfo m = parse_cpuinfo("processor : 0\nflags : avx2 avx512vnni avx_vnni\n");
  EXPECT_TRUE(m.has("avx512vnni"));
  EXPECT_TRUE(m.has("avx_vnni"));
  EXPECT_TRUE(m.cpu_model.empty());
}

// A Raspberry Pi 5's /proc/cpuinfo (64-bit Raspberry Pi OS): no "model name" on aarch64.
TEST(BenchMachine, ParsesAarch64Cpuinfo) {
  const std::string core = "BogoMIPS\t: 108.00\n"
                           "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n"
                           "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n";
  const MachineInfo pi5 = parse_cpuinfo("processor\t: 0\n" + core + "processor\t: 1\n" + core +
                                        "Revision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n");
  EXPECT_EQ(pi5.cpu_model, "Cortex-A76 (Raspberry Pi 5 Model B Rev 1.0)");
  EXPECT_EQ(pi5.logical_cpus, 2);
  const std::vector<std::string> expected = {"asimd", "asimddp"};
  EXPECT_EQ(pi5.isa_flags, expected);
  // A Pi 4's Cortex-A72 has no dot product; a part edgeq does not know is named by its numbers.
  const MachineInfo a72 = parse_cpuinfo("processor : 0\nFeatures : fp asimd crc32 cpuid\nCPU implementer : 0x41\nCPU part : 0xd08\n");
  EXPECT_EQ(a72.cpu_model, "Cortex-A72");
  EXPECT_FALSE(a72.has("asimddp"));
  EXPECT_EQ(parse_cpuinfo("processor : 0\nCPU implementer : 0x61\nCPU part : 0x022\n").cpu_model,
            "Arm CPU implementer 0x61 part 0x022");
}

TEST(BenchMachine, FindsThisCpusFlags) {
  // The compiler's own CPUID probe is the oracle for what /proc/cpuinfo must have told us.
  const MachineInfo m = describe_machine();
  std::cout << "machine: " << machine_to_json(m) << "\n";
  EXPECT_FALSE(m.cpu_model.empty());
  EXPECT_GE(m.logical_cpus, 1);
  EXPECT_GE(m.allowed_cpus, 1);
  EXPECT_LE(m.allowed_cpus, m.logical_cpus);
  EXPECT_EQ(m.has("avx2"), __builtin_cpu_supports("avx2") != 0);
  EXPECT_EQ(m.has("fma"), __builtin_cpu_supports("fma") != 0);
  EXPECT_EQ(m.has("sse4_2"), __builtin_cpu_supports("sse4.2") != 0);
  EXPECT_EQ(m.has("avx512f"), __builtin_cpu_supports("avx512f") != 0);
  EXPECT_NE(m.kernel.find("Linux"), std::string::npos);
  EXPECT_FALSE(m.compiler.empty());
  EXPECT_EQ(m.edgeq_version, version());
  const std::string json = machine_to_json(m);
  EXPECT_NE(json.find("\"isa_flags\""), std::string::npos);
}

TEST(BenchMachine, PeakRssSeesATouchedAllocation) {
  const int64_t before = peak_rss_bytes();
  EXPECT_GT(before, 0);
  EXPECT_GT(current_rss_bytes(), 0);
  constexpr size_t kBytes = 96u << 20;
  std::vector<char> block(kBytes);
  std::memset(block.data(), 1, block.size());  // touch every page so it is resident
  EXPECT_GE(peak_rss_bytes(), static_cast<int64_t>(kBytes)) << "peak before: " << before;
  EXPECT_GE(peak_rss_bytes(), before);
}

TEST(BenchMachine, PhaseInChildReportsItsPeakAndResult) {
  constexpr size_t kBytes = 160u << 20;
  const ChildPhase phase = run_phase_in_child([] {
    std::vector<char> block(kBytes);
    std::memset(block.data(), 2, block.size());
    return std::string("loaded ") + std::to_string(block[kBytes / 2]);
  });
  ASSERT_TRUE(phase.ok) << phase.output;
  EXPECT_EQ(phase.output, "loaded 2");
  EXPECT_GE(phase.peak_rss_bytes, static_cast<int64_t>(kBytes));
  EXPECT_GT(phase.wall_ms, 0);
  // The parent never held those pages.
  std::cout << "child peak " << phase.peak_rss_bytes << " B, parent peak " << peak_rss_bytes() << " B\n";
}

TEST(BenchMachine, PhaseInChildCarriesTheException) {
  const ChildPhase phase = run_phase_in_child([]() -> std::string { throw Error(ErrorCode::kNotFound, "model.onnx: no such file"); });
  EXPECT_FALSE(phase.ok);
  EXPECT_EQ(phase.output, "model.onnx: no such file");
}

}  // namespace
}  // namespace edgeq::bench
