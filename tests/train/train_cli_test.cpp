// `edgeq train` end to end through the binary: outputs, exit codes, one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "edgeq/core.h"

namespace {

std::pair<int, std::string> run(const std::string& args, bool merge_stderr = true) {
  const std::string cmd = std::string(EDGEQ_BINARY_DIR) + "/bin/edgeq " + args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(TrainCliTest, WritesModelAndTrainJson) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("edgeq_cli_train_" + std::to_string(::getpid()))).string();
  auto [rc, out] = run("train --dataset fashion-mnist --arch cnn-s --epochs 1 --limit 500 --test-limit 100 --threads 1 "
                       "--quiet --out " + dir);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/model.onnx"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/train.json"));
  EXPECT_NE(out.find("top-1"), std::string::npos) << out;
  auto [rc_json, json] = run("train --dataset fashion-mnist --arch cnn-s --epochs 1 --limit 200 --test-limit 50 --threads 1 "
                             "--json --out " + dir, /*merge_stderr=*/false);
  EXPECT_EQ(rc_json, 0);
  EXPECT_EQ(json.front(), '{') << json;  // progress goes to stderr, stdout is the JSON alone
  EXPECT_NE(json.find("\"test_accuracy\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(TrainCliTest, UserErrorsExitOneWithOneLine) {
  auto [rc, out] = run("train --dataset sign-mnist:/nonexistent/sign.csv --arch cnn-s --out /tmp/edgeq_never");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(count_lines(out), 1) << out;
  EXPECT_NE(out.find("/nonexistent/sign.csv"), std::string::npos) << out;
  auto [rc_arch, out_arch] = run("train --dataset fashion-mnist --arch vgg --out /tmp/edgeq_never");
  EXPECT_EQ(rc_arch, 1) << out_arch;
  auto [rc_help, help] = run("train --help");
  EXPECT_EQ(rc_help, 0);
  EXPECT_NE(help.find("--keep-batchnorm"), std::string::npos);
}
