// OrtWebPeer: a tiny model measured by onnxruntime-web's WASM backend in headless Chromium, with 1
// and 2 threads (2 needs the cross-origin isolation the runner's server sets up), and the skipped
// result when chromium is missing. Skips with the reason when chromium, node or the npm packages are
// absent (scripts/setup installs them).
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "edgeq/bench.h"
#include "edgeq/onnx.h"
#include "tiny_cnn.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

struct Files {
  fs::path dir = fs::temp_directory_path() / ("edgeq_ort_web_" + std::to_string(::getpid()));
  std::string model, noop;
  Files() {
    fs::create_directories(dir);
    model = (dir / "tiny.onnx").string();
    noop = (dir / "noop.onnx").string();
    onnx::save_model(testing::tiny_cnn_s(7), model);
    write_identity_model(noop, {-1, 1, 8, 8});
  }
  ~Files() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

OrtWebPeerOptions quick(int threads, const Files& f) {
  OrtWebPeerOptions o;
  o.threads = threads;
  o.warmup = 3;
  o.runs = 40;
  o.rounds = 2;
  o.batch_runs = 5;
  o.batches = {1, 4};
  o.noop_model = f.noop;
  return o;
}

void expect_measured(const OrtModelResult& r, int threads) {
  ASSERT_EQ(r.status, "ok") << "threads " << threads;
  EXPECT_EQ(r.engine, "onnxruntime-web");
  EXPECT_EQ(r.threads, threads);
  EXPECT_GT(r.session_ms, 0.0);
  const OrtBatchResult* b1 = r.batch(1);
  ASSERT_NE(b1, nullptr);
  EXPECT_EQ(b1->stats.count, 80) << "40 runs x 2 rounds";
  EXPECT_EQ(b1->round_p50_ns.size(), 2u);
  EXPECT_GT(b1->stats.p50_ns, 0.0);
  EXPECT_LE(b1->stats.p50_ns, b1->stats.p95_ns);
  EXPECT_LE(b1->stats.p95_ns, b1->stats.p99_ns);
  const OrtBatchResult* b4 = r.batch(4);
  ASSERT_NE(b4, nullptr);
  EXPECT_GT(b4->throughput_items_per_s, 0.0);
  ASSERT_TRUE(r.noop_p50_ns.has_value()) << "the no-op model's per-call overhead";
  EXPECT_GT(*r.noop_p50_ns, 0.0);
  const Row row = r.to_row("tiny", "fp32");
  EXPECT_TRUE(row.ok());
  EXPECT_EQ(row.engine, "onnxruntime-web");
  ASSERT_TRUE(row.call_overhead_ms.has_value());
  EXPECT_FALSE(row.peak_rss_bytes.has_value()) << "not measured in the browser";
}

TEST(BenchOrtWebPeer, MeasuresATinyModelInHeadlessChromiumOneThread) {
  Files f;
  OrtWebPeer peer(quick(1, f));
  if (const std::string why = peer.unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  const OrtModelResult r = peer.run(f.model);
  expect_measured(r, 1);
  EXPECT_FALSE(peer.ort_version().empty());
  EXPECT_FALSE(peer.browser_version().empty());
}

TEST(BenchOrtWebPeer, TwoWasmThreadsNeedAndGetCrossOriginIsolation) {
  Files f;
  OrtWebPeer peer(quick(2, f));
  if (const std::string why = peer.unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
  expect_measured(peer.run(f.model), 2);
}

TEST(BenchOrtWebPeer, MissingChromiumIsASkippedResultNotAnError) {
  Files f;
  OrtWebPeerOptions o = quick(1, f);
  o.chromium = "/nonexistent/chromium";
  OrtWebPeer peer(o);
  EXPECT_NE(peer.unavailable_reason().find("chromium not found"), std::string::npos) << peer.unavailable_reason();
  const OrtModelResult r = peer.run(f.model);
  EXPECT_EQ(r.status.rfind("skipped: ", 0), 0u) << r.status;
  const Row row = r.to_row("tiny", "fp32");
  EXPECT_FALSE(row.ok());
  EXPECT_EQ(row.engine, "onnxruntime-web");
  EXPECT_EQ(row.threads, 1);
}

}  // namespace
}  // namespace edgeq::bench
