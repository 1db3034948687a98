// Runs an ONNX model with edgeq's C++ API: load, describe, run, print each output.
// Usage: run_model MODEL.onnx [INPUT.bin]   (INPUT.bin: the first input's raw values; zeros without it)
#include <edgeq/runtime.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.onnx [INPUT.bin]\n", argv[0]);
    return 2;
  }
  try {
    edgeq::runtime::SessionOptions options;
    options.threads = 1;
    const edgeq::runtime::Session session = edgeq::runtime::load_session(argv[1], options);

    const edgeq::runtime::IoInfo& info = session.inputs().at(0);
    edgeq::Shape shape = info.shape;
    for (auto& d : shape) d = d < 0 ? 1 : d;  // open dims (a symbolic batch) run as 1
    edgeq::Tensor input(info.dtype, shape);  // zero-filled
    if (argc > 2) {
      std::ifstream file(argv[2], std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
      if (bytes.size() != input.nbytes()) {
        std::fprintf(stderr, "%s: %zu bytes, input '%s' needs %zu\n", argv[2], bytes.size(), info.name.c_str(), input.nbytes());
        return 1;
      }
      std::copy(bytes.begin(), bytes.end(), static_cast<char*>(input.raw()));
    }

    const std::vector<edgeq::Tensor> outputs = session.run({input});
    for (size_t i = 0; i < outputs.size(); ++i) {
      const edgeq::Tensor& out = outputs[i];
      std::printf("%s %s:", session.outputs()[i].name.c_str(), edgeq::shape_str(out.shape()).c_str());
      if (out.dtype() == edgeq::DType::kF32)
        for (int64_t k = 0; k < out.numel() && k < 16; ++k) std::printf(" %.9g", out.data<float>()[k]);
      std::printf("\n");
    }
  } catch (const edgeq::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
