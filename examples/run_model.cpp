// run_model: the smallest program on the runtime core (edgeq_rt) alone: load an ONNX file, feed
// every input with zeros, run, print each output's shape and first values. It links nothing but edgeq_rt, Highway and pthreads; its size and start-up are
// what an embedder pays (docs/performance.md).
//   run_model MODEL.onnx [--threads N] [--runs N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "edgeq/runtime.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fprintf(stderr, "usage: run_model MODEL.onnx [--threads N] [--runs N]\n");
    return argc < 2 ? 1 : 0;
  }
  edgeq::runtime::SessionOptions options;
  int runs = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") options.threads = std::atoi(argv[i + 1]);
    else if (flag == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "run_model: error: unknown flag %s\n", flag.c_str());
      return 1;
    }
  }
  try {
    const edgeq::runtime::Session session = edgeq::runtime::load_session(argv[1], options);
    std::vector<edgeq::Tensor> inputs;
    for (const auto& in : session.inputs()) {
      edgeq::Shape shape = in.shape;
      for (auto& d : shape) d = d < 0 ? 1 : d;  // open dims (batch) run at 1
      inputs.emplace_back(in.dtype, shape);
      if (inputs.back().nbytes()) std::memset(inputs.back().raw(), 0, inputs.back().nbytes());
    }
    std::vector<edgeq::Tensor> outputs;
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < runs; ++r) outputs = session.run(inputs);
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() / runs;
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::printf("%s %s %s", session.outputs()[i].name.c_str(), edgeq::dtype_name(outputs[i].dtype()),
                  edgeq::shape_str(outputs[i].shape()).c_str());
      if (outputs[i].dtype() == edgeq::DType::kF32)
        for (int64_t k = 0; k < std::min<int64_t>(outputs[i].numel(), 4); ++k) std::printf(" %g", outputs[i].data<float>()[k]);
      std::printf("\n");
    }
    std::printf("mean run: %.1f us over %d run(s)\n", us, runs);
  } catch (const edgeq::Error& e) {
    std::fprintf(stderr, "run_model: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
