// `edgeq bench` end to end on two tiny generated models: the Markdown and JSON reports hold an edgeq
// row per model with numbers, agreement against the first model, and a "skipped: <reason>" row for
// a peer forced missing (onnxruntime-web with EDGEQ_CHROMIUM pointing nowhere); user errors exit 1
// with one line.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "edgeq/core.h"
#include "edgeq/onnx.h"
#include "run_command.h"
#include "tiny_cnn.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path path = fs::temp_directory_path() / ("edgeq_bench_cli_" + std::to_string(::getpid()));
  Dir() { fs::create_directories(path); }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

TEST(BenchCli, WritesEveryRowAndASkippedRowForAMissingPeer) {
  Dir dir;
  onnx::save_model(testing::tiny_cnn_s(5), dir / "tiny.onnx");
  onnx::Model other = testing::tiny_cnn_s(5);
  other.graph.initializers["fc2.bias"].data<float>()[0] += 0.25f;  // a known logit difference vs tiny
  onnx::save_model(other, dir / "tiny-shifted.onnx");
  const std::string cmd = "EDGEQ_CHROMIUM=/nonexistent/chromium " + test::edgeq_binary() + " bench " + (dir / "tiny.onnx") + " " +
                          (dir / "tiny-shifted.onnx") +
                          " --threads 1 --warmup 1 --runs 10 --rounds 2 --batch-runs 2 --throughput-batch 8 --peers ort-web --quiet"
                          " --json " + (dir / "r.json") + " --md " + (dir / "r.md") + " --svg-dir " + (dir / "svg") + " 2>&1";
  const auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;

  const auto j = nlohmann::json::parse(read_file(dir / "r.json"));
  const auto& rows = j.at("rows");
  ASSERT_EQ(rows.size(), 4u) << "edgeq and onnxruntime-web for each of 2 models:\n" << rows.dump(1);
  int edgeq_rows = 0, skipped_rows = 0;
  for (const auto& row : rows) {
    if (row.at("engine") == "edgeq") {
      ++edgeq_rows;
      EXPECT_EQ(row.at("status"), "ok");
      EXPECT_EQ(row.at("threads"), 1);
      for (const char* key : {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "throughput_b64_items_per_s", "session_ms", "peak_rss_bytes", "size_bytes"})
        EXPECT_TRUE(row.at(key).is_number() && row.at(key).get<double>() > 0) << key << " in " << row.dump();
      if (row.at("model") == "tiny") {
        EXPECT_EQ(row.at("agreement_vs_fp32"), 1.0);
        EXPECT_EQ(row.at("max_logit_diff"), 0.0);
      } else {
        EXPECT_EQ(row.at("model"), "tiny-shifted");
        EXPECT_NEAR(row.at("max_logit_diff").get<double>(), 0.25, 1e-5) << "only fc2.bias[0] moved, by 0.25";
      }
      EXPECT_TRUE(row.at("ratio_vs_best_peer").is_null()) << "its only peer was skipped";
    } else {
      ++skipped_rows;
      EXPECT_EQ(row.at("engine"), "onnxruntime-web");
      const std::string status = row.at("status");
      EXPECT_EQ(status.rfind("skipped: chromium not found", 0), 0u) << status;
    }
  }
  EXPECT_EQ(edgeq_rows, 2);
  EXPECT_EQ(skipped_rows, 2);
  const std::string md = read_file(dir / "r.md");
  EXPECT_NE(md.find("tiny-shifted"), std::string::npos);
  ASSERT_NE(md.find("| precision | edgeq p50 |"), std::string::npos) << md.substr(0, 1000);
  EXPECT_LT(md.find("| precision | edgeq p50 |"), md.find("| model | engine |")) << "the summary comes first";
  EXPECT_NE(md.find("skipped: chromium not found"), std::string::npos);
  EXPECT_NE(md.find("no-op per-call overhead"), std::string::npos) << "the ratio's definition is in the notes";
  for (const char* svg : {"latency.svg", "size.svg", "accuracy.svg"}) EXPECT_TRUE(fs::exists(dir.path / "svg" / svg)) << svg;
}

TEST(BenchCli, PeerRowsCarryAgreementAgainstEdgeqsLogitsOfTheFirstModel) {
  if (test::run_command("node --version >/dev/null 2>&1").exit_code != 0 ||
      !fs::exists(std::string(EDGEQ_SOURCE_DIR) + "/tools/peers/node_modules/onnxruntime-node"))
    GTEST_SKIP() << "node or onnxruntime-node missing (scripts/setup installs them)";
  Dir dir;
  onnx::save_model(testing::tiny_cnn_s(5), dir / "tiny.onnx");
  onnx::Model other = testing::tiny_cnn_s(5);
  other.graph.initializers["fc2.bias"].data<float>()[0] += 0.25f;
  onnx::save_model(other, dir / "tiny-shifted.onnx");
  const std::string cmd = test::edgeq_binary() + " bench " + (dir / "tiny.onnx") + " " + (dir / "tiny-shifted.onnx") +
                          " --threads 1 --warmup 1 --runs 5 --rounds 1 --throughput-batch 0 --peers ort --quiet --json " +
                          (dir / "r.json") + " 2>&1";
  const auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  int ort_rows = 0;
  const auto rows = nlohmann::json::parse(read_file(dir / "r.json")).at("rows");
  for (const auto& row : rows) {
    if (row.at("engine") != "onnxruntime-node") continue;
    ++ort_rows;
    SCOPED_TRACE(row.dump());
    ASSERT_EQ(row.at("status"), "ok");
    EXPECT_TRUE(row.at("top1").is_null()) << "no dataset, no labels";
    ASSERT_TRUE(row.at("agreement_vs_fp32").is_number());
    ASSERT_TRUE(row.at("max_logit_diff").is_number());
    // Against edgeq's logits of tiny.onnx on the same 64 samples: the same file agrees to rounding, the
    // shifted one differs by its bias shift.
    const double expected = row.at("model") == "tiny" ? 0.0 : 0.25;
    EXPECT_NEAR(row.at("max_logit_diff").get<double>(), expected, 1e-4);
    if (row.at("model") == "tiny") {
      EXPECT_EQ(row.at("agreement_vs_fp32"), 1.0);
    }
  }
  EXPECT_EQ(ort_rows, 2) << rows.dump(1);
}

// --peers torch runs the LibTorch module in edgeq-torch bench-peer (engine libtorch-eager) on the same
// inputs and evaluation set: its logits match edgeq's on the same file, follow the shifted bias on the other, and
// a file without the "arch" metadata is a skipped row saying so.
TEST(BenchCli, LibTorchPeerRunsOnTheSameInputs) {
  Dir dir;
  onnx::save_model(testing::tiny_cnn_s(5), dir / "tiny.onnx");
  onnx::Model other = testing::tiny_cnn_s(5);
  other.graph.initializers["fc2.bias"].data<float>()[0] += 0.25f;
  onnx::save_model(other, dir / "tiny-shifted.onnx");
  onnx::save_model(testing::tiny_cnn_s(5, 3, /*arch_metadata=*/false), dir / "foreign.onnx");
  const std::string cmd = test::edgeq_binary() + " bench " + (dir / "tiny.onnx") + " " + (dir / "tiny-shifted.onnx") + " " +
                          (dir / "foreign.onnx") +
                          " --threads 1 --warmup 1 --runs 5 --rounds 1 --batch-runs 2 --throughput-batch 8 --peers torch --quiet --json " +
                          (dir / "r.json") + " 2>&1";
  const auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  const auto j = nlohmann::json::parse(read_file(dir / "r.json"));
  int libtorch_rows = 0;
  for (const auto& row : j.at("rows")) {
    if (row.at("engine") != "libtorch-eager") continue;
    ++libtorch_rows;
    SCOPED_TRACE(row.dump());
    const std::string status = row.at("status");
#if EDGEQ_WITH_TORCH
    if (row.at("model") == "foreign") {
      EXPECT_EQ(status.rfind("skipped: ", 0), 0u);
      EXPECT_NE(status.find("no 'arch' metadata"), std::string::npos);
      continue;
    }
    ASSERT_EQ(status, "ok");
    for (const char* key : {"p50_ms", "p95_ms", "throughput_b64_items_per_s", "session_ms", "peak_rss_bytes"})
      EXPECT_TRUE(row.at(key).is_number() && row.at(key).get<double>() > 0) << key;
    const double expected = row.at("model") == "tiny" ? 0.0 : 0.25;
    EXPECT_NEAR(row.at("max_logit_diff").get<double>(), expected, 1e-4);
#else
    EXPECT_EQ(status, "skipped: edgeq-torch (LibTorch) is not built in this installation (configure with -DEDGEQ_WITH_TORCH=ON)");
#endif
  }
  EXPECT_EQ(libtorch_rows, 3);
#if EDGEQ_WITH_TORCH
  EXPECT_TRUE(j.at("versions").contains("libtorch (edgeq-torch)")) << j.at("versions").dump();
#endif
}

// A model whose batch dim is fixed to 1 (TFLite conversions): bench runs it at batch 1 and evaluates it
// one sample at a time, skips the throughput runs at another batch, and refuses --batch 2 in one line.
TEST(BenchCli, FixedBatchModelIsBenchedAtItsBatch) {
  Dir dir;
  onnx::Model fixed = testing::tiny_cnn_s(5);
  fixed.graph.inputs[0].shape[0] = 1;
  fixed.graph.inputs[0].dim_params[0] = "";
  onnx::save_model(fixed, dir / "fixed.onnx");
  const std::string base = test::edgeq_binary() + " bench " + (dir / "fixed.onnx") + " --threads 1 --warmup 1 --runs 5 --rounds 1" +
                           " --peers none --json " + (dir / "r.json");
  const auto r = test::run_command(base + " --throughput-batch 8 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("batch dim is fixed to 1: no throughput runs at batch 8"), std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir / "r.json"));
  ASSERT_EQ(j.at("rows").size(), 1u);
  EXPECT_EQ(j.at("rows")[0].at("status"), "ok");
  EXPECT_GT(j.at("rows")[0].at("p50_ms").get<double>(), 0.0);
  const auto bad = test::run_command(base + " --batch 2 2>&1 >/dev/null");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--batch 2: the model's batch dim is fixed to 1 (give --batch 1)"), std::string::npos) << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
}

TEST(BenchCli, UnknownPeerIsAUserErrorWithOneLine) {
  Dir dir;
  onnx::save_model(testing::tiny_cnn_s(5), dir / "tiny.onnx");
  const auto r = test::run_command(test::edgeq_binary() + " bench " + (dir / "tiny.onnx") + " --peers tensorflow 2>&1 >/dev/null");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("unknown peer 'tensorflow'"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

}  // namespace
}  // namespace edgeq::bench
