// End to end: tools/peers/ort_bench.mjs measures a tiny model on onnxruntime-node, through OrtPeer.
// Skips (with the reason) when node or onnxruntime-node is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include <cmath>
#include <iomanip>
#include <random>
#include <sstream>

#include "bench/subprocess.h"
#include "edgeq/bench.h"
#include "onnx/model_fixtures.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

struct BenchOrtSidecar : ::testing::Test {
  void SetUp() override {
    OrtPeerOptions probe;
    const std::string reason = OrtPeer(probe).unavailable_reason();
    if (!reason.empty()) GTEST_SKIP() << "onnxruntime-node peer unavailable: " << reason;
    dir = test::temp_dir("ort_sidecar");
    model = dir + "/small_cnn.onnx";
    onnx::save_model(test::small_cnn(), model);  // input [batch, 1, 8, 8] -> logits [batch, 10]
    noop = dir + "/noop.onnx";
    write_identity_model(noop, {-1, 1, 8, 8});
  }
  void TearDown() override {
    if (!dir.empty()) fs::remove_all(dir);
  }
  OrtPeerOptions quick() const {
    OrtPeerOptions o;
    o.warmup = 5;
    o.runs = 40;
    o.rounds = 3;
    o.batch_runs = 5;
    o.batches = {1, 8};
    o.noop_model = noop;
    o.cpus = cpus_for_threads(1);
    return o;
  }
  std::string dir, model, noop;
};

TEST_F(BenchOrtSidecar, MeasuresATinyModel) {
  OrtPeer peer(quick());
  const OrtModelResult r = peer.run(model);
  ASSERT_EQ(r.status, "ok");
  EXPECT_EQ(peer.ort_version().empty(), false);
  std::cout << "onnxruntime-node " << peer.ort_version() << ": session " << r.session_ms << " ms, peak RSS "
            << r.peak_rss_bytes / (1 << 20) << " MiB\n";
  EXPECT_GT(r.session_ms, 0);
  EXPECT_GT(r.peak_rss_bytes, 10 << 20) << "node + onnxruntime cannot fit in 10 MiB";
  ASSERT_EQ(r.batches.size(), 2u);
  for (const OrtBatchResult& b : r.batches) {
    SCOPED_TRACE("batch " + std::to_string(b.batch));
    EXPECT_EQ(b.stats.count, (b.batch == 1 ? 40 : 5) * 3);
    EXPECT_EQ(b.round_p50_ns.size(), 3u);
    EXPECT_GT(b.stats.min_ns, 0);
    EXPECT_LE(b.stats.min_ns, b.stats.p50_ns);
    EXPECT_LE(b.stats.p50_ns, b.stats.p95_ns);
    EXPECT_LE(b.stats.p95_ns, b.stats.p99_ns);
    EXPECT_LE(b.stats.p99_ns, b.stats.max_ns);
    EXPECT_NEAR(b.throughput_items_per_s, b.batch * 1e9 / b.stats.mean_ns, 1e-6 * b.throughput_items_per_s);
    std::cout << "batch " << b.batch << ": p50 " << b.stats.p50_ns / 1e3 << " us, p95 " << b.stats.p95_ns / 1e3
              << " us, spread " << b.spread << "\n";
  }
  ASSERT_TRUE(r.noop_p50_ns.has_value());
  EXPECT_GT(*r.noop_p50_ns, 0);
  std::cout << "no-op p50 " << *r.noop_p50_ns / 1e3 << " us\n";
  const Row row = r.to_row("small_cnn", "fp32");
  EXPECT_TRUE(row.ok());
  EXPECT_TRUE(row.throughput_b64 == std::nullopt) << "no batch-64 run was asked for";
}

TEST_F(BenchOrtSidecar, UsesTheGivenInputFileAndRejectsAMismatch) {
  OrtPeerOptions o = quick();
  o.noop_model.clear();
  o.batches = {1};
  // One sample of [1, 8, 8] floats: accepted.
  std::vector<float> sample(64, 0.25f);
  o.input_f32 = dir + "/input.f32";
  write_file_atomic(o.input_f32, std::string_view(reinterpret_cast<const char*>(sample.data()), sample.size() * 4));
  EXPECT_EQ(OrtPeer(o).run(model).status, "ok");
  // 10 floats are not a whole sample: the model is skipped with the reason, the peer does not throw.
  write_file_atomic(o.input_f32, std::string_view(reinterpret_cast<const char*>(sample.data()), 10 * 4));
  const OrtModelResult r = OrtPeer(o).run(model);
  EXPECT_NE(r.status.find("not a multiple of one sample"), std::string::npos) << r.status;
}

TEST_F(BenchOrtSidecar, UnloadableModelIsSkipped) {
  const std::string bad = dir + "/bad.onnx";
  write_file_atomic(bad, "definitely not protobuf");
  OrtPeerOptions o = quick();
  o.noop_model.clear();
  const OrtModelResult r = OrtPeer(o).run(bad);
  EXPECT_EQ(r.status.rfind("skipped: ", 0), 0u) << r.status;
  EXPECT_FALSE(r.to_row("bad", "fp32").ok());
}

TEST(BenchOrtSidecarStats, SameStatisticsAsTheCppSide) {
  // Both sides of a comparison must compute percentiles alike: feed the sidecar's exported
  // summarize() the samples the C++ summarize() sees. Needs node only, not onnxruntime.
  const std::string node = detail::find_executable("node");
  if (node.empty()) GTEST_SKIP() << "node not found on PATH";
  const uint32_t seed = 20261125;
  std::mt19937 rng(seed);
  std::lognormal_distribution<double> latency(4.0, 0.5);  // latency-like: skewed, with a tail
  std::vector<std::vector<double>> sets = {{4, 1, 3, 2}, {42}, {}};
  for (int i = 0; i < 901; ++i) sets.back().push_back(latency(rng));
  std::ostringstream js;
  js << "import('" << EDGEQ_SOURCE_DIR << "/tools/peers/ort_bench.mjs').then((m) => { const sets = [";
  for (size_t s = 0; s < sets.size(); ++s) {
    js << (s ? "," : "") << "[";
    for (size_t i = 0; i < sets[s].size(); ++i) js << (i ? "," : "") << std::setprecision(17) << sets[s][i];
    js << "]";
  }
  js << "]; for (const x of sets) { const r = m.summarize(x); console.log([r.p50_ms, r.p95_ms, r.p99_ms, r.mean_ms, "
        "r.min_ms, r.max_ms, r.stddev_ms].join(' ')); } console.log(m.spreadOf([10, 12, 11])); });";
  const detail::ProcessResult proc = detail::run_process({node, "--input-type=module", "-e", js.str()});
  ASSERT_TRUE(proc.launched) << proc.error;
  ASSERT_EQ(proc.exit_code, 0) << proc.err;
  std::istringstream out(proc.out);
  for (size_t s = 0; s < sets.size(); ++s) {
    SCOPED_TRACE("set " + std::to_string(s) + " of " + std::to_string(sets[s].size()) + " samples, seed " + std::to_string(seed));
    const LatencyStats c = summarize(sets[s]);
    double v[7];
    for (double& x : v) ASSERT_TRUE(out >> x) << proc.out;
    const double expected[7] = {c.p50_ns, c.p95_ns, c.p99_ns, c.mean_ns, c.min_ns, c.max_ns, c.stddev_ns};
    for (int k = 0; k < 7; ++k) EXPECT_NEAR(v[k], expected[k], 1e-9 * std::max(1.0, std::abs(expected[k]))) << "field " << k;
  }
  double spread = 0;
  ASSERT_TRUE(out >> spread);
  const std::vector<double> p50s = {10, 12, 11};
  EXPECT_NEAR(spread, round_spread(p50s), 1e-12);
}

}  // namespace
}  // namespace edgeq::bench
