// model_outputs: runs a model on its backend-test input and writes the outputs, or compares two such
// files: the aarch64 build (under qemu) against the x86 build on the same model (`make test-arm64`).
//   model_outputs run DIR OUT        DIR/model.onnx on DIR/test_data_set_0/input_*.pb -> OUT; prints
//                                    "int8 steps: K of N" (plan steps that are QLinearConv / QLinearMatMul /
//                                    QGemm kernels), so a caller can check an int8 model ran int8 kernels
//   model_outputs compare A B TOL    every output: same name, dtype, shape; floats |a - b| <= TOL * max(1, |a|)
//                                    (TOL 0: the same bits), everything else equal. Exit 1 on a difference.
// OUT: per output, a line "name dtype dims..." then its raw bytes (the machines agree on endianness).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "edgeq/onnx.h"
#include "edgeq/runtime.h"

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw edgeq::Error(edgeq::ErrorCode::kNotFound, path + ": cannot open");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

int run(const std::string& dir, const std::string& out_path) {
  const edgeq::runtime::Session session = edgeq::runtime::load_session(dir + "/model.onnx");
  std::vector<edgeq::Tensor> inputs;
  for (size_t i = 0; i < session.inputs().size(); ++i) {
    const std::string pb = dir + "/test_data_set_0/input_" + std::to_string(i) + ".pb";
    inputs.push_back(edgeq::onnx::parse_tensor_proto(read_bytes(pb), pb));
  }
  const std::vector<edgeq::Tensor> outputs = session.run(inputs);
  std::vector<edgeq::Shape> shapes;
  for (const edgeq::Tensor& t : inputs) shapes.push_back(t.shape());
  const edgeq::runtime::PlanInfo plan = session.plan_info(shapes);
  size_t int8_steps = 0;
  for (const std::string& label : plan.step_labels)
    for (const char* op : {"QLinearConv ", "QLinearMatMul ", "QGemm "})
      if (label.rfind(op, 0) == 0) ++int8_steps;
  std::ofstream out(out_path, std::ios::binary);
  for (size_t i = 0; i < outputs.size(); ++i) {
    out << session.outputs()[i].name << ' ' << edgeq::dtype_name(outputs[i].dtype());
    for (int64_t d : outputs[i].shape()) out << ' ' << d;
    out << '\n';
    out.write(static_cast<const char*>(outputs[i].raw()), static_cast<std::streamsize>(outputs[i].nbytes()));
  }
  if (!out.good()) throw edgeq::Error(edgeq::ErrorCode::kIo, out_path + ": write failed");
  std::printf("%s: %zu output(s) -> %s\nint8 steps: %zu of %zu\n", dir.c_str(), outputs.size(), out_path.c_str(),
              int8_steps, plan.steps);
  for (const std::string& label : plan.step_labels) std::printf("  %s\n", label.c_str());
  return 0;
}

struct Output {
  std::string header;  // name dtype dims
  std::string bytes;
};

std::vector<Output> parse(const std::string& path) {
  const std::string all = read_bytes(path);
  std::vector<Output> r;
  size_t at = 0;
  while (at < all.size()) {
    const size_t eol = all.find('\n', at);
    if (eol == std::string::npos) throw edgeq::Error(edgeq::ErrorCode::kInvalidArgument, path + ": truncated header");
    Output o;
    o.header = all.substr(at, eol - at);
    std::istringstream h(o.header);
    std::string name, dtype;
    h >> name >> dtype;
    size_t n = 1;
    for (int64_t d; h >> d;) n *= static_cast<size_t>(d);
    const size_t bytes = n * (dtype == "float32" || dtype == "int32" ? 4 : dtype == "int64" ? 8 : 1);
    if (eol + 1 + bytes > all.size()) throw edgeq::Error(edgeq::ErrorCode::kInvalidArgument, path + ": truncated data");
    o.bytes = all.substr(eol + 1, bytes);
    at = eol + 1 + bytes;
    r.push_back(std::move(o));
  }
  return r;
}

int compare(const std::string& a_path, const std::string& b_path, double tol) {
  const auto a = parse(a_path), b = parse(b_path);
  if (a.empty() || a.size() != b.size()) {
    std::printf("FAIL: %zu outputs in %s, %zu in %s\n", a.size(), a_path.c_str(), b.size(), b_path.c_str());
    return 1;
  }
  int status = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].header != b[i].header || a[i].bytes.size() != b[i].bytes.size()) {
      std::printf("FAIL: output %zu is [%s] vs [%s]\n", i, a[i].header.c_str(), b[i].header.c_str());
      status = 1;
      continue;
    }
    const bool is_float = a[i].header.find(" float32") != std::string::npos;
    size_t differ = 0;
    double worst = 0;
    if (is_float) {
      const size_t n = a[i].bytes.size() / 4;
      for (size_t k = 0; k < n; ++k) {
        float x, y;
        std::memcpy(&x, a[i].bytes.data() + 4 * k, 4);
        std::memcpy(&y, b[i].bytes.data() + 4 * k, 4);
        const double d = std::fabs(static_cast<double>(x) - y);
        worst = std::fmax(worst, d);
        if (std::memcmp(&x, &y, 4) != 0 && (tol == 0 || !(d <= tol * std::fmax(1.0, std::fabs(x))))) ++differ;
      }
    } else {
      differ = a[i].bytes == b[i].bytes ? 0 : 1;
    }
    const bool same_bits = a[i].bytes == b[i].bytes;
    std::printf("%s [%s]: %s, max |diff| %g\n", differ ? "FAIL" : "ok", a[i].header.c_str(),
                same_bits ? "identical bits" : (differ ? "differs" : "within tolerance"), worst);
    if (differ) status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc == 4 && std::strcmp(argv[1], "run") == 0) return run(argv[2], argv[3]);
    if (argc == 5 && std::strcmp(argv[1], "compare") == 0) return compare(argv[2], argv[3], std::atof(argv[4]));
  } catch (const edgeq::Error& e) {
    std::fprintf(stderr, "model_outputs: error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: model_outputs run DIR OUT | compare A B TOL\n");
  return 1;
}
