// OrtPeer without running onnxruntime: the sidecar's JSON, the no-op model, and every reason the
// peer is skipped instead of failing.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "bench/subprocess.h"
#include "edgeq/bench.h"
#include "edgeq/onnx.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("edgeq_bench_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

constexpr const char* kSidecarJson = R"({"tool":"ort_bench","ort_version":"1.30.0","node_version":"v20.20.2",
 "protocol":{"warmup":20,"runs":300,"rounds":3},
 "models":[{"path":"m.onnx","status":"ok","input_name":"input","sample_shape":[1,28,28],"session_ms":12.5,
  "peak_rss_bytes":73400320,
  "batches":[{"batch":1,"status":"ok","runs":300,"rounds":3,"p50_ms":0.1,"p95_ms":0.12,"p99_ms":0.2,"mean_ms":0.105,
              "min_ms":0.09,"max_ms":0.5,"stddev_ms":0.01,"round_p50_ms":[0.1,0.11,0.1],"spread":0.1,
              "throughput_items_per_s":9523.8},
             {"batch":64,"status":"ok","runs":30,"rounds":3,"p50_ms":2.0,"p95_ms":2.2,"p99_ms":2.5,"mean_ms":2.1,
              "min_ms":1.9,"max_ms":3.0,"stddev_ms":0.1,"round_p50_ms":[2.0,2.0,2.1],"spread":0.05,
              "throughput_items_per_s":30476.2}]}],
 "noop":{"path":"noop.onnx","status":"ok","batch":1,"p50_ms":0.009},"peak_rss_bytes":73400320})";

TEST(BenchOrtPeer, ParsesSidecarJson) {
  std::string version;
  const OrtModelResult r = OrtPeer::parse_sidecar_json(kSidecarJson, &version);
  EXPECT_EQ(version, "1.30.0");
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.path, "m.onnx");
  EXPECT_DOUBLE_EQ(r.session_ms, 12.5);
  EXPECT_EQ(r.peak_rss_bytes, 73400320);
  ASSERT_EQ(r.batches.size(), 2u);
  ASSERT_NE(r.batch(1), nullptr);
  EXPECT_DOUBLE_EQ(r.batch(1)->stats.p50_ns, 0.1e6);
  EXPECT_EQ(r.batch(1)->stats.count, 900);
  EXPECT_EQ(r.batch(1)->round_p50_ns.size(), 3u);
  ASSERT_TRUE(r.noop_p50_ns.has_value());
  EXPECT_DOUBLE_EQ(*r.noop_p50_ns, 9000.0);

  const Row row = r.to_row("cnn-s", "fp32");
  EXPECT_TRUE(row.ok());
  EXPECT_EQ(row.engine, "onnxruntime-node");
  EXPECT_DOUBLE_EQ(*row.p50_ms, 0.1);
  EXPECT_DOUBLE_EQ(*row.throughput_b64, 30476.2);
  EXPECT_DOUBLE_EQ(*row.session_ms, 12.5);
}

TEST(BenchOrtPeer, SkippedModelBecomesSkippedRow) {
  const OrtModelResult r = OrtPeer::parse_sidecar_json(
      R"({"ort_version":"1.30.0","models":[{"path":"q.onnx","status":"skipped: input type is uint8, not float32"}],"noop":null})");
  EXPECT_EQ(r.status, "skipped: input type is uint8, not float32");
  const Row row = r.to_row("q", "int8-static");
  EXPECT_EQ(row.status, "skipped: input type is uint8, not float32");
  EXPECT_FALSE(row.p50_ms.has_value());
}

TEST(BenchOrtPeer, MalformedJsonIsAParseError) {
  EXPECT_THROW(OrtPeer::parse_sidecar_json("not json"), Error);
  EXPECT_THROW(OrtPeer::parse_sidecar_json(R"({"models":[]})"), Error);
  EXPECT_THROW(OrtPeer::parse_sidecar_json(R"({"models":[{"status":"ok"}]})"), Error);
}

TEST(BenchOrtPeer, MissingNodeIsSkipped) {
  OrtPeerOptions o;
  o.node = "edgeq-no-such-node-binary";
  OrtPeer peer(o);
  EXPECT_NE(peer.unavailable_reason().find("node not found"), std::string::npos);
  const OrtModelResult r = peer.run("model.onnx");
  EXPECT_EQ(r.status.rfind("skipped: node not found", 0), 0u) << r.status;
  EXPECT_FALSE(r.to_row("m", "fp32").ok());
}

TEST(BenchOrtPeer, MissingSidecarOrPackageIsSkipped) {
  const fs::path dir = fresh_dir("peers");
  OrtPeerOptions o;
  o.node = "/bin/true";  // exists; never reached
  o.peers_dir = dir.string();
  EXPECT_NE(OrtPeer(o).unavailable_reason().find("ort_bench.mjs not found"), std::string::npos);
  write_file_atomic((dir / "ort_bench.mjs").string(), "");
  const std::string reason = OrtPeer(o).unavailable_reason();
  EXPECT_NE(reason.find("onnxruntime-node not installed"), std::string::npos) << reason;
  fs::remove_all(dir);
}

TEST(BenchOrtPeer, FailingSidecarIsSkippedWithItsMessage) {
  // A stand-in "node" that prints one error line and exits 1, like ort_bench.mjs on a usage error.
  const fs::path dir = fresh_dir("failing");
  const fs::path package = dir / "node_modules" / "onnxruntime-node";
  fs::create_directories(package / "bin" / "napi-v6" / "linux" / detail::node_arch());
  write_file_atomic((package / "package.json").string(), "{}");
  write_file_atomic((package / "bin" / "napi-v6" / "linux" / detail::node_arch() / "onnxruntime_binding.node").string(), "");
  write_file_atomic((dir / "ort_bench.mjs").string(), "");
  const fs::path fake_node = dir / "fake-node.sh";
  write_file_atomic(fake_node.string(), "#!/bin/sh\necho 'ort_bench: cannot import onnxruntime-node' >&2\nexit 1\n");
  fs::permissions(fake_node, fs::perms::owner_all);
  OrtPeerOptions o;
  o.node = fake_node.string();
  o.peers_dir = dir.string();
  OrtPeer peer(o);
  EXPECT_EQ(peer.unavailable_reason(), "");
  const OrtModelResult r = peer.run("m.onnx");
  EXPECT_EQ(r.status, "skipped: ort sidecar failed (exit 1): ort_bench: cannot import onnxruntime-node");

  // Exit 0 but garbage on stdout: skipped too, never an exception.
  write_file_atomic(fake_node.string(), "#!/bin/sh\necho 'Segmentation fault?'\n");
  fs::permissions(fake_node, fs::perms::owner_all);
  const OrtModelResult garbage = OrtPeer(o).run("m.onnx");
  EXPECT_EQ(garbage.status.rfind("skipped: ort sidecar output", 0), 0u) << garbage.status;
  fs::remove_all(dir);
}

// onnxruntime-node ships its native binding per platform (bin/napi-v6/<os>/<arch>): a package without
// this one's is a skip reason naming the platform, before any sidecar starts.
TEST(BenchOrtPeer, PackageWithoutThisPlatformsBinaryIsSkipped) {
  const fs::path dir = fresh_dir("platform");
  const fs::path package = dir / "node_modules" / "onnxruntime-node";
  fs::create_directories(package / "bin" / "napi-v6" / "win32" / "x64");
  write_file_atomic((package / "package.json").string(), "{}");
  write_file_atomic((package / "bin" / "napi-v6" / "win32" / "x64" / "onnxruntime_binding.node").string(), "");
  write_file_atomic((dir / "ort_bench.mjs").string(), "");
  OrtPeerOptions o;
  o.node = "/bin/true";
  o.peers_dir = dir.string();
  const std::string reason = OrtPeer(o).unavailable_reason();
  EXPECT_NE(reason.find("has no linux/" + std::string(detail::node_arch()) + " binary"), std::string::npos) << reason;
  fs::remove_all(dir);
}

// A helper program built for another CPU (the host's x86-64 node seen from an aarch64 edgeq under
// qemu-user, and here an aarch64 ELF header seen from x86-64) is a skip reason; scripts are not judged.
TEST(BenchSubprocess, ForeignArchitectureFromTheElfHeader) {
  const fs::path dir = fresh_dir("elf");
  auto elf = [&](const std::string& name, uint16_t machine) {
    std::string header(64, '\0');
    std::memcpy(header.data(), "\x7f" "ELF", 4);
    header[4] = 2;  // 64-bit
    header[5] = 1;  // little endian
    header[18] = static_cast<char>(machine & 0xff);
    header[19] = static_cast<char>(machine >> 8);
    write_file_atomic((dir / name).string(), header);
    return (dir / name).string();
  };
  const std::string arm = elf("arm-node", 183), x86 = elf("x86-node", 62), riscv = elf("riscv-node", 243);
  write_file_atomic((dir / "script").string(), "#!/bin/sh\nexit 0\n");
#if defined(__x86_64__)
  EXPECT_EQ(detail::foreign_architecture(x86), "");
  EXPECT_EQ(detail::foreign_architecture(arm), arm + " is built for aarch64 and this edgeq for x86-64");
#elif defined(__aarch64__)
  EXPECT_EQ(detail::foreign_architecture(arm), "");
  EXPECT_EQ(detail::foreign_architecture(x86), x86 + " is built for x86-64 and this edgeq for aarch64");
#endif
  EXPECT_NE(detail::foreign_architecture(riscv).find("is built for RISC-V"), std::string::npos);
  EXPECT_EQ(detail::foreign_architecture((dir / "script").string()), "");
  EXPECT_EQ(detail::foreign_architecture("/bin/true"), "") << "this machine's own programs";
  // The peers check the program they found before anything else about their packages.
  const std::string foreign = detail::foreign_architecture(arm).empty() ? x86 : arm;
  fs::permissions(foreign, fs::perms::owner_all);
  OrtPeerOptions o;
  o.node = foreign;
  o.peers_dir = dir.string();
  EXPECT_EQ(OrtPeer(o).unavailable_reason(), detail::foreign_architecture(foreign));
  const OrtModelResult r = OrtPeer(o).run("m.onnx");
  EXPECT_EQ(r.status, "skipped: " + detail::foreign_architecture(foreign));
  TorchPeerOptions t;
  t.python = foreign;
  EXPECT_EQ(TorchPeer(t).unavailable_reason(), detail::foreign_architecture(foreign));
  fs::remove_all(dir);
}

TEST(BenchOrtPeer, IdentityModelRoundTrips) {
  const fs::path dir = fresh_dir("identity");
  const std::string path = (dir / "noop.onnx").string();
  write_identity_model(path, {-1, 1, 28, 28});
  const onnx::Model m = onnx::load_model(path);
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  EXPECT_EQ(m.graph.nodes[0].op_type, "Identity");
  ASSERT_EQ(m.graph.inputs.size(), 1u);
  EXPECT_EQ(m.graph.inputs[0].shape, (Shape{-1, 1, 28, 28}));
  EXPECT_EQ(m.graph.inputs[0].dim_params[0], "batch");
  EXPECT_EQ(m.graph.outputs[0].dtype, DType::kF32);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edgeq::bench

namespace edgeq::bench {
namespace {

TEST(BenchEvalSet, WritesSamplesLabelsAndReferenceAsRawLittleEndianFiles) {
  const auto dir = fs::temp_directory_path() / ("edgeq_bench_eval_set_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Tensor samples(DType::kF32, {3, 1, 2, 2});
  for (int64_t i = 0; i < samples.numel(); ++i) samples.data<float>()[i] = 0.5f * static_cast<float>(i);
  const std::vector<int64_t> labels = {2, 0, 1};
  const std::vector<float> reference = {1, 2, 3, 4, 5, 6};  // 3 samples x 2 classes
  const EvalFiles files = write_eval_set(dir.string(), samples, labels, reference);
  const std::string x = read_file(files.input), y = read_file(files.labels), r = read_file(files.reference);
  ASSERT_EQ(x.size(), 12 * sizeof(float));
  float last = 0;
  std::memcpy(&last, x.data() + 11 * sizeof(float), sizeof(float));
  EXPECT_EQ(last, 5.5f);
  ASSERT_EQ(y.size(), 3 * sizeof(int32_t));
  int32_t first_label = -1;
  std::memcpy(&first_label, y.data(), sizeof(int32_t));
  EXPECT_EQ(first_label, 2);
  EXPECT_EQ(r.size(), 6 * sizeof(float));
  // Without labels or reference, only the samples are written.
  const EvalFiles bare = write_eval_set(dir.string(), samples, {}, {});
  EXPECT_TRUE(bare.labels.empty());
  EXPECT_TRUE(bare.reference.empty());
  // Mismatches name what is wrong.
  const std::vector<int64_t> two_labels = {0, 1};
  EXPECT_THROW(write_eval_set(dir.string(), samples, two_labels, {}), Error);
  const std::vector<float> ragged = {1, 2, 3, 4};
  EXPECT_THROW(write_eval_set(dir.string(), samples, {}, ragged), Error);
  const std::vector<int64_t> negative = {0, -1, 1};
  EXPECT_THROW(write_eval_set(dir.string(), samples, negative, {}), Error);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace edgeq::bench
