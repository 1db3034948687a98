// Model preparation and small helpers shared by the writers.
#include <algorithm>

#include "edgeq/runtime.h"
#include "quant/internal.h"

namespace edgeq::quant {

void check_not_quantized(const onnx::Model& model) {
  static const std::set<std::string> kQuantOps = {
      "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "MatMulInteger",
      "ConvInteger",    "QLinearAdd",       "QLinearMul",            "QGemm",       "QLinearConcat", "QLinearAveragePool",
      "QLinearGlobalAveragePool", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"};
  const std::string where = model.source_path.empty() ? std::string("model") : model.source_path;
  for (const auto& n : model.graph.nodes)
    if (kQuantOps.count(n.op_type))
      throw Error(ErrorCode::kInvalidModel, where + " is already quantized (" + n.label() +
                                                "); quantize the fp32 model instead");
  for (const auto& [name, t] : model.graph.initializers)
    if (t.dtype() == DType::kI8 || t.dtype() == DType::kU8)
      throw Error(ErrorCode::kInvalidModel, where + " is already quantized (initializer '" + name + "' is " +
                                                dtype_name(t.dtype()) + "); quantize the fp32 model instead");
}

namespace detail {

onnx::Model prepare_fp32(const onnx::Model& model) {
  onnx::Model m = model;
  const int64_t opset = m.opset("") ? m.opset("") : onnx::kMaxOpset;
  onnx::PassManager pm;
  pm.add(onnx::make_constant_folding(
      [opset](const onnx::Node& n, const std::vector<Tensor>& in) { return runtime::evaluate_node(n, in, opset); }));
  pm.add(runtime::make_batchnorm_folding());
  pm.add(onnx::make_dead_code_elimination());
  pm.run(m);
  m.graph.sort_topologically();
  NameTable names(m.graph);
  std::set<std::string> node_names;
  for (auto& n : m.graph.nodes) {
    if (n.name.empty() || node_names.count(n.name)) n.name = names.fresh(n.op_type + "_" + std::to_string(node_names.size()));
    node_names.insert(n.name);
  }
  return m;
}

NameTable::NameTable(const onnx::Graph& g) {
  for (const auto& v : g.inputs) used_.insert(v.name);
  for (const auto& v : g.outputs) used_.insert(v.name);
  for (const auto& [name, t] : g.initializers) used_.insert(name);
  for (const auto& n : g.nodes) {
    used_.insert(n.name);
    for (const auto& s : n.inputs) used_.insert(s);
    for (const auto& s : n.outputs) used_.insert(s);
  }
}

std::string NameTable::fresh(const std::string& base) {
  std::string name = base;
  for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_.insert(name);
  return name;
}

Tensor scalar_f32(float v) {
  Tensor t(DType::kF32, Shape{});
  t.data<float>()[0] = v;
  return t;
}

Tensor scale_tensor(const QParams& qp) {
  if (qp.axis < 0) return scalar_f32(qp.scale.at(0));
  return Tensor::from_f32(Shape{static_cast<int64_t>(qp.scale.size())}, qp.scale);
}

Tensor zero_point_tensor(const QParams& qp) {
  const Shape shape = qp.axis < 0 ? Shape{} : Shape{static_cast<int64_t>(qp.zero_point.size())};
  Tensor t(qp.dtype, shape);
  for (size_t i = 0; i < qp.zero_point.size(); ++i) {
    if (qp.dtype == DType::kU8) t.data<uint8_t>()[i] = static_cast<uint8_t>(qp.zero_point[i]);
    else if (qp.dtype == DType::kI8) t.data<int8_t>()[i] = static_cast<int8_t>(qp.zero_point[i]);
    else t.data<int32_t>()[i] = qp.zero_point[i];
  }
  return t;
}

bool is_float_value(const onnx::Graph& g, const std::string& name) {
  if (name.empty()) return false;
  auto it = g.initializers.find(name);
  if (it != g.initializers.end()) return it->second.dtype() == DType::kF32;
  const auto vi = g.find_value(name);
  return !vi || vi->dtype == DType::kF32 || vi->dtype == DType::kUndefined;
}

}  // namespace detail
}  // namespace edgeq::quant
