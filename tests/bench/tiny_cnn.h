// A tiny cnn-s written the way train's exporter writes it (src/train/exporter.cpp): graph
// "edgeq_cnn-s", initializers named after the layers ("conv1.weight", ...), metadata "arch", input
// "input" [batch, 1, 8, 8], output "logits" [batch, classes]. Built without LibTorch so the bench tests
// need none; the PyTorch peer recognizes it by the same keys it reads from a real export.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>

#include "edgeq/onnx.h"

namespace edgeq::bench::testing {

inline Tensor random_tensor(Shape shape, std::mt19937& rng, float scale) {
  Tensor t(DType::kF32, std::move(shape));
  std::uniform_real_distribution<float> u(-scale, scale);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// `arch_metadata` false: the same graph with no "arch" key and a foreign graph name, which the
// PyTorch peer must refuse as an unknown architecture.
inline onnx::Model tiny_cnn_s(uint32_t seed, int64_t classes = 3, bool arch_metadata = true) {
  using onnx::Attribute;
  std::mt19937 rng(seed);
  onnx::Model m;
  m.opset_imports[""] = 17;
  m.producer_name = "edgeq-test";
  m.graph.name = arch_metadata ? "edgeq_cnn-s" : "foreign";
  if (arch_metadata) m.metadata = {{"arch", "cnn-s"}};
  onnx::ValueInfo in;
  in.name = "input";
  in.dtype = DType::kF32;
  in.has_shape = true;
  in.shape = {-1, 1, 8, 8};
  in.dim_params = {"batch", "", "", ""};
  m.graph.inputs.push_back(in);
  auto& init = m.graph.initializers;
  init["conv1.weight"] = random_tensor({16, 1, 3, 3}, rng, 0.5f);
  init["conv1.bias"] = random_tensor({16}, rng, 0.1f);
  init["conv2.weight"] = random_tensor({32, 16, 3, 3}, rng, 0.2f);
  init["conv2.bias"] = random_tensor({32}, rng, 0.1f);
  init["fc1.weight"] = random_tensor({128, 128}, rng, 0.1f);
  init["fc1.bias"] = random_tensor({128}, rng, 0.1f);
  init["fc2.weight"] = random_tensor({classes, 128}, rng, 0.1f);
  init["fc2.bias"] = random_tensor({classes}, rng, 0.1f);
  const std::vector<Attribute> conv = {Attribute::make_ints("kernel_shape", {3, 3}), Attribute::make_ints("pads", {1, 1, 1, 1}),
                                       Attribute::make_ints("strides", {1, 1})};
  const std::vector<Attribute> pool = {Attribute::make_ints("kernel_shape", {2, 2}), Attribute::make_ints("strides", {2, 2})};
  auto& n = m.graph.nodes;
  n.push_back({"conv1", "Conv", "", {"input", "conv1.weight", "conv1.bias"}, {"conv1_out"}, conv, ""});
  n.push_back({"relu1", "Relu", "", {"conv1_out"}, {"relu1_out"}, {}, ""});
  n.push_back({"pool1", "MaxPool", "", {"relu1_out"}, {"pool1_out"}, pool, ""});
  n.push_back({"conv2", "Conv", "", {"pool1_out", "conv2.weight", "conv2.bias"}, {"conv2_out"}, conv, ""});
  n.push_back({"relu2", "Relu", "", {"conv2_out"}, {"relu2_out"}, {}, ""});
  n.push_back({"pool2", "MaxPool", "", {"relu2_out"}, {"pool2_out"}, pool, ""});
  n.push_back({"flatten", "Flatten", "", {"pool2_out"}, {"flatten_out"}, {Attribute::make_int("axis", 1)}, ""});
  n.push_back({"fc1", "Gemm", "", {"flatten_out", "fc1.weight", "fc1.bias"}, {"fc1_out"}, {Attribute::make_int("transB", 1)}, ""});
  n.push_back({"relu3", "Relu", "", {"fc1_out"}, {"relu3_out"}, {}, ""});
  n.push_back({"fc2", "Gemm", "", {"relu3_out", "fc2.weight", "fc2.bias"}, {"logits"}, {Attribute::make_int("transB", 1)}, ""});
  onnx::ValueInfo out;
  out.name = "logits";
  out.dtype = DType::kF32;
  out.has_shape = true;
  out.shape = {-1, classes};
  out.dim_params = {"batch", ""};
  m.graph.outputs.push_back(out);
  return m;
}

// A cnn-s whose answer is known: the predicted class is the quadrant (0 top-left, 1 top-right,
// 2 bottom-left, 3 bottom-right) of the 8x8 input that holds its largest pixel, and each logit is
// that quadrant's maximum, for inputs >= 0. conv1/conv2 pass channel 0 through (a centred 1 in the
// 3x3 kernel), the two 2x2 max-pools reduce each quadrant to its maximum (features 0..3 after
// Flatten), fc1 passes those four through and fc2 maps feature c to class c.
inline onnx::Model quadrant_cnn_s() {
  onnx::Model m = tiny_cnn_s(1, 4);
  auto zero = [&](const std::string& name) -> Tensor& {
    Tensor& t = m.graph.initializers.at(name);
    std::fill_n(t.data<float>(), t.numel(), 0.0f);
    return t;
  };
  for (const char* bias : {"conv1.bias", "conv2.bias", "fc1.bias", "fc2.bias"}) zero(bias);
  zero("conv1.weight").data<float>()[4] = 1.0f;  // [out 0][in 0][1][1]
  zero("conv2.weight").data<float>()[4] = 1.0f;
  Tensor& fc1 = zero("fc1.weight");  // [128, 128]
  Tensor& fc2 = zero("fc2.weight");  // [4, 128]
  for (int64_t c = 0; c < 4; ++c) {
    fc1.data<float>()[c * 128 + c] = 1.0f;
    fc2.data<float>()[c * 128 + c] = 1.0f;
  }
  return m;
}

}  // namespace edgeq::bench::testing
