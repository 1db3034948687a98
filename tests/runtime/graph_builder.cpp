#include "graph_builder.h"

#include <cmath>

namespace edgeq::testing {

GraphBuilder::GraphBuilder(int64_t opset) {
  model_.opset_imports[""] = opset;
  model_.graph.name = "test";
}

GraphBuilder& GraphBuilder::input(const std::string& name, Shape shape, DType dtype) {
  onnx::ValueInfo vi;
  vi.name = name;
  vi.dtype = dtype;
  vi.has_shape = true;
  vi.dim_params.assign(shape.size(), "");
  vi.shape = std::move(shape);
  model_.graph.inputs.push_back(vi);
  return *this;
}

GraphBuilder& GraphBuilder::output(const std::string& name, DType dtype) {
  onnx::ValueInfo vi;
  vi.name = name;
  vi.dtype = dtype;
  model_.graph.outputs.push_back(vi);
  return *this;
}

GraphBuilder& GraphBuilder::init(const std::string& name, Tensor t) {
  model_.graph.initializers[name] = std::move(t);
  return *this;
}

GraphBuilder& GraphBuilder::random_init(const std::string& name, Shape shape, float scale) {
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(rng_);
  return init(name, Tensor::from_f32(std::move(shape), v));
}

GraphBuilder& GraphBuilder::node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                                 std::vector<onnx::Attribute> attrs, const std::string& name) {
  onnx::Node n;
  n.op_type = op;
  n.name = name.empty() ? op + "_" + std::to_string(model_.graph.nodes.size()) : name;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  n.attrs = std::move(attrs);
  model_.graph.nodes.push_back(std::move(n));
  return *this;
}

Tensor random_tensor(Shape shape, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, scale);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (auto& x : v) x = dist(rng);
  return Tensor::from_f32(std::move(shape), v);
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != DType::kF32 || b.dtype() != DType::kF32) return INFINITY;
  float m = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return m;
}

}  // namespace edgeq::testing
