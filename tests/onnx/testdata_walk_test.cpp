// Walks every model in Debian's libonnx-testdata: each one the ONNX checker accepts must load and
// summarize in edgeq (what `edgeq inspect` prints). Counts are printed for the record.
#include <gtest/gtest.h>
#include <onnx/checker.h>

#include <filesystem>
#include <iostream>

#include "edgeq/onnx.h"

namespace edgeq {
namespace {

namespace fs = std::filesystem;
constexpr const char* kTestdata = "/usr/share/libonnx-testdata/data";

TEST(OnnxTestdata, EveryModelTheCheckerAcceptsLoadsAndSummarizes) {
  if (!fs::exists(kTestdata)) GTEST_SKIP() << kTestdata << " missing (install libonnx-testdata via scripts/setup)";
  int total = 0, accepted = 0, loaded = 0;
  std::vector<std::string> failures;
  for (const auto& e : fs::recursive_directory_iterator(kTestdata)) {
    if (e.path().extension() != ".onnx") continue;
    ++total;
    try {
      ::onnx::checker::check_model(e.path().string());
    } catch (const std::exception&) {
      continue;  // not a valid model by ONNX's own checker: out of scope
    }
    ++accepted;
    try {
      onnx::Model m = onnx::load_model(e.path().string());
      auto s = onnx::summarize(m, static_cast<int64_t>(fs::file_size(e.path())));
      EXPECT_EQ(s.node_count, static_cast<int64_t>(m.graph.nodes.size()));
      ++loaded;
    } catch (const Error& err) {
      failures.push_back(err.what());
    }
  }
  std::cout << "[testdata] models: " << total << ", accepted by the ONNX checker: " << accepted
            << ", loaded and summarized by edgeq: " << loaded << "\n";
  for (const auto& f : failures) std::cout << "  FAILED: " << f << "\n";
  EXPECT_GT(accepted, 900);
  EXPECT_EQ(loaded, accepted);
}

}  // namespace
}  // namespace edgeq
