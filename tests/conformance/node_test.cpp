// Runs every ONNX backend node test in /usr/share/libonnx-testdata/data/node whose operators are all
// in the runtime's table, at the ONNX backend runner's fp32 tolerances (rtol 1e-3, atol 1e-7).
// Prints passed / failed / unsupported counts; fails when a test of a supported operator fails and is
// not listed with a reason in tests/conformance/exceptions.txt.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "edgeq/onnx.h"
#include "edgeq/runtime.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kNodeTestDir = "/usr/share/libonnx-testdata/data/node";

std::map<std::string, std::string> read_exceptions() {
  std::map<std::string, std::string> r;
  std::ifstream in(std::string(EDGEQ_SOURCE_DIR) + "/tests/conformance/exceptions.txt");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name, reason;
    ls >> name;
    std::getline(ls, reason);
    if (!name.empty()) r[name] = reason;
  }
  return r;
}

struct Tally {
  std::vector<std::string> passed, failed, excused, unsupported;
  std::set<std::string> ops_passed;  // operators appearing in at least one passing test
};

Tally run_all(int threads, bool channels_last) {
  Tally t;
  const auto supported_list = edgeq::runtime::supported_ops();
  const std::set<std::string> supported(supported_list.begin(), supported_list.end());
  const auto exceptions = read_exceptions();
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kNodeTestDir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  edgeq::runtime::VerifyOptions opt;
  opt.threads = threads;
  opt.channels_last = channels_last;
  for (const auto& dir : dirs) {
    const std::string name = dir.filename().string();
    // Operators come from the file itself: a test is "of a supported op" when all its nodes are.
    bool all_supported = true;
    std::set<std::string> ops;
    try {
      edgeq::onnx::ReadOptions ro;
      ro.allow_unknown_domains = true;
      const auto model = edgeq::onnx::read_model((dir / "model.onnx").string(), ro);
      for (const auto& n : model.graph.nodes) {
        if (!n.domain.empty() || !supported.count(n.op_type)) all_supported = false;
        ops.insert(n.op_type);
      }
    } catch (const edgeq::Error& e) {
      all_supported = false;  // sequences, optionals, ...: types edgeq does not load
    }
    if (!all_supported) {
      t.unsupported.push_back(name);
      continue;
    }
    const auto r = edgeq::runtime::verify_test_dir(dir.string(), opt);
    if (r.status == edgeq::runtime::VerifyResult::Status::kPassed) {
      t.passed.push_back(name);
      t.ops_passed.insert(ops.begin(), ops.end());
    } else if (r.status == edgeq::runtime::VerifyResult::Status::kUnsupported) {
      t.unsupported.push_back(name + " (" + r.message.substr(r.message.find("- ") == std::string::npos ? 0 : r.message.find("- ") + 2) + ")");
    } else if (exceptions.count(name)) {
      t.excused.push_back(name + ":" + exceptions.at(name));
    } else {
      std::string detail = r.message;
      for (const auto& o : r.outputs)
        if (!o.ok) detail += "; " + o.data_set + "/" + o.name + " max abs " + std::to_string(o.max_abs_error) + " " + o.problem;
      t.failed.push_back(name + ": " + detail);
    }
  }
  return t;
}

void report(const Tally& t, const char* config) {
  std::cout << "[" << config << "] passed " << t.passed.size() << ", failed " << t.failed.size() << ", excused "
            << t.excused.size() << ", unsupported " << t.unsupported.size() << "\n";
  for (const auto& f : t.failed) std::cout << "  FAILED " << f << "\n";
  for (const auto& f : t.excused) std::cout << "  excused " << f << "\n";
  if (std::getenv("EDGEQ_CONFORMANCE_VERBOSE"))
    for (const auto& u : t.unsupported) std::cout << "  unsupported " << u << "\n";
}

TEST(ConformanceNode, AllSupportedOperatorTestsPass) {
  if (!fs::exists(kNodeTestDir)) GTEST_SKIP() << kNodeTestDir << " missing: install Debian's libonnx-testdata";
  const Tally t = run_all(1, true);
  report(t, "1 thread, channels-last");
  EXPECT_TRUE(t.failed.empty()) << t.failed.size() << " node tests of supported operators failed";
  // A floor so that a runtime that silently reports everything unsupported cannot pass.
  EXPECT_GE(t.passed.size(), 250u);
  // Every operator in the table (ops.inc) is exercised by at least one passing node test.
  for (const auto& op : edgeq::runtime::supported_ops())
    EXPECT_TRUE(t.ops_passed.count(op)) << op << " is in the runtime's table but no ONNX node test of it passed";
}

// Same tests through the plain-layout paths and with two threads (other kernels, other splits).
TEST(ConformanceNode, PlainLayoutTwoThreads) {
  if (!fs::exists(kNodeTestDir)) GTEST_SKIP() << kNodeTestDir << " missing: install Debian's libonnx-testdata";
  const Tally t = run_all(2, false);
  report(t, "2 threads, plain layout");
  EXPECT_TRUE(t.failed.empty()) << t.failed.size() << " node tests of supported operators failed";
  EXPECT_GE(t.passed.size(), 250u);
}

}  // namespace
