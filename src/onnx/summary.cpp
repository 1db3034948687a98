// summarize(): what `edgeq inspect` reports — I/O, op histogram, parameters, MACs, quantization format.
#include <set>

#include "edgeq/onnx.h"

namespace edgeq::onnx {
namespace {

// Product of dims with unknown (symbolic) dims taken as 1: MACs are per batch item.
int64_t known_product(const Shape& s, size_t from = 0) {
  int64_t p = 1;
  for (size_t i = from; i < s.size(); ++i) p *= s[i] > 0 ? s[i] : 1;
  return p;
}

std::optional<Shape> shape_of(const Graph& g, const std::string& name) {
  auto v = g.find_value(name);
  if (!v || !v->has_shape) return std::nullopt;
  return v->shape;
}

// Input slot of the weight (Conv-like) or left operand (MatMul-like) for each costed op.
int64_t macs_of(const Graph& g, const Node& n) {
  const std::string& op = n.op_type;
  if (n.outputs.empty()) return 0;
  auto out = shape_of(g, n.outputs[0]);
  if (!out) return 0;
  if (op == "Conv" || op == "ConvInteger" || op == "QLinearConv") {
    size_t w_slot = op == "QLinearConv" ? 3 : 1;
    if (n.inputs.size() <= w_slot) return 0;
    auto w = shape_of(g, n.inputs[w_slot]);
    if (!w || w->size() < 2) return 0;
    return known_product(*out) * known_product(*w, 1);
  }
  if (op == "Gemm" || op == "QGemm") {
    auto a = shape_of(g, n.inputs[0]);
    if (!a || a->size() != 2) return 0;
    int64_t k = n.attr_int("transA", 0) ? (*a)[0] : (*a)[1];
    return known_product(*out) * (k > 0 ? k : 1);
  }
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    auto a = shape_of(g, n.inputs[0]);
    if (!a || a->empty()) return 0;
    int64_t k = a->back();
    return known_product(*out) * (k > 0 ? k : 1);
  }
  return 0;
}

}  // namespace

ModelSummary summarize(const Model& model, int64_t file_bytes) {
  ModelSummary s;
  s.path = model.source_path;
  s.file_bytes = file_bytes;
  s.ir_version = model.ir_version;
  for (const auto& [d, v] : model.opset_imports) s.opsets[d.empty() ? "ai.onnx" : d] = v;
  s.producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  s.inputs = model.graph.inputs;
  s.outputs = model.graph.outputs;
  s.metadata = model.metadata;
  s.node_count = static_cast<int64_t>(model.graph.nodes.size());
  std::set<std::string> formats;
  for (const auto& n : model.graph.nodes) {
    s.op_histogram[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type]++;
    const std::string& op = n.op_type;
    if (op == "QuantizeLinear" || op == "DequantizeLinear") formats.insert("QDQ");
    if (op.rfind("QLinear", 0) == 0 || op == "QGemm") formats.insert("QOperator");
    if (op == "MatMulInteger" || op == "ConvInteger" || op == "DynamicQuantizeLinear") formats.insert("IntegerOps");
    int64_t macs = macs_of(model.graph, n);
    if (macs > 0 || op == "Conv" || op == "Gemm" || op == "MatMul" || op == "QLinearConv" || op == "QLinearMatMul" ||
        op == "ConvInteger" || op == "MatMulInteger") {
      s.costs.push_back({n.name, op, macs});
      s.total_macs += macs;
    }
  }
  s.quant_formats.assign(formats.begin(), formats.end());
  s.quantized = !formats.empty();
  for (const auto& [name, t] : model.graph.initializers) {
    s.param_count += t.numel();
    s.param_count_by_dtype[dtype_name(t.dtype())] += t.numel();
    s.param_bytes_by_dtype[dtype_name(t.dtype())] += static_cast<int64_t>(t.nbytes());
  }
  return s;
}

}  // namespace edgeq::onnx
