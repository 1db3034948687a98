// `edgeq inspect` end to end: text and --json output, errors, and a model written by torch.onnx.export.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "edgeq/onnx.h"
#include "onnx/model_fixtures.h"
#include "run_command.h"

namespace edgeq {
namespace {

TEST(InspectCli, JsonDescribesTheModel) {
  auto dir = test::temp_dir("inspect");
  onnx::save_model(test::small_cnn(), dir + "/m.onnx");
  auto r = test::run_command(test::edgeq_binary() + " inspect --json " + dir + "/m.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["opsets"]["ai.onnx"], 17);
  EXPECT_EQ(j["inputs"][0]["name"], "input");
  EXPECT_EQ(j["inputs"][0]["shape"][0], "batch");
  EXPECT_EQ(j["outputs"][0]["shape"][1], 10);
  EXPECT_EQ(j["op_histogram"]["Conv"], 1);
  EXPECT_EQ(j["params"]["count"], 4 * 9 + 4 + 2560 + 10);
  EXPECT_EQ(j["macs"]["total"], 4 * 64 * 9 + 2560);
  EXPECT_EQ(j["quantized"], false);
  EXPECT_EQ(j["metadata"]["labels"], "a,b,c,d,e,f,g,h,i,j");
  EXPECT_GT(j["file_bytes"].get<int64_t>(), 10000);
  auto text = test::run_command(test::edgeq_binary() + " inspect " + dir + "/m.onnx");
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.output.find("Gemm: 1"), std::string::npos) << text.output;
  std::filesystem::remove_all(dir);
}

TEST(InspectCli, BadInputExitsOneWithOneLine) {
  auto dir = test::temp_dir("inspect_bad");
  std::ofstream(dir + "/junk.onnx") << "this is not a model";
  auto r = test::run_command(test::edgeq_binary() + " inspect " + dir + "/junk.onnx 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("junk.onnx: not a valid ONNX protobuf"), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  auto flag = test::run_command(test::edgeq_binary() + " inspect --no-such-flag x.onnx 2>&1");
  EXPECT_EQ(flag.exit_code, 1) << flag.output;
  auto help = test::run_command(test::edgeq_binary() + " inspect --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("--json"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(InspectCli, ModelExportedByTorch) {
  if (!test::python_has("torch")) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (python3-torch not installed)";
  auto dir = test::temp_dir("inspect_torch");
  auto exp = test::run_command("/usr/bin/python3 " EDGEQ_SOURCE_DIR "/tests/tools/export_torch_cnn.py " + dir +
                               "/cnn.onnx 2>/dev/null | tail -1");
  ASSERT_EQ(exp.exit_code, 0) << exp.output;
  auto oracle = nlohmann::json::parse(exp.output);
  auto r = test::run_command(test::edgeq_binary() + " inspect --json " + dir + "/cnn.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["producer"].get<std::string>().rfind("pytorch", 0), 0u) << j["producer"];
  EXPECT_EQ(j["params"]["count"], oracle["params"]);
  EXPECT_EQ(j["macs"]["total"], oracle["macs"]);
  EXPECT_EQ(j["op_histogram"]["Conv"], 2);
  EXPECT_EQ(j["op_histogram"]["Gemm"], 2);
  EXPECT_EQ(j["inputs"][0]["shape"][0], "batch");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeq
