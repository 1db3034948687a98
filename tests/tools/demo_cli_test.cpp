// `edgeq demo` end to end on a tiny budget: the report has every variant's row with numbers, and a
// peer that cannot run (chromium forced missing: onnxruntime-web and edgeq-wasm) is reported as skipped,
// not dropped; a browser app build placed in DIR/app/ is linked from the report.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "edgeq/core.h"
#include "onnx/model_fixtures.h"
#include "run_command.h"

namespace edgeq {
namespace {

TEST(DemoCli, ShortDemoWritesReportWithEveryRowAndSkippedPeer) {
  auto dir = test::temp_dir("demo");
  std::filesystem::create_directories(dir + "/app");
  write_file_atomic(dir + "/app/index.html", "<!doctype html><title>app</title>");
  auto r = test::run_command("EDGEQ_CHROMIUM=/nonexistent/chromium " + test::edgeq_binary() + " demo --out " + dir +
                             " --epochs 1 --train-limit 2000 --test-limit 300 --runs 20 --rounds 1 --calib-samples 64"
                             " --threads 1 --peers torch,ort,ort-web,edgeq-wasm 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string md = read_file(dir + "/report.md");
  ASSERT_TRUE(std::filesystem::exists(dir + "/report.html"));
  ASSERT_TRUE(std::filesystem::exists(dir + "/latency.svg"));
  auto bench = nlohmann::json::parse(read_file(dir + "/bench.json"));
  ASSERT_TRUE(bench.contains("rows")) << bench.dump().substr(0, 500);
  bool edgeq_fp32 = false, libtorch_fp32 = false, ort_fp32 = false, ort_static = false, ort_dynamic = false, web_skipped = false;
  int wasm_skipped = 0;
  std::optional<double> edgeq_top1, ort_top1;  // fp32, on the same 300 test images
  for (const auto& row : bench["rows"]) {
    std::string engine = row.value("engine", ""), precision = row.value("precision", ""), status = row.value("status", "");
    bool has_p50 = row.contains("p50_ms") && row["p50_ms"].is_number() && row["p50_ms"].get<double>() > 0;
    if (engine == "edgeq" && precision == "fp32") edgeq_fp32 = has_p50 && status == "ok";
    if (engine == "libtorch-eager" && precision == "fp32") libtorch_fp32 = has_p50 && status == "ok";  // PyTorch via edgeq-torch
    if (precision == "fp32" && row.value("top1", nlohmann::json()).is_number()) {
      if (engine == "edgeq") edgeq_top1 = row["top1"].get<double>();
      if (engine == "onnxruntime-node") ort_top1 = row["top1"].get<double>();
    }
    if (engine == "onnxruntime-node" && status == "ok") {
      EXPECT_TRUE(row.value("top1", nlohmann::json()).is_number()) << "every peer row has its own top-1: " << row.dump();
      EXPECT_TRUE(row.value("agreement_vs_fp32", nlohmann::json()).is_number()) << row.dump();
    }
    if (engine == "onnxruntime-node" && precision == "fp32") ort_fp32 = has_p50;
    if (engine == "onnxruntime-node" && precision == "int8-static") ort_static = has_p50;
    if (engine == "onnxruntime-node" && precision == "int8-dynamic") ort_dynamic = has_p50;
    if (engine == "onnxruntime-web") web_skipped |= status.rfind("skipped", 0) == 0;
    if (engine == "edgeq-wasm") wasm_skipped += status.rfind("skipped", 0) == 0;
  }
  EXPECT_TRUE(edgeq_fp32);
  EXPECT_TRUE(libtorch_fp32) << "the demo trains with LibTorch, so its LibTorch row (edgeq-torch bench-peer) must run";
  if (test::run_command("node --version >/dev/null 2>&1").exit_code == 0) {
    EXPECT_TRUE(ort_fp32);
    EXPECT_TRUE(ort_static);
    EXPECT_TRUE(ort_dynamic);
    ASSERT_TRUE(edgeq_top1 && ort_top1);
    EXPECT_NEAR(*ort_top1, *edgeq_top1, 0.01) << "the same fp32 file on the same images";
  }
  EXPECT_TRUE(web_skipped) << "the missing chromium must show as a skipped onnxruntime-web row";
  EXPECT_EQ(wasm_skipped, 3) << "an edgeq-wasm row per model, skipped without chromium";
  EXPECT_NE(md.find("## Browser app\n\n[The app](app/index.html)"), std::string::npos) << "the app build beside the report is linked";
  EXPECT_NE(md.find("edgeq serve --static " + dir + "/app"), std::string::npos);
  EXPECT_NE(md.find("skipped"), std::string::npos);
  EXPECT_NE(md.find("per-layer SQNR"), std::string::npos);
  EXPECT_NE(md.find("| fp32 | edgeq | fp32 |"), std::string::npos) << md.substr(0, 2000);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeq
