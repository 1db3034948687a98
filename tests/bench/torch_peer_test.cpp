// TorchPeer: torch_bench.py rebuilds an exported cnn-s from its ONNX weights and reproduces
// onnxruntime-node's logits (tools/peers/ort_run.mjs) on the same inputs, eager and TorchScript are
// both timed, and a file of unknown architecture comes back skipped with the reason. Skips when
// Debian's python3-torch/onnx or node/onnxruntime-node are absent.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "edgeq/bench.h"
#include "edgeq/onnx.h"
#include "run_command.h"
#include "tiny_cnn.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path path = fs::temp_directory_path() / ("edgeq_torch_peer_" + std::to_string(::getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

std::vector<float> read_f32(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

TorchPeerOptions quick() {
  TorchPeerOptions o;
  o.warmup = 2;
  o.runs = 20;
  o.rounds = 2;
  o.batch_runs = 3;
  o.batches = {1, 4};
  return o;
}

std::string torch_unavailable() {
  if (!test::python_has("torch") || !test::python_has("onnx")) return "Debian's python3-torch/python3-onnx not importable from /usr/bin/python3";
  return "";
}

TEST(BenchTorchPeer, ReproducesOnnxRuntimeLogitsOfAnExportedCnnS) {
  if (const std::string why = torch_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::string peers = std::string(EDGEQ_SOURCE_DIR) + "/tools/peers";
  if (!fs::exists(peers + "/node_modules/onnxruntime-node") || test::run_command("node --version >/dev/null 2>&1").exit_code != 0)
    GTEST_SKIP() << "node or onnxruntime-node missing (scripts/setup installs them)";
  Dir dir;
  const uint32_t seed = 11;
  onnx::save_model(testing::tiny_cnn_s(seed, 5), dir / "cnn-s.onnx");
  std::mt19937 rng(seed);
  const Tensor inputs = testing::random_tensor({4, 1, 8, 8}, rng, 1.0f);
  write_file_atomic(dir / "input.f32", std::string_view(reinterpret_cast<const char*>(inputs.data<float>()), inputs.nbytes()));

  TorchPeerOptions o = quick();
  o.input_f32 = dir / "input.f32";
  o.dump_logits = dir / "torch.f32";
  TorchPeer peer(o);
  const std::vector<OrtModelResult> results = peer.run(dir / "cnn-s.onnx");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    ASSERT_EQ(r.status, "ok") << r.engine;
    ASSERT_NE(r.batch(1), nullptr);
    EXPECT_EQ(r.batch(1)->stats.count, 40);
    EXPECT_NE(r.batch(4), nullptr);
    EXPECT_TRUE(r.noop_p50_ns.has_value());
    EXPECT_GT(r.peak_rss_bytes, 0);
  }
  EXPECT_EQ(results[0].engine, "pytorch-eager");
  EXPECT_EQ(results[1].engine, "torchscript");
  EXPECT_FALSE(peer.torch_version().empty());

  const auto ort4 = test::run_command("node " + peers + "/ort_run.mjs " + (dir / "cnn-s.onnx") + " --input input=" + (dir / "input.f32") +
                                      ":4x1x8x8 --out-dir " + dir.path.string() + " 2>&1");
  ASSERT_EQ(ort4.exit_code, 0) << ort4.output;
  const std::vector<float> want = read_f32(dir / "logits.raw");
  const std::vector<float> got = read_f32(dir / "torch.f32");
  ASSERT_EQ(want.size(), 20u) << "4 samples x 5 classes";
  ASSERT_EQ(got.size(), want.size());
  double max_diff = 0;
  for (size_t i = 0; i < want.size(); ++i) max_diff = std::max(max_diff, static_cast<double>(std::fabs(got[i] - want[i])));
  EXPECT_LE(max_diff, 1e-4) << "seed " << seed << ", shape [4,1,8,8]";
  double spread = 0;
  for (float w : want) spread = std::max(spread, static_cast<double>(std::fabs(w)));
  EXPECT_GT(spread, 1e-3) << "logits must not be trivially zero";
}

TEST(BenchTorchPeer, UnknownArchitectureIsSkippedWithTheReason) {
  if (const std::string why = torch_unavailable(); !why.empty()) GTEST_SKIP() << why;
  Dir dir;
  onnx::save_model(testing::tiny_cnn_s(3, 3, /*arch_metadata=*/false), dir / "foreign.onnx");
  TorchPeerOptions o = quick();
  o.modes = {"eager"};
  TorchPeer peer(o);
  const auto results = peer.run(dir / "foreign.onnx");
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status.rfind("skipped: architecture unknown", 0), 0u) << results[0].status;
  EXPECT_FALSE(results[0].to_row("foreign", "fp32").ok());
}

TEST(BenchTorchPeer, MissingPythonIsASkippedResultForEveryMode) {
  TorchPeerOptions o = quick();
  o.python = "/nonexistent/python3";
  TorchPeer peer(o);
  const auto results = peer.run("whatever.onnx");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_NE(r.status.find("python not found"), std::string::npos) << r.status;
}

}  // namespace
}  // namespace edgeq::bench
