// A small helper to build ONNX graphs in memory for runtime tests.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "edgeq/onnx.h"

namespace edgeq::testing {

class GraphBuilder {
 public:
  explicit GraphBuilder(int64_t opset = 17);
  GraphBuilder& input(const std::string& name, Shape shape, DType dtype = DType::kF32);
  GraphBuilder& output(const std::string& name, DType dtype = DType::kF32);
  GraphBuilder& init(const std::string& name, Tensor t);
  // Random normal initializer (fixed seed per builder) scaled by `scale`.
  GraphBuilder& random_init(const std::string& name, Shape shape, float scale = 0.3f);
  GraphBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     std::vector<onnx::Attribute> attrs = {}, const std::string& name = "");
  onnx::Model build() const { return model_; }

 private:
  onnx::Model model_;
  std::mt19937 rng_{7767517};
};

Tensor random_tensor(Shape shape, uint32_t seed, float scale = 1.f);
float max_abs_diff(const Tensor& a, const Tensor& b);

}  // namespace edgeq::testing
