// The JSON every subprocess peer prints (detail::parse_peer_json): several models, the engine per
// model (torch_bench.py's eager + TorchScript), a model's own no-op winning over the shared one, and
// the threads from the protocol.
#include <gtest/gtest.h>

#include <algorithm>

#include "bench/sidecar.h"

namespace edgeq::bench {
namespace {

constexpr const char* kBatch = R"({"batch":1,"status":"ok","runs":10,"rounds":2,"p50_ms":0.3,"p95_ms":0.4,"p99_ms":0.5,
 "mean_ms":0.32,"min_ms":0.2,"max_ms":0.6,"stddev_ms":0.05,"round_p50_ms":[0.3,0.31],"spread":0.03,"throughput_items_per_s":3125})";

TEST(BenchPeerJson, TorchStyleModelsWithEnginesAndOwnNoop) {
  const std::string json = std::string(R"({"tool":"torch_bench","torch_version":"1.13.0","protocol":{"threads":2},
   "models":[{"path":"a.onnx","engine":"pytorch-eager","status":"ok","session_ms":5,"peak_rss_bytes":100,
              "batches":[)") + kBatch + R"(],"noop":{"status":"ok","p50_ms":0.001}},
             {"path":"a.onnx","engine":"torchscript","status":"skipped: no"}],
   "noop":{"status":"ok","p50_ms":0.02}})";
  std::string version;
  const auto results = detail::parse_peer_json(json, "torch_bench.py", "pytorch-eager", "torch_version", &version);
  EXPECT_EQ(version, "1.13.0");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].engine, "pytorch-eager");
  EXPECT_EQ(results[0].threads, 2);
  ASSERT_TRUE(results[0].noop_p50_ns.has_value());
  EXPECT_DOUBLE_EQ(*results[0].noop_p50_ns, 1000.0) << "the model's own no-op, not the shared one";
  EXPECT_DOUBLE_EQ(results[0].batch(1)->stats.p50_ns, 0.3e6);
  EXPECT_EQ(results[0].batch(1)->stats.count, 20);
  EXPECT_EQ(results[1].engine, "torchscript");
  EXPECT_EQ(results[1].status, "skipped: no");
  ASSERT_TRUE(results[1].noop_p50_ns.has_value());
  EXPECT_DOUBLE_EQ(*results[1].noop_p50_ns, 0.02e6) << "no own no-op: the shared one";
  const Row row = results[0].to_row("a", "fp32");
  EXPECT_EQ(row.threads, 2);
  EXPECT_DOUBLE_EQ(*row.call_overhead_ms, 0.001);
  EXPECT_EQ(*row.peak_rss_bytes, 100);
  const Row skipped = results[1].to_row("a", "fp32");
  EXPECT_EQ(skipped.status, "skipped: no");
  EXPECT_EQ(skipped.engine, "torchscript");
}

TEST(BenchPeerJson, EvaluationFillsTheRowsAccuracyAndSaysWhenPartialOrFailed) {
  const std::string json = std::string(R"({"ort_version":"1.30.0","protocol":{"threads":1},"models":[
     {"path":"a.onnx","status":"ok","session_ms":5,"batches":[)") + kBatch + R"(],
      "eval":{"status":"ok","samples":10000,"total":10000,"batch":64,"classes":10,"top1":0.9012,"correct":9012,
              "agreement":0.995,"max_logit_diff":0.125,"ms":900}},
     {"path":"b.onnx","status":"ok","session_ms":5,"batches":[)" + kBatch + R"(],
      "eval":{"status":"ok","samples":2000,"total":10000,"batch":64,"classes":10,"top1":0.5,"correct":1000,
              "agreement":null,"max_logit_diff":null,"ms":90}},
     {"path":"c.onnx","status":"ok","session_ms":5,"batches":[)" + kBatch + R"(],
      "eval":{"status":"skipped: first output is [1], not [batch, classes]"}},
     {"path":"d.onnx","status":"ok","session_ms":5,"batches":[)" + kBatch + R"(]}]})";
  const auto results = detail::parse_peer_json(json, "ort sidecar", "onnxruntime-node", "ort_version", nullptr);
  ASSERT_EQ(results.size(), 4u);
  const Row full = results[0].to_row("a", "fp32");
  ASSERT_TRUE(full.top1 && full.agreement && full.max_logit_diff);
  EXPECT_DOUBLE_EQ(*full.top1, 0.9012);
  EXPECT_DOUBLE_EQ(*full.agreement, 0.995);
  EXPECT_DOUBLE_EQ(*full.max_logit_diff, 0.125);
  EXPECT_EQ(full.note, "");
  const Row partial = results[1].to_row("b", "fp32");
  EXPECT_DOUBLE_EQ(*partial.top1, 0.5);
  EXPECT_FALSE(partial.agreement.has_value()) << "no reference was given";
  EXPECT_EQ(partial.note, "accuracy on the first 2000 of 10000 samples");
  EXPECT_TRUE(partial.ok());
  const Row failed = results[2].to_row("c", "fp32");
  EXPECT_TRUE(failed.ok()) << "the latency figures stand";
  EXPECT_FALSE(failed.top1.has_value());
  EXPECT_EQ(failed.note.rfind("accuracy not measured: skipped: first output", 0), 0u) << failed.note;
  EXPECT_FALSE(results[3].eval.has_value()) << "no evaluation asked for: the JSON of before";
  EXPECT_FALSE(results[3].to_row("d", "fp32").top1.has_value());
}

TEST(BenchPeerJson, ProtocolArgsPassTheEvaluationSetOnlyWhenGiven) {
  OrtPeerOptions o;
  auto has = [](const std::vector<std::string>& args, const std::string& flag) {
    return std::find(args.begin(), args.end(), flag) != args.end();
  };
  EXPECT_FALSE(has(detail::protocol_args(o), "--eval-input"));
  o.eval_input = "x.f32";
  o.eval_labels = "y.i32";
  o.eval_limit = 7;
  const std::vector<std::string> args = detail::protocol_args(o);
  const auto at = std::find(args.begin(), args.end(), "--eval-limit");
  ASSERT_NE(at, args.end());
  EXPECT_EQ(*(at + 1), "7");
  EXPECT_TRUE(has(args, "--eval-labels"));
  EXPECT_FALSE(has(args, "--eval-reference")) << "no reference file";
}

TEST(BenchPeerJson, MalformedOutputNamesThePeer) {
  try {
    detail::parse_peer_json("{\"models\": 3}", "ort-web runner", "onnxruntime-web", "ort_version", nullptr);
    FAIL() << "expected a parse error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kParse);
    EXPECT_NE(std::string(e.what()).find("ort-web runner"), std::string::npos) << e.what();
  }
}

// What a C++ peer prints (edgeq-torch bench-peer) parses back to the same figures, evaluation and
// skipped models included.
TEST(BenchPeerJson, RenderedJsonParsesBackToTheSameResults) {
  Measurement m;
  m.batch = 8;
  m.overall.count = 20;
  m.overall.p50_ns = 3e5;
  m.overall.p95_ns = 4e5;
  m.overall.p99_ns = 5e5;
  m.overall.mean_ns = 3.2e5;
  m.overall.min_ns = 2e5;
  m.overall.max_ns = 6e5;
  m.overall.stddev_ns = 5e4;
  m.round_p50_ns = {3e5, 3.1e5};
  m.spread = 0.03;
  m.throughput_items_per_s = 25000;
  OrtModelResult ok;
  ok.path = "a.onnx";
  ok.engine = "libtorch-eager";
  ok.threads = 2;
  ok.session_ms = 12.5;
  ok.peak_rss_bytes = 123456789;
  ok.batches = {batch_result(m)};
  PeerEval e;
  e.samples = 64;
  e.total = 100;
  e.top1 = 0.75;
  e.max_logit_diff = 0.125;
  e.ms = 9;
  ok.eval = e;
  OrtModelResult skipped;
  skipped.path = "b.onnx";
  skipped.engine = "libtorch-eager";
  skipped.threads = 2;
  skipped.status = "skipped: no 'arch' metadata";
  std::string version;
  const auto back = detail::parse_peer_json(render_peer_json({ok, skipped}, "torch_version", "2.0.1"), "test", "x",
                                            "torch_version", &version);
  EXPECT_EQ(version, "2.0.1");
  ASSERT_EQ(back.size(), 2u);
  const OrtModelResult& r = back[0];
  EXPECT_EQ(r.path, "a.onnx");
  EXPECT_EQ(r.engine, "libtorch-eager");
  EXPECT_EQ(r.status, "ok");
  EXPECT_EQ(r.threads, 2);
  EXPECT_DOUBLE_EQ(r.session_ms, 12.5);
  EXPECT_EQ(r.peak_rss_bytes, 123456789);
  EXPECT_FALSE(r.noop_p50_ns.has_value()) << "a C++ call has no binding overhead to subtract";
  const OrtBatchResult* b = r.batch(8);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->stats.count, 20);
  EXPECT_DOUBLE_EQ(b->stats.p50_ns, 3e5);
  EXPECT_DOUBLE_EQ(b->stats.p99_ns, 5e5);
  EXPECT_DOUBLE_EQ(b->stats.stddev_ns, 5e4);
  EXPECT_EQ(b->round_p50_ns, (std::vector<double>{3e5, 3.1e5}));
  EXPECT_DOUBLE_EQ(b->spread, 0.03);
  EXPECT_DOUBLE_EQ(b->throughput_items_per_s, 25000);
  ASSERT_TRUE(r.eval.has_value());
  EXPECT_EQ(r.eval->samples, 64);
  EXPECT_EQ(r.eval->total, 100);
  EXPECT_DOUBLE_EQ(*r.eval->top1, 0.75);
  EXPECT_FALSE(r.eval->agreement.has_value());
  EXPECT_DOUBLE_EQ(*r.eval->max_logit_diff, 0.125);
  EXPECT_EQ(back[1].status, "skipped: no 'arch' metadata");
  EXPECT_EQ(back[1].path, "b.onnx");
}

}  // namespace
}  // namespace edgeq::bench
