// `edgeq quantize` end to end on a generated CNN with Fashion-MNIST calibration (Debian's
// dataset-fashion-mnist): exit codes, the written files, and the one-line errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "edgeq/data.h"
#include "quant/fixtures.h"
#include "run_command.h"

namespace edgeq::quant {
namespace {

class QuantCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(data::kFashionMnistDir)) GTEST_SKIP() << "dataset-fashion-mnist not installed";
    dir_ = std::filesystem::temp_directory_path() / ("edgeq_quant_cli_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    model_ = (dir_ / "fp32.onnx").string();
    onnx::save_model(test_fixtures::make_cnn(), model_);
  }
  test::CommandResult quantize(const std::string& args) {
    return test::run_command(test::edgeq_binary() + " quantize " + args + " 2>&1");
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
  std::string model_;
};

TEST_F(QuantCli, StaticWritesModelAndReport) {
  const auto r = quantize(model_ + " --calib fashion-mnist:train --calib-samples 128 --out " + path("q.onnx") + " --report " + path("r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("SQNR"), std::string::npos) << r.output;
  const auto report = nlohmann::json::parse(read_file(path("r.json")));
  EXPECT_EQ(report["mode"], "static");
  EXPECT_EQ(report["calibration"]["samples"], 128);
  EXPECT_LE(report["size"]["ratio"].get<double>(), 0.3);
  const onnx::Model q = onnx::load_model(path("q.onnx"));
  EXPECT_EQ(q.meta("calibration_method").value_or(""), "minmax");
  // The quantized file is refused as input, with one clear line.
  const auto again = quantize(path("q.onnx") + " --out " + path("qq.onnx"));
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("already quantized"), std::string::npos) << again.output;
}

TEST_F(QuantCli, DynamicAndMethods) {
  auto r = quantize(model_ + " --mode dynamic --out " + path("d.onnx") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const onnx::Model d = onnx::load_model(path("d.onnx"));
  int matmul_integer = 0;
  for (const auto& n : d.graph.nodes) matmul_integer += n.op_type == "MatMulInteger";
  EXPECT_EQ(matmul_integer, 2);
  r = quantize(model_ + " --method entropy --calib-samples 64 --activation-type int8 --per-tensor --out " + path("e.onnx"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST_F(QuantCli, AccuracyBudget) {
  const auto r = quantize(model_ + " --calib-samples 64 --max-drop 1 --eval fashion-mnist:test --eval-samples 256 --out " + path("m.onnx") +
                          " --report " + path("m.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto report = nlohmann::json::parse(read_file(path("m.json")));
  ASSERT_TRUE(report.contains("accuracy"));
  EXPECT_LE(report["accuracy"]["drop_pp"].get<double>(), 1.0 + 1e-9);
}

TEST_F(QuantCli, UserErrors) {
  auto r = quantize(model_ + " --calib-samples 100000 --out " + path("x.onnx"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("fewer than"), std::string::npos) << r.output;
  r = quantize(model_ + " --method magic --out " + path("x.onnx"));
  EXPECT_EQ(r.exit_code, 1);
  r = quantize("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.output.find("--calib-samples"), std::string::npos);
}

}  // namespace
}  // namespace edgeq::quant
