// The edgeq-wasm peer: edgeq's WebAssembly module (make wasm: build-wasm/web/edgeq) timed in headless
// Chromium by tools/peers/edgeq_wasm/run.mjs, on cnn-s and its int8 QDQ export (tests/arm64/make_models.py).
// `edgeq bench --peers edgeq-wasm` gives rows like every peer's, whose accuracy equals the native
// runtime's on the same file (int8: the same bits, so the same logit difference); the first-prediction
// visits hit the HTTP cache the second time; a module path that holds no build is a skipped row naming
// `make wasm` (EDGEQ_WASM_DIR) or a one-line error (--wasm-dir).
// Registered as two ctest tests (CMakeLists.txt): the measuring ones need the wasm build, node, chromium
// and playwright-core, and report "[  SKIPPED ]" (ctest: Skipped, not Passed) without them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "edgeq/bench.h"
#include "edgeq/core.h"
#include "edgeq/onnx.h"
#include "run_command.h"
#include "tiny_cnn.h"

namespace edgeq::bench {
namespace {

namespace fs = std::filesystem;

struct Dir {
  fs::path path;
  explicit Dir(const std::string& what) : path(fs::temp_directory_path() / ("edgeq_wasm_peer_" + what + "_" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~Dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// cnn-s (fp32) and cnn-s-int8 (PyTorch QAT, QDQ) as make_models.py writes them, made once per binary.
class WasmPeerModels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    models_ = new Dir("models");
    const std::string cmd = "/usr/bin/python3 " + std::string(EDGEQ_SOURCE_DIR) + "/tests/arm64/make_models.py " +
                            models_->path.string() + " 2>&1";
    const auto r = test::run_command(cmd);
    made_ = r.exit_code == 0;
    if (!made_) why_ = cmd + "\n" + r.output;
  }
  static void TearDownTestSuite() {
    delete models_;
    models_ = nullptr;
  }
  void SetUp() override {
    EdgeqWasmPeer peer{EdgeqWasmPeerOptions{}};
    if (const std::string why = peer.unavailable_reason(); !why.empty()) GTEST_SKIP() << why;
    ASSERT_TRUE(made_) << why_;
  }
  static std::string model(const std::string& name) { return (models_->path / name / "model.onnx").string(); }

  static inline Dir* models_ = nullptr;
  static inline bool made_ = false;
  static inline std::string why_;
};

TEST_F(WasmPeerModels, BenchRowsMatchTheNativeRuntimeOnCnnSFp32AndInt8) {
  Dir dir("work");
  const std::string cmd = test::edgeq_binary() + " bench " + model("cnn-s") + " " + model("cnn-s-int8") +
                          " --peers edgeq-wasm --threads 1 --warmup 20 --runs 300 --rounds 2 --throughput-batch 0"
                          " --dataset fashion-mnist --limit 256 --quiet --json " + (dir / "r.json") + " 2>&1";
  const auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  const auto j = nlohmann::json::parse(read_file(dir / "r.json"));
  EXPECT_EQ(j.at("protocol").at("runs"), 300);
  EXPECT_EQ(j.at("protocol").at("rounds"), 2);
  EXPECT_TRUE(j.at("versions").contains("edgeq-wasm")) << j.at("versions").dump();
  std::map<std::string, nlohmann::json> native, wasm;  // by model
  for (const auto& row : j.at("rows")) (row.at("engine") == "edgeq" ? native : wasm)[row.at("model")] = row;
  ASSERT_EQ(wasm.size(), 2u) << j.at("rows").dump(1);
  for (const auto& [name, precision] : {std::pair<std::string, std::string>{"cnn-s", "fp32"}, {"cnn-s-int8", "int8-static"}}) {
    SCOPED_TRACE(name);
    const auto& w = wasm.at(name);
    const auto& n = native.at(name);
    ASSERT_EQ(w.at("status"), "ok") << w.dump();
    EXPECT_EQ(w.at("engine"), "edgeq-wasm");
    EXPECT_EQ(w.at("precision"), precision);
    EXPECT_EQ(w.at("threads"), 1);
    EXPECT_GT(w.at("p50_ms").get<double>(), 0.0);
    EXPECT_LE(w.at("p50_ms").get<double>(), w.at("p95_ms").get<double>());
    EXPECT_GT(w.at("call_overhead_ms").get<double>(), 0.0) << "the Identity model through the same module";
    EXPECT_GT(w.at("first_prediction_cold_ms").get<double>(), 0.0);
    EXPECT_GT(w.at("first_prediction_warm_ms").get<double>(), 0.0);
    // The same 256 images through the module and the native core: the same predictions.
    ASSERT_TRUE(w.at("top1").is_number()) << w.dump();
    EXPECT_EQ(w.at("top1").get<double>(), n.at("top1").get<double>());
    if (name == "cnn-s") {
      // The reference logits are the native runtime's on this very file.
      EXPECT_EQ(w.at("agreement_vs_fp32"), 1.0);
      EXPECT_LE(w.at("max_logit_diff").get<double>(), 1e-5);
    } else {
      // int8: the same logits as native (the same bits: wasm_matches_x86), so native's agreement with the
      // fp32 reference and its difference from it; only that difference's last bits may move (evaluate.mjs
      // subtracts in double, the native scorer in float).
      EXPECT_EQ(w.at("agreement_vs_fp32").get<double>(), n.at("agreement_vs_fp32").get<double>());
      EXPECT_NEAR(w.at("max_logit_diff").get<double>(), n.at("max_logit_diff").get<double>(), 1e-6);
      EXPECT_GT(w.at("max_logit_diff").get<double>(), 1e-3) << "int8 differs from fp32: the check above has teeth";
    }
    EXPECT_TRUE(w.at("ratio_vs_best_peer").is_null()) << "no browser peer ran: native peers are not its comparison";
  }
}

TEST_F(WasmPeerModels, TheSecondVisitIsServedFromTheHttpCache) {
  Dir dir("work");
  EdgeqWasmPeerOptions o;
  o.warmup = 2;
  o.runs = 300;
  o.rounds = 1;
  o.batches = {1};
  EdgeqWasmPeer peer(o);
  const OrtModelResult r = peer.run(model("cnn-s-int8"));
  ASSERT_EQ(r.status, "ok");
  EXPECT_EQ(r.engine, "edgeq-wasm");
  ASSERT_NE(r.batch(1), nullptr);
  EXPECT_EQ(r.batch(1)->stats.count, 300);
  EXPECT_EQ(peer.edgeq_version(), version());
  EXPECT_FALSE(peer.browser_version().empty());
  ASSERT_TRUE(r.first_prediction.has_value());
  const FirstPrediction& f = *r.first_prediction;
  ASSERT_EQ(f.status, "ok");
  const auto wasm_bytes = static_cast<int64_t>(fs::file_size(fs::path(default_wasm_module_dir()) / "edgeq-wasm.wasm"));
  EXPECT_GT(f.cold_transferred_bytes, wasm_bytes) << "the first visit downloads the module and the model";
  EXPECT_LT(f.warm_transferred_bytes, f.cold_transferred_bytes / 10) << "the second visit is served from the HTTP cache";
  EXPECT_GT(f.cold_ms, 0.0);
  EXPECT_GT(f.warm_ms, 0.0);
}

TEST(WasmPeerMissing, AWrongModuleDirIsASkippedRowNamingMakeWasm) {
  EdgeqWasmPeerOptions o;
  o.module_dir = "/nonexistent/build-wasm/web/edgeq";
  EdgeqWasmPeer peer(o);
  const OrtModelResult r = peer.run("/nonexistent/model.onnx");
  EXPECT_EQ(r.status.rfind("skipped: the edgeq wasm module is not built: no /nonexistent/build-wasm/web/edgeq/", 0), 0u)
      << r.status;
  EXPECT_NE(r.status.find("make wasm"), std::string::npos) << r.status;
  const Row row = r.to_row("m", "int8-static");
  EXPECT_FALSE(row.ok());
  EXPECT_EQ(row.engine, "edgeq-wasm");
  EXPECT_EQ(row.precision, "int8-static");
}

TEST(WasmPeerMissing, MoreThanOneThreadIsASkippedRow) {
  EdgeqWasmPeerOptions o;
  o.threads = 2;
  const OrtModelResult r = EdgeqWasmPeer(o).run("/nonexistent/model.onnx");
  EXPECT_EQ(r.status.rfind("skipped: the edgeq wasm module runs one thread", 0), 0u) << r.status;
  EXPECT_EQ(r.threads, 2);
}

TEST(WasmPeerMissing, BenchWithAMissingBuildWritesTheSkippedRowAndAWrongWasmDirIsAnError) {
  Dir dir("work");
  const std::string model = dir / "tiny.onnx";
  onnx::save_model(testing::tiny_cnn_s(5), model);
  const std::string cmd = "EDGEQ_WASM_DIR=" + (dir / "no-build") + " " + test::edgeq_binary() + " bench " + model +
                          " --peers edgeq-wasm --threads 1 --warmup 1 --runs 5 --rounds 1 --throughput-batch 0 --quiet --json " +
                          (dir / "r.json") + " 2>&1";
  const auto r = test::run_command(cmd);
  ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.output;
  bool found = false;
  const auto rows = nlohmann::json::parse(read_file(dir / "r.json")).at("rows");
  for (const auto& row : rows) {
    if (row.at("engine") != "edgeq-wasm") continue;
    found = true;
    const std::string status = row.at("status");
    EXPECT_EQ(status.rfind("skipped: the edgeq wasm module is not built: no " + (dir / "no-build"), 0), 0u) << status;
    EXPECT_NE(status.find("make wasm"), std::string::npos) << status;
  }
  EXPECT_TRUE(found) << rows.dump(1);

  const auto bad = test::run_command(test::edgeq_binary() + " bench " + model + " --peers edgeq-wasm --wasm-dir " +
                                     (dir / "no-build") + " 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--wasm-dir " + (dir / "no-build") + ": no edgeq-wasm.wasm there (make wasm builds"),
            std::string::npos) << bad.output;
  EXPECT_EQ(std::count(bad.output.begin(), bad.output.end(), '\n'), 1) << bad.output;
}

}  // namespace
}  // namespace edgeq::bench
