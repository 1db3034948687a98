// Static QDQ writer: QuantizeLinear/DequantizeLinear pairs around every quantized activation, int8
// weights stored as initializers behind a DequantizeLinear (per output channel by default), int32 bias
// with scale = input scale x weight scale. The layout follows onnxruntime's QDQ quantizer (consumers of a
// quantized tensor share one Q/DQ pair; Relu/Clip(0, x) after a quantized op are dropped and their range
// taken for the op's output, since Q with zero point at the bottom of the range clamps exactly like ReLU),
// so ORT's QDQ fusions and edgeq's int8 session compile see the groups they expect: DQ -> Conv -> Q.
#include <algorithm>
#include <cmath>

#include "quant/internal.h"
#include "runtime/int8_ops.h"

namespace edgeq::quant::detail {

namespace {

// The runtime's int8 table (runtime/int8_ops.inc) decides: Q/DQ go around the ops it computes on integers
// and through the ones that move codes, nowhere else (a QDQ group the runtime cannot fuse would only add
// a quantization step to a float op).
bool is_compute_op(const std::string& op) { return runtime::int8_op_kind(op) == runtime::Int8OpKind::kInteger; }

bool is_pass_through_op(const std::string& op) { return runtime::int8_op_kind(op) == runtime::Int8OpKind::kMove; }

// Ops that only carry shapes or pass a value on unchanged: left in fp32 without a warning.
bool is_bookkeeping_op(const std::string& op) {
  static const std::set<std::string> k = {"Shape", "Constant", "ConstantOfShape", "Dropout"};
  return k.count(op) != 0;
}

const Tensor* f32_initializer(const onnx::Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.dtype() == DType::kF32 ? &it->second : nullptr;
}

// Indices of a node's inputs that carry activations (to quantize with calibrated ranges).
std::vector<size_t> activation_inputs(const onnx::Node& n, const onnx::Graph& g) {
  std::vector<size_t> idx;
  if (n.op_type == "Add") {
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (!n.inputs[i].empty() && !g.is_initializer(n.inputs[i])) idx.push_back(i);
    return idx;
  }
  return {0};
}

// Relu, or Clip whose lower bound is exactly 0: Q with the range [0, x] reproduces it.
bool is_foldable_activation(const onnx::Node& n, const onnx::Graph& g, int64_t opset) {
  if (n.op_type == "Relu") return true;
  if (n.op_type != "Clip") return false;
  if (opset < 11) return n.attr_float("min", -1.f) == 0.f;
  if (n.inputs.size() < 2 || n.inputs[1].empty()) return false;
  const Tensor* lo = f32_initializer(g, n.inputs[1]);
  return lo && lo->numel() == 1 && lo->data<float>()[0] == 0.f;
}

// Why a node stays fp32, or "" when it can be quantized.
std::string float_reason(const onnx::Node& n, const onnx::Graph& g) {
  if (!n.domain.empty()) return "operator of domain " + n.domain;
  if (!is_compute_op(n.op_type) && !is_pass_through_op(n.op_type)) return "no int8 form in edgeq";
  if ((n.op_type == "Conv" || n.op_type == "Gemm") && (n.inputs.size() < 2 || !f32_initializer(g, n.inputs[1])))
    return "weight is not a float32 initializer";
  if (n.op_type == "MaxPool" && n.outputs.size() > 1 && !n.outputs[1].empty()) return "MaxPool with indices";
  for (size_t i : activation_inputs(n, g))
    if (i >= n.inputs.size() || !is_float_value(g, n.inputs[i])) return "input is not float32";
  if (activation_inputs(n, g).empty()) return "no activation input";
  return "";
}

}  // namespace

StaticPlan plan_static(const onnx::Model& prepared, const QuantizeOptions& options, const std::set<std::string>& excluded) {
  const auto& g = prepared.graph;
  const int64_t opset = prepared.opset("") ? prepared.opset("") : onnx::kMaxOpset;
  StaticPlan plan;
  plan.roles.assign(g.nodes.size(), Role::kFloat);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& n = g.nodes[i];
    if (excluded.count(n.name)) continue;
    const std::string why = float_reason(n, g);
    if (!why.empty()) {
      if (!is_bookkeeping_op(n.op_type) && !is_foldable_activation(n, g, opset))
        plan.warnings.push_back(n.label() + " left in fp32: " + why);
      continue;
    }
    plan.roles[i] = is_pass_through_op(n.op_type) ? Role::kPassThrough : Role::kCompute;
  }
  // Fold Relu/Clip(0, x) into the quantized op before it, when nothing else reads the op's output.
  const onnx::GraphIndex ix(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& act = g.nodes[i];
    if (excluded.count(act.name) || !is_foldable_activation(act, g, opset) || act.inputs.empty()) continue;
    const std::string& x = act.inputs[0];
    const int64_t p = ix.producer(x);
    const bool output_kept_float = g.is_output(act.outputs[0]) && !options.quantize_outputs;
    if (p < 0 || plan.roles[static_cast<size_t>(p)] != Role::kCompute ||
        g.is_output(x) || ix.consumers(x).size() != 1 || output_kept_float || plan.folded_activation.count(static_cast<size_t>(p))) {
      if (plan.roles[i] == Role::kFloat)
        plan.warnings.push_back(act.label() + " left in fp32: cannot fold into the op before it");
      continue;
    }
    plan.roles[i] = Role::kFoldedActivation;
    plan.folded_activation[static_cast<size_t>(p)] = i;
  }
  // Tensors to quantize, in the order their Q/DQ pairs will be emitted.
  std::set<std::string> marked;
  auto mark = [&](const std::string& t, const std::string& source) {
    if (marked.insert(t).second) {
      plan.quantized.push_back(t);
      plan.range_source[t] = source;
    }
  };
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Role role = plan.roles[i];
    if (role != Role::kCompute && role != Role::kPassThrough) continue;
    const auto& n = g.nodes[i];
    for (size_t k : activation_inputs(n, g)) mark(n.inputs[k], n.inputs[k]);
    auto folded = plan.folded_activation.find(i);
    const std::string out = folded != plan.folded_activation.end() ? g.nodes[folded->second].outputs[0] : n.outputs[0];
    if (g.is_output(out) && !options.quantize_outputs) continue;
    // Pass-through ops move values without arithmetic: their output keeps the input's scale.
    mark(out, role == Role::kPassThrough ? plan.range_source.at(n.inputs[0]) : out);
  }
  return plan;
}

std::vector<std::string> quantizable_layers(const onnx::Model& prepared, const QuantizeOptions& options) {
  std::vector<std::string> layers;
  if (options.mode == Mode::kDynamic) {
    for (const auto& n : prepared.graph.nodes)
      if ((n.op_type == "MatMul" || n.op_type == "Gemm" || (options.include_conv && n.op_type == "Conv")) && n.inputs.size() > 1 &&
          f32_initializer(prepared.graph, n.inputs[1]))
        layers.push_back(n.name);
    return layers;
  }
  const StaticPlan plan = plan_static(prepared, options, {});
  for (size_t i = 0; i < plan.roles.size(); ++i)
    if (plan.roles[i] == Role::kCompute) layers.push_back(prepared.graph.nodes[i].name);
  return layers;
}

namespace {

class StaticWriter {
 public:
  StaticWriter(const onnx::Model& prepared, const QuantizeOptions& options, const std::map<std::string, Range>& ranges,
               const std::set<std::string>& excluded)
      : in_(prepared), options_(options), names_(prepared.graph) {
    plan_ = plan_static(prepared, options, excluded);
    for (const auto& t : plan_.quantized) {
      const std::string& source = plan_.range_source.at(t);
      auto it = ranges.find(source);
      if (it == ranges.end()) throw Error(ErrorCode::kInternal, "no calibrated range for tensor '" + source + "'");
      out_.activation_qparams[t] = activation_qparams(it->second, options.activation_type);
    }
    per_channel_ = options.per_channel;
    const int64_t opset = prepared.opset("");
    if (opset != 0 && opset < 10)
      throw Error(ErrorCode::kUnsupported, "opset " + std::to_string(opset) + " has no QuantizeLinear (needs opset >= 10)");
    if (per_channel_ && opset != 0 && opset < 13) {
      per_channel_ = false;
      out_.warnings.push_back("opset " + std::to_string(opset) + " < 13 has no per-channel DequantizeLinear: weights quantized per tensor");
    }
  }

  WrittenModel write() {
    const auto& g = in_.graph;
    out_.model = in_;
    auto& og = out_.model.graph;
    og.nodes.clear();
    og.value_info.clear();  // stale: names and dtypes change; shape inference refills it
    out_.warnings.insert(out_.warnings.end(), plan_.warnings.begin(), plan_.warnings.end());
    for (const auto& vi : g.inputs)
      if (out_.activation_qparams.count(vi.name)) emit_qdq(vi.name, vi.name);
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      const Role role = plan_.roles[i];
      if (role == Role::kFoldedActivation) continue;
      onnx::Node n = g.nodes[i];
      auto folded = plan_.folded_activation.find(i);
      if (folded != plan_.folded_activation.end()) n.outputs[0] = g.nodes[folded->second].outputs[0];
      for (auto& input : n.inputs) {
        auto it = out_.dequantized.find(input);
        if (it != out_.dequantized.end()) input = it->second;
      }
      LayerReport layer{n.name, n.op_type, role != Role::kFloat, 0, 0, ""};
      if (role == Role::kCompute) quantize_constants(n, layer);
      if (role == Role::kFloat) layer.note = "fp32";
      if (folded != plan_.folded_activation.end()) layer.note = "followed by " + g.nodes[folded->second].label() + ", folded into its output range";
      if (!(role == Role::kFloat && is_bookkeeping_op(n.op_type))) out_.layers.push_back(layer);
      // A quantized graph output keeps its name on the DequantizeLinear; the op writes a new name.
      std::vector<std::pair<std::string, std::string>> to_emit;
      for (auto& o : n.outputs) {
        if (!out_.activation_qparams.count(o)) continue;
        // Only when outputs are quantized on purpose: a graph output that is quantized because a
        // quantized op also reads it keeps its fp32 value; the readers get the DequantizeLinear's.
        if (g.is_output(o) && options_.quantize_outputs) {
          const std::string raw = names_.fresh(o + "_prequant");
          to_emit.emplace_back(o, raw);
          o = raw;
        } else {
          to_emit.emplace_back(o, o);
        }
      }
      og.nodes.push_back(std::move(n));
      for (const auto& [tensor, value] : to_emit) emit_qdq(tensor, value);
    }
    onnx::make_dead_code_elimination()->run(out_.model);
    out_.model.graph.sort_topologically();
    return std::move(out_);
  }

 private:
  // Q(value) -> DQ, the DequantizeLinear output standing for `tensor` from now on.
  void emit_qdq(const std::string& tensor, const std::string& value) {
    const QParams& qp = out_.activation_qparams.at(tensor);
    auto& og = out_.model.graph;
    const std::string scale = names_.fresh(tensor + "_scale"), zp = names_.fresh(tensor + "_zero_point");
    og.initializers[scale] = scale_tensor(qp);
    og.initializers[zp] = zero_point_tensor(qp);
    const std::string q = names_.fresh(tensor + "_quantized");
    // A graph output (value renamed to *_prequant) keeps its name on the DequantizeLinear.
    const std::string dq = value != tensor ? tensor : names_.fresh(tensor + "_dequantized");
    og.nodes.push_back({names_.fresh(tensor + "_QuantizeLinear"), "QuantizeLinear", "", {value, scale, zp}, {q}, {}, ""});
    og.nodes.push_back({names_.fresh(tensor + "_DequantizeLinear"), "DequantizeLinear", "", {q, scale, zp}, {dq}, {}, ""});
    out_.dequantized[tensor] = dq;
  }

  // Stores `w` quantized (int8 or the activation type) and returns the DequantizeLinear output.
  std::string emit_constant(const std::string& name, const Tensor& w, const QParams& qp, bool with_zero_point) {
    auto& og = out_.model.graph;
    const std::string key = name + "/" + std::to_string(qp.axis) + "/" + dtype_name(qp.dtype) + "/" + std::to_string(qp.scale[0]);
    if (auto it = constant_cache_.find(key); it != constant_cache_.end()) return it->second;
    const std::string q = names_.fresh(name + "_quantized"), scale = names_.fresh(name + "_scale");
    og.initializers[q] = quantize_tensor(w, qp);
    og.initializers[scale] = scale_tensor(qp);
    std::vector<std::string> inputs{q, scale};
    if (with_zero_point) {
      const std::string zp = names_.fresh(name + "_zero_point");
      og.initializers[zp] = zero_point_tensor(qp);
      inputs.push_back(zp);
    }
    onnx::Node dq{names_.fresh(name + "_DequantizeLinear"), "DequantizeLinear", "", inputs, {names_.fresh(name + "_dequantized")}, {}, ""};
    if (qp.axis >= 0) dq.set_attr(onnx::Attribute::make_int("axis", qp.axis));
    og.nodes.push_back(dq);
    constant_cache_[key] = dq.outputs[0];
    return dq.outputs[0];
  }

  void quantize_constants(onnx::Node& n, LayerReport& layer) {
    const auto& g = in_.graph;
    const bool has_weight = n.op_type == "Conv" || n.op_type == "Gemm" || (n.op_type == "MatMul" && f32_initializer(g, n.inputs[1]));
    if (has_weight) {
      const std::string wname = n.inputs[1];
      const Tensor& w = *f32_initializer(g, wname);
      int64_t axis = -1;
      if (per_channel_) {
        if (n.op_type == "Conv") axis = 0;
        else if (n.op_type == "Gemm") axis = n.attr_int("transB", 0) ? 0 : 1;
        else if (w.rank() == 2) axis = 1;  // MatMul B is [K, N]: one scale per output column
      }
      if (axis >= w.rank()) axis = -1;
      const QParams wq = weight_qparams(w, axis);
      const Tensor back = dequantize_tensor(quantize_tensor(w, wq), wq);
      layer.weight_sqnr_db = sqnr_db({w.data<float>(), static_cast<size_t>(w.numel())}, {back.data<float>(), static_cast<size_t>(back.numel())});
      n.inputs[1] = emit_constant(wname, w, wq, true);
      quantize_bias(n, wq);
      return;
    }
    // Constant operands of Add/Concat/MatMul: quantized like activations, over their own min/max.
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const Tensor* c = f32_initializer(g, n.inputs[k]);
      if (!c) continue;
      Range r{0.f, 0.f};
      for (int64_t i = 0; i < c->numel(); ++i) {
        r.min = std::min(r.min, c->data<float>()[i]);
        r.max = std::max(r.max, c->data<float>()[i]);
      }
      n.inputs[k] = emit_constant(n.inputs[k], *c, activation_qparams(r, options_.activation_type), true);
    }
  }

  void quantize_bias(onnx::Node& n, const QParams& wq) {
    const auto& g = in_.graph;
    if (n.inputs.size() < 3 || n.inputs[2].empty()) return;
    const Tensor* b = f32_initializer(g, n.inputs[2]);
    if (!b || b->rank() != 1) return;
    const int64_t channels = static_cast<int64_t>(wq.scale.size()) > 1 ? static_cast<int64_t>(wq.scale.size()) : b->numel();
    if (b->numel() != channels) return;
    if (n.op_type == "Gemm" && (n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f)) return;
    auto it = out_.activation_qparams.find(original_input0(n));
    if (it == out_.activation_qparams.end()) return;
    const QParams bq = bias_qparams(it->second.scale[0], wq);
    // int32 bias DequantizeLinear without a zero point (0 by definition): some engines reject an int32 one.
    n.inputs[2] = emit_constant(n.inputs[2], *b, bq, false);
  }

  // The fp32 tensor a (possibly remapped) first input stands for.
  std::string original_input0(const onnx::Node& n) const {
    for (const auto& [tensor, dq] : out_.dequantized)
      if (dq == n.inputs[0]) return tensor;
    return n.inputs[0];
  }

  const onnx::Model& in_;
  const QuantizeOptions& options_;
  NameTable names_;
  StaticPlan plan_;
  bool per_channel_ = true;
  WrittenModel out_;
  std::map<std::string, std::string> constant_cache_;
};

}  // namespace

WrittenModel write_static(const onnx::Model& prepared, const QuantizeOptions& options, const std::map<std::string, Range>& ranges,
                          const std::set<std::string>& excluded) {
  return StaticWriter(prepared, options, ranges, excluded).write();
}

}  // namespace edgeq::quant::detail
