// `edgeq quantize` end to end on a generated CNN with Fashion-MNIST calibration (Debian's
// dataset-fashion-mnist): exit codes, the written files, and the one-line errors.
#include <gtest/gtest.h>

#include <algorithm>
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

// Bring-your-own-model intake (issue 24): models that are not edgeq's own CNN.
onnx::Node make_node(std::string name, std::string op, std::vector<std::string> in, std::string out) {
  return {std::move(name), std::move(op), "", std::move(in), {std::move(out)}, {}, ""};
}

// A .npy (format 1.0) holding `t` (float32), as numpy.save writes it.
std::string npy_bytes(const Tensor& t) {
  std::string shape = "(";
  for (size_t d = 0; d < t.shape().size(); ++d) shape += (d ? ", " : "") + std::to_string(t.shape()[d]);
  shape += t.rank() == 1 ? ",)" : ")";
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
  header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

// dynamic mode on a model without MatMul/Gemm: exit 1, one line that says why, and no file.
TEST_F(QuantCli, NothingQuantizedIsAnErrorAndWritesNothing) {
  onnx::Model m = test_fixtures::make_cnn();
  // Everything after the Flatten (the Gemm head) goes.
  const auto flatten = std::find_if(m.graph.nodes.begin(), m.graph.nodes.end(), [](const onnx::Node& n) { return n.op_type == "Flatten"; });
  ASSERT_NE(flatten, m.graph.nodes.end());
  m.graph.nodes.erase(flatten + 1, m.graph.nodes.end());
  m.graph.nodes.back().outputs[0] = "logits";
  m.graph.outputs[0] = test_fixtures::value("logits", {-1, 784});
  m.graph.initializers.erase("fc1.w");
  m.graph.initializers.erase("fc1.b");
  m.graph.initializers.erase("fc2.w");
  m.graph.initializers.erase("fc2.b");
  onnx::save_model(m, path("convs.onnx"));
  const auto r = quantize(path("convs.onnx") + " --mode dynamic --out " + path("d.onnx"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("nothing was quantized"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--include-conv"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(path("d.onnx")));
  // Static mode quantizes the same convs.
  const auto s = quantize(path("convs.onnx") + " --calib-samples 32 --out " + path("s.onnx"));
  EXPECT_EQ(s.exit_code, 0) << s.output;
}

// A TensorFlow-style input: NHWC [2, 28, 28, 1] with the batch fixed at 2 and no metadata. The layout
// comes from the shape, calibration runs in batches of 2 (33 samples: one left out, said so).
TEST_F(QuantCli, NhwcInputWithFixedBatch) {
  onnx::Model m = test_fixtures::make_cnn();
  m.graph.inputs[0] = test_fixtures::value("image", {2, 28, 28, 1});
  m.graph.outputs[0].shape = {2, 10};
  onnx::Node t = make_node("to_nchw", "Transpose", {"image"}, "input");
  t.set_attr(onnx::Attribute::make_ints("perm", {0, 3, 1, 2}));
  m.graph.nodes.insert(m.graph.nodes.begin(), t);
  m.metadata.clear();  // no preprocessing metadata: sizes and layout come from the input's shape alone
  onnx::save_model(m, path("nhwc.onnx"));
  const auto r = quantize(path("nhwc.onnx") + " --calib-samples 33 --out " + path("q.onnx") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("NHWC 1x28x28"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("using 32 of 33"), std::string::npos) << r.output;
  const onnx::Model q = onnx::load_model(path("q.onnx"));
  int dq = 0;
  for (const auto& n : q.graph.nodes) dq += n.op_type == "DequantizeLinear";
  EXPECT_GT(dq, 4);
  // The layout can be forced; forced wrong, the shapes disagree and the error says so.
  const auto wrong = quantize(path("nhwc.onnx") + " --input-layout nchw --calib-samples 32 --out " + path("w.onnx"));
  EXPECT_EQ(wrong.exit_code, 1) << wrong.output;
  EXPECT_FALSE(std::filesystem::exists(path("w.onnx")));
}

// A non-image input ([N, 784] features) calibrated from .npy files: a batch of 5 and two single samples.
TEST_F(QuantCli, TensorFolderCalibration) {
  onnx::Model m = test_fixtures::make_cnn();
  onnx::Model built;
  built.opset_imports[""] = 17;
  built.graph.name = "mlp";
  built.graph.inputs.push_back(test_fixtures::value("features", {-1, 784}));
  built.graph.outputs.push_back(test_fixtures::value("logits", {-1, 10}));
  built.graph.initializers["fc1.w"] = m.graph.initializers.at("fc1.w");
  built.graph.initializers["fc1.b"] = m.graph.initializers.at("fc1.b");
  built.graph.initializers["fc2.w"] = m.graph.initializers.at("fc2.w");
  built.graph.initializers["fc2.b"] = m.graph.initializers.at("fc2.b");
  onnx::Node fc1{"fc1", "Gemm", "", {"features", "fc1.w", "fc1.b"}, {"h"}, {onnx::Attribute::make_int("transB", 1)}, ""};
  onnx::Node fc2{"fc2", "Gemm", "", {"hr", "fc2.w", "fc2.b"}, {"logits"}, {onnx::Attribute::make_int("transB", 1)}, ""};
  built.graph.nodes = {fc1, make_node("act", "Relu", {"h"}, "hr"), fc2};
  onnx::save_model(built, path("mlp.onnx"));
  const auto dir = dir_ / "calib";
  std::filesystem::create_directories(dir);
  write_file_atomic((dir / "a.npy").string(), npy_bytes(test_fixtures::uniform({5, 784}, 0.f, 1.f, 1)));
  write_file_atomic((dir / "b.npy").string(), npy_bytes(test_fixtures::uniform({784}, 0.f, 1.f, 2)));
  write_file_atomic((dir / "c.npy").string(), npy_bytes(test_fixtures::uniform({784}, 0.f, 1.f, 3)));
  auto r = quantize(path("mlp.onnx") + " --calib tensors:" + dir.string() + " --calib-samples 7 --out " + path("q.onnx") +
                    " --report " + path("r.json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(path("r.json")))["calibration"]["samples"], 7);
  r = quantize(path("mlp.onnx") + " --calib tensors:" + dir.string() + " --calib-samples 8 --out " + path("q8.onnx"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("gives 7 samples"), std::string::npos) << r.output;
  write_file_atomic((dir / "0.npy").string(), "\x93NUMPY\x01\x00\xff\xff{'descr'");  // sorts first: read first
  r = quantize(path("mlp.onnx") + " --calib tensors:" + dir.string() + " --calib-samples 7 --out " + path("qd.onnx"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("0.npy"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// An opset-9 model is upgraded to 13 in the written file, so its weights get per-channel scales.
TEST_F(QuantCli, Opset9IsUpgraded) {
  onnx::Model m = test_fixtures::make_cnn();
  m.opset_imports[""] = 9;
  onnx::save_model(m, path("old.onnx"));
  const auto r = quantize(path("old.onnx") + " --calib-samples 32 --out " + path("q.onnx") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("opset 9 upgraded to 13"), std::string::npos) << r.output;
  const onnx::Model q = onnx::load_model(path("q.onnx"));
  EXPECT_EQ(q.opset(""), 13);
  bool per_channel = false;
  for (const auto& n : q.graph.nodes)
    if (n.op_type == "DequantizeLinear" && q.graph.is_initializer(n.inputs[1])) per_channel = per_channel || q.graph.initializers.at(n.inputs[1]).numel() > 1;
  EXPECT_TRUE(per_channel);
}

}  // namespace
}  // namespace edgeq::quant
