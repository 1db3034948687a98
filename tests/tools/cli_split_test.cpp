// The CLI is two programs (tools/edgeq/commands.h): edgeq never loads LibTorch, edgeq-torch has the
// LibTorch verbs and `edgeq train` execs it. These tests fail when LibTorch creeps back into edgeq (a
// link dependency, direct or transitive), when the forwarder stops passing arguments through
// unchanged, or when an installation without edgeq-torch stops saying how to get it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/tiny_cnn.h"
#include "edgeq/core.h"
#include "edgeq/onnx.h"
#include "run_command.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;

const char* const kMissing =
    "edgeq: error: train needs edgeq-torch (LibTorch), not built in this installation (configure with -DEDGEQ_WITH_TORCH=ON)\n";

std::string torch_binary() { return std::string(EDGEQ_BINARY_DIR) + "/bin/edgeq-torch"; }

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

// The shared libraries a binary names itself (readelf -d NEEDED), one per entry.
std::vector<std::string> needed(const std::string& binary) {
  const auto r = test::run_command("readelf -d '" + binary + "'");
  EXPECT_EQ(r.exit_code, 0) << "readelf -d " << binary;
  std::vector<std::string> libs;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("(NEEDED)") == std::string::npos) continue;
    const size_t open = line.find('['), close = line.find(']');
    if (open != std::string::npos && close > open) libs.push_back(line.substr(open + 1, close - open - 1));
  }
  return libs;
}

bool mentions_torch(const std::string& text) {
  return text.find("torch") != std::string::npos || text.find("libc10") != std::string::npos;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("edgeq_cli_split_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

TEST(CliSplit, EdgeqLoadsNoLibTorchDirectlyOrTransitively) {
  const std::vector<std::string> libs = needed(test::edgeq_binary());
  ASSERT_FALSE(libs.empty()) << "readelf found no NEEDED entries: not a dynamic executable?";
  for (const auto& lib : libs) EXPECT_FALSE(mentions_torch(lib)) << lib;
  // Transitively: every library the loader would map (libonnx or protobuf must not pull LibTorch in).
  const auto ldd = test::run_command("ldd '" + test::edgeq_binary() + "'");
  ASSERT_EQ(ldd.exit_code, 0);
  EXPECT_FALSE(mentions_torch(ldd.output)) << ldd.output;
  EXPECT_EQ(ldd.output.find("libgomp"), std::string::npos) << "LibTorch's OpenMP runtime:\n" << ldd.output;
}

TEST(CliSplit, HelpListsTrainButNotTheHiddenBenchPeer) {
  const auto r = test::run_command(test::edgeq_binary() + " --help");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Train a reference CNN with LibTorch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("predict"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("bench-peer"), std::string::npos) << r.output;
}

#if EDGEQ_WITH_TORCH
TEST(CliSplit, EdgeqTorchLinksLibTorch) {
  const std::vector<std::string> libs = needed(torch_binary());
  const auto has = [&](const std::string& part) {
    return std::any_of(libs.begin(), libs.end(), [&](const std::string& l) { return l.find(part) != std::string::npos; });
  };
  EXPECT_TRUE(has("libtorch")) << "no libtorch*.so among edgeq-torch's NEEDED entries";
  EXPECT_TRUE(has("libc10")) << "no libc10.so among edgeq-torch's NEEDED entries";
  const auto r = test::run_command(torch_binary() + " --help");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("train"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("bench-peer"), std::string::npos) << "hidden verb listed:\n" << r.output;
}

// exec passes every argument through: --help reaches edgeq-torch's train verb, whose usage names the
// command the user typed.
TEST(CliSplit, TrainHelpIsTheLibTorchVerbsHelp) {
  const auto r = test::run_command(test::edgeq_binary() + " train --help 2>&1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("--arch"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--keep-batchnorm"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("edgeq train"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("edgeq-torch"), std::string::npos) << "usage should name edgeq, as typed:\n" << r.output;
}

TEST(CliSplit, TrainBadFlagOrValueExitsOneWithOneLine) {
  const auto flag = test::run_command(test::edgeq_binary() + " train --dataset fashion-mnist --arch cnn-s --out /tmp/never --no-such-flag 2>&1");
  EXPECT_EQ(flag.exit_code, 1) << flag.output;
  EXPECT_EQ(count_lines(flag.output), 1) << flag.output;
  EXPECT_EQ(flag.output.rfind("edgeq: error: ", 0), 0u) << flag.output;
  EXPECT_NE(flag.output.find("--no-such-flag"), std::string::npos) << flag.output;
  const auto value = test::run_command(test::edgeq_binary() + " train --dataset fashion-mnist --arch vgg --out /tmp/never 2>&1");
  EXPECT_EQ(value.exit_code, 1) << value.output;
  EXPECT_EQ(count_lines(value.output), 1) << value.output;
  EXPECT_NE(value.output.find("vgg"), std::string::npos) << value.output;
}

// The hidden verb edgeq bench runs: one model, the peers' JSON on stdout; a file that is not an edgeq
// export is a skipped model with the reason, not a failure.
TEST(CliSplit, BenchPeerPrintsThePeersJson) {
  TempDir dir;
  onnx::save_model(bench::testing::tiny_cnn_s(5), dir / "tiny.onnx");
  onnx::save_model(bench::testing::tiny_cnn_s(5, 3, /*arch_metadata=*/false), dir / "foreign.onnx");
  const auto ok = test::run_command(torch_binary() + " bench-peer " + (dir / "tiny.onnx") +
                                    " --warmup 1 --runs 4 --rounds 2 --batch-runs 2 --batches 1,3 2>/dev/null");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  const auto j = nlohmann::json::parse(ok.output);
  EXPECT_FALSE(j.at("torch_version").get<std::string>().empty());
  ASSERT_EQ(j.at("models").size(), 1u);
  const auto& m = j.at("models")[0];
  EXPECT_EQ(m.at("engine"), "libtorch-eager");
  ASSERT_EQ(m.at("status"), "ok") << m.dump();
  EXPECT_GT(m.at("session_ms").get<double>(), 0);
  EXPECT_GT(m.at("peak_rss_bytes").get<double>(), 0);
  ASSERT_EQ(m.at("batches").size(), 2u);
  EXPECT_EQ(m.at("batches")[0].at("batch"), 1);
  EXPECT_EQ(m.at("batches")[0].at("runs"), 4);
  EXPECT_EQ(m.at("batches")[1].at("batch"), 3);
  EXPECT_EQ(m.at("batches")[1].at("runs"), 2);
  const auto foreign = test::run_command(torch_binary() + " bench-peer " + (dir / "foreign.onnx") + " --runs 2 2>/dev/null");
  ASSERT_EQ(foreign.exit_code, 0) << foreign.output;
  const std::string status = nlohmann::json::parse(foreign.output).at("models")[0].at("status");
  EXPECT_EQ(status.rfind("skipped: ", 0), 0u) << status;
  EXPECT_NE(status.find("no 'arch' metadata"), std::string::npos) << status;
  const auto bad = test::run_command(torch_binary() + " bench-peer " + (dir / "tiny.onnx") + " --input /nonexistent/x.f32 2>&1");
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_EQ(count_lines(bad.output), 1) << bad.output;
}
#endif

// An installation without edgeq-torch (EDGEQ_WITH_TORCH=OFF, or the sibling deleted): edgeq alone in a
// directory. train says what is missing and how to get it; bench's libtorch row is skipped saying so.
TEST(CliSplit, WithoutTheSiblingTrainSaysHowToGetItAndBenchSkipsTheRow) {
  TempDir dir;
  fs::copy_file(test::edgeq_binary(), dir / "edgeq");
  for (const std::string args : {"train --dataset fashion-mnist --arch cnn-s --out /tmp/never", "train --help", "train"}) {
    const auto r = test::run_command(dir / "edgeq" + " " + args + " 2>&1");
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output, kMissing) << args;
  }
  const auto help = test::run_command(dir / "edgeq" + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("train"), std::string::npos) << help.output;
  onnx::save_model(bench::testing::tiny_cnn_s(5), dir / "tiny.onnx");
  const auto bench = test::run_command(dir / "edgeq" + " bench " + (dir / "tiny.onnx") +
                                       " --threads 1 --warmup 1 --runs 3 --rounds 1 --throughput-batch 0 --peers torch --quiet --json " +
                                       (dir / "r.json") + " 2>&1");
  ASSERT_EQ(bench.exit_code, 0) << bench.output;
  const auto j = nlohmann::json::parse(read_file(dir / "r.json"));
  int libtorch_rows = 0;
  for (const auto& row : j.at("rows")) {
    if (row.at("engine") != "libtorch-eager") continue;
    ++libtorch_rows;
    const std::string status = row.at("status");
    EXPECT_EQ(status, "skipped: edgeq-torch (LibTorch) is not built in this installation (configure with -DEDGEQ_WITH_TORCH=ON)");
  }
  EXPECT_EQ(libtorch_rows, 1) << j.at("rows").dump(1);
}

}  // namespace
}  // namespace edgeq
