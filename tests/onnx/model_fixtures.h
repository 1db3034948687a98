// Test fixtures: small models built in memory with the IR (no files committed).
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>

#include "edgeq/onnx.h"

namespace edgeq::test {

inline Tensor random_f32(Shape shape, uint32_t seed) {
  Tensor t(DType::kF32, std::move(shape));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

inline onnx::ValueInfo tensor_value(std::string name, DType dt, Shape shape, std::vector<std::string> params = {}) {
  onnx::ValueInfo v;
  v.name = std::move(name);
  v.dtype = dt;
  v.has_shape = true;
  v.shape = std::move(shape);
  v.dim_params = params.empty() ? std::vector<std::string>(v.shape.size(), "") : std::move(params);
  return v;
}

// input [N,1,8,8] -> Conv(4 filters 3x3, pad 1) -> Relu -> Flatten -> Gemm(256 -> 10) -> logits [N,10]
inline onnx::Model small_cnn() {
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.producer_name = "edgeq-test";
  m.graph.name = "small_cnn";
  m.graph.inputs.push_back(tensor_value("input", DType::kF32, {-1, 1, 8, 8}, {"batch", "", "", ""}));
  m.graph.outputs.push_back(tensor_value("logits", DType::kF32, {-1, 10}, {"batch", ""}));
  m.graph.initializers["conv.w"] = random_f32({4, 1, 3, 3}, 1);
  m.graph.initializers["conv.b"] = random_f32({4}, 2);
  m.graph.initializers["fc.w"] = random_f32({10, 256}, 3);
  m.graph.initializers["fc.b"] = random_f32({10}, 4);
  onnx::Node conv{"conv", "Conv", "", {"input", "conv.w", "conv.b"}, {"c"}, {}, ""};
  conv.set_attr(onnx::Attribute::make_ints("pads", {1, 1, 1, 1}));
  conv.set_attr(onnx::Attribute::make_ints("kernel_shape", {3, 3}));
  onnx::Node relu{"relu", "Relu", "", {"c"}, {"r"}, {}, ""};
  onnx::Node flat{"flatten", "Flatten", "", {"r"}, {"f"}, {}, ""};
  onnx::Node gemm{"fc", "Gemm", "", {"f", "fc.w", "fc.b"}, {"logits"}, {}, ""};
  gemm.set_attr(onnx::Attribute::make_int("transB", 1));
  m.graph.nodes = {conv, relu, flat, gemm};
  m.metadata = {{"labels", "a,b,c,d,e,f,g,h,i,j"}, {"mean", "0.5"}};
  return m;
}

// A fresh directory under the build tree for one test.
inline std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("edgeq_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

}  // namespace edgeq::test
