// The runtime's CLI verbs end to end (edgeq verify / eval / predict) on the torch-exported fixtures
// of models_test (make_fixtures.py): exit codes, and JSON that is consistent with itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fixtures.h"

namespace fs = std::filesystem;

namespace {

const fs::path kFixtures = edgeq::testing::model_fixtures_dir();
const fs::path kEdgeq = fs::path(EDGEQ_BINARY_DIR) / "bin" / "edgeq";

std::string fixtures_missing() {
  if (!fs::exists(kEdgeq)) return "edgeq CLI not built at " + kEdgeq.string();
  return edgeq::testing::ensure_model_fixtures();
}

struct Result {
  int exit_code;
  std::string out;
};

Result run(const std::string& args) {
  const fs::path out = fs::temp_directory_path() / ("edgeq_rt_cli_" + std::to_string(::getpid()) + ".txt");
  const int rc = std::system((kEdgeq.string() + " " + args + " > " + out.string() + " 2>&1").c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  fs::remove(out);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

TEST(RuntimeCli, VerifyPassesAndFailsOnMismatch) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  const std::string dir = (kFixtures / "resnet18").string();
  auto ok = run("verify " + dir + " --atol 1e-4 --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  const auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["results"][0]["status"], "passed");
  EXPECT_LE(j["results"][0]["outputs"][0]["max_abs_error"].get<double>(), 1e-4);
  // Zero tolerance: fp32 summation order differs from torch's, so this must report a mismatch.
  auto bad = run("verify " + dir + " --atol 0 --rtol 0");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("beyond tolerance"), std::string::npos) << bad.out;
  auto missing = run("verify /nonexistent_dir");
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
}

TEST(RuntimeCli, EvalReportsConsistentAccuracyAndConfusion) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "Debian dataset-fashion-mnist missing";
  auto r = run("eval " + (kFixtures / "cnn-s" / "model.onnx").string() + " --dataset fashion-mnist:test --limit 96 --batch 40 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["samples"], 96);
  int64_t total = 0, diagonal = 0;
  const auto& cm = j["confusion"];
  ASSERT_EQ(cm.size(), 10u);
  for (size_t t = 0; t < cm.size(); ++t)
    for (size_t p = 0; p < cm[t].size(); ++p) {
      total += cm[t][p].get<int64_t>();
      if (t == p) diagonal += cm[t][p].get<int64_t>();
    }
  EXPECT_EQ(total, 96);
  EXPECT_EQ(diagonal, j["correct"].get<int64_t>());
  EXPECT_NEAR(j["top1"].get<double>(), static_cast<double>(diagonal) / 96.0, 1e-12);
  auto bad = run("eval " + (kFixtures / "cnn-s" / "model.onnx").string() + " --dataset no-such-dataset");
  EXPECT_EQ(bad.exit_code, 1);
}

// --save-logits / --save-inputs: the files hold exactly what was evaluated, and the logits' argmax
// gives the reported number of correct answers.
TEST(RuntimeCli, EvalSavesInputsAndLogits) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) GTEST_SKIP() << "Debian dataset-fashion-mnist missing";
  const fs::path dir = fs::temp_directory_path() / ("edgeq_rt_cli_save_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto r = run("eval " + (kFixtures / "cnn-s" / "model.onnx").string() + " --dataset fashion-mnist:test --limit 50 --batch 16 --json" +
               " --save-logits " + (dir / "logits.f32").string() + " --save-inputs " + (dir / "inputs.f32").string());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(fs::file_size(dir / "inputs.f32"), 50u * 784 * 4);
  ASSERT_EQ(fs::file_size(dir / "logits.f32"), 50u * 10 * 4);
  std::ifstream in(dir / "logits.f32", std::ios::binary);
  std::vector<float> logits(500);
  in.read(reinterpret_cast<char*>(logits.data()), 2000);
  int64_t nonzero_rows = 0;
  for (int i = 0; i < 50; ++i) nonzero_rows += std::any_of(logits.begin() + i * 10, logits.begin() + i * 10 + 10, [](float v) { return v != 0.f; });
  EXPECT_EQ(nonzero_rows, 50);
  // Predicted classes summed over the confusion columns must match the argmax of the saved rows.
  std::vector<int64_t> predicted(10, 0);
  for (int i = 0; i < 50; ++i) predicted[std::max_element(logits.begin() + i * 10, logits.begin() + i * 10 + 10) - (logits.begin() + i * 10)]++;
  for (size_t p = 0; p < 10; ++p) {
    int64_t col = 0;
    for (size_t t = 0; t < 10; ++t) col += j["confusion"][t][p].get<int64_t>();
    EXPECT_EQ(col, predicted[p]) << "class " << p;
  }
  fs::remove_all(dir);
}

// inspect --plan --profile: the compiled plan of a model with its per-step times.
TEST(RuntimeCli, InspectShowsThePlan) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  auto r = run("inspect " + (kFixtures / "cnn-s" / "model.onnx").string() + " --plan --profile 5 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  const auto& steps = j["plan"]["step_list"];
  ASSERT_EQ(steps.size(), j["plan"]["steps"].get<size_t>());
  int convs = 0;
  for (const auto& s : steps) {
    convs += s["label"].get<std::string>().rfind("Conv '", 0) == 0;
    EXPECT_GE(s["mean_us"].get<double>(), 0.0);
  }
  EXPECT_EQ(convs, 2) << r.out;  // cnn-s: conv1, conv2 (ReLU fused into them)
  auto text = run("inspect " + (kFixtures / "cnn-s" / "model.onnx").string() + " --plan");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("plan (input [1, 1, 28, 28]):"), std::string::npos) << text.out;
}

// --input-shape: the plan is compiled for the given dims (a bigger batch needs a bigger arena); a name
// that is no input, a dim the model fixes, or a malformed value is one line and exit 1.
TEST(RuntimeCli, InspectPlanTakesInputShape) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  const std::string model = (kFixtures / "cnn-s" / "model.onnx").string();
  auto one = run("inspect " + model + " --plan --json");
  auto four = run("inspect " + model + " --plan --json --input-shape input=4x1x28x28");
  ASSERT_EQ(one.exit_code, 0) << one.out;
  ASSERT_EQ(four.exit_code, 0) << four.out;
  const auto j1 = nlohmann::json::parse(one.out)["plan"], j4 = nlohmann::json::parse(four.out)["plan"];
  EXPECT_EQ(j1["input_shapes"]["input"], nlohmann::json({1, 1, 28, 28}));
  EXPECT_EQ(j4["input_shapes"]["input"], nlohmann::json({4, 1, 28, 28}));
  EXPECT_GT(j4["arena_bytes"].get<size_t>(), j1["arena_bytes"].get<size_t>());
  auto comma = run("inspect " + model + " --plan --input-shape input=2,1,28,28");
  EXPECT_EQ(comma.exit_code, 0) << comma.out;
  EXPECT_NE(comma.out.find("plan (input [2, 1, 28, 28]):"), std::string::npos) << comma.out;
  const std::pair<const char*, const char*> bad[] = {
      {"input=4x3x28x28", "fixes dim 1"},    {"pixels=1x1x28x28", "'pixels'"}, {"input=4x", "NAME=DIMS"},
      {"input=1x1x28", "rank 3"},            {"=1x1x28x28", "NAME=DIMS"},      {"input=0x1x28x28", "NAME=DIMS"}};
  for (const auto& [flag, says] : bad) {
    auto r = run("inspect " + model + " --plan --input-shape " + flag);
    EXPECT_EQ(r.exit_code, 1) << flag << ": " << r.out;
    EXPECT_NE(r.out.find(says), std::string::npos) << flag << ": " << r.out;
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  }
}

TEST(RuntimeCli, PredictGivesSortedTopK) {
  if (auto why = fixtures_missing(); !why.empty()) GTEST_SKIP() << why;
  const std::string png = (kFixtures / "sample.png").string();
  auto r = run("predict " + (kFixtures / "cnn-m" / "model.onnx").string() + " " + png + " " + png + " --top 4 --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["predictions"].size(), 2u);
  const auto& top = j["predictions"][0]["top"];
  ASSERT_EQ(top.size(), 4u);
  double sum = 0;
  for (size_t i = 0; i < top.size(); ++i) {
    sum += top[i]["probability"].get<double>();
    if (i) {
      EXPECT_GE(top[i - 1]["probability"].get<double>(), top[i]["probability"].get<double>());
    }
  }
  EXPECT_LE(sum, 1.0 + 1e-6);
  EXPECT_EQ(j["predictions"][0]["top"], j["predictions"][1]["top"]) << "same image, same answer";
  EXPECT_TRUE(top[0]["label"].is_string());
  auto bad = run("predict " + (kFixtures / "cnn-m" / "model.onnx").string() + " /nonexistent.png");
  EXPECT_EQ(bad.exit_code, 1);
}

}  // namespace
