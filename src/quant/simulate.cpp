// Reference simulator: a node-by-node interpreter over the runtime's fp32 operators (through
// runtime::evaluate_node, the same kernels a Session runs) plus the quantization operators, written
// from the ONNX definitions. It is the oracle for QDQ and IntegerOps files: slow (every node compiles
// a one-node plan) but with no fusion or layout choice between it and the spec.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeq/runtime.h"
#include "quant/internal.h"

namespace edgeq::quant {

namespace {

int32_t int_at(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kU8: return t.data<uint8_t>()[i];
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kI32: return t.data<int32_t>()[i];
    default: throw Error(ErrorCode::kInvalidModel, std::string("zero point of dtype ") + dtype_name(t.dtype()));
  }
}

// QParams of a QuantizeLinear/DequantizeLinear node from its scale/zero-point inputs.
QParams node_qparams(const onnx::Node& n, const Tensor& scale, const Tensor* zp, DType dtype, int64_t rank) {
  QParams qp;
  qp.dtype = dtype;
  if (scale.dtype() != DType::kF32) throw Error(ErrorCode::kInvalidModel, n.label() + ": scale is not float32");
  qp.scale.assign(scale.data<float>(), scale.data<float>() + scale.numel());
  for (int64_t i = 0; i < scale.numel(); ++i) qp.zero_point.push_back(zp ? int_at(*zp, i) : 0);
  if (zp && zp->numel() != scale.numel()) throw Error(ErrorCode::kInvalidModel, n.label() + ": scale and zero point sizes differ");
  // One scale is per tensor whatever its rank; a longer 1-D scale runs along `axis` (default 1).
  if (scale.numel() > 1) {
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    qp.axis = axis;
  }
  return qp;
}

Tensor run_quantize_linear(const onnx::Node& n, const std::vector<Tensor>& in) {
  const Tensor* zp = in.size() > 2 && !in[2].empty() ? &in[2] : nullptr;
  return quantize_tensor(in[0], node_qparams(n, in[1], zp, zp ? zp->dtype() : DType::kU8, in[0].rank()));
}

Tensor run_dequantize_linear(const onnx::Node& n, const std::vector<Tensor>& in) {
  const Tensor* zp = in.size() > 2 && !in[2].empty() ? &in[2] : nullptr;
  return dequantize_tensor(in[0], node_qparams(n, in[1], zp, in[0].dtype(), in[0].rank()));
}

// ONNX DynamicQuantizeLinear: uint8, range extended to contain 0, zero point rounded and saturated.
std::vector<Tensor> run_dynamic_quantize_linear(const Tensor& x) {
  float lo = 0.f, hi = 0.f;
  for (int64_t i = 0; i < x.numel(); ++i) {
    lo = std::min(lo, x.data<float>()[i]);
    hi = std::max(hi, x.data<float>()[i]);
  }
  QParams qp;
  qp.dtype = DType::kU8;
  const float scale = (hi - lo) / 255.f;
  qp.scale = {scale == 0.f ? 1.f : scale};
  const float zp = std::clamp(std::nearbyint(0.f - lo / qp.scale[0]), 0.f, 255.f);
  qp.zero_point = {static_cast<int32_t>(zp)};
  Tensor s(DType::kF32, Shape{});
  s.data<float>()[0] = scale;
  Tensor z(DType::kU8, Shape{});
  z.data<uint8_t>()[0] = static_cast<uint8_t>(zp);
  return {quantize_tensor(x, qp), s, z};
}

// ONNX MatMulInteger with a 2-D B: int32 accumulation of (a - a_zp) * (b - b_zp[col]).
Tensor run_matmul_integer(const onnx::Node& n, const std::vector<Tensor>& in) {
  const Tensor &a = in[0], &b = in[1];
  if (a.rank() < 1 || b.rank() != 2) throw Error(ErrorCode::kUnsupported, n.label() + ": simulator supports a 2-D B only");
  const int64_t k = b.shape()[0], cols = b.shape()[1];
  if (a.shape().back() != k) throw Error(ErrorCode::kInvalidModel, n.label() + ": inner dimensions differ");
  const int64_t rows = a.numel() / k;
  const int32_t a_zp = in.size() > 2 && !in[2].empty() ? int_at(in[2], 0) : 0;
  std::vector<int32_t> b_zp(static_cast<size_t>(cols), 0);
  if (in.size() > 3 && !in[3].empty())
    for (int64_t c = 0; c < cols; ++c) b_zp[static_cast<size_t>(c)] = int_at(in[3], in[3].numel() == 1 ? 0 : c);
  Shape out_shape = a.shape();
  out_shape.back() = cols;
  Tensor y(DType::kI32, out_shape);
  std::vector<int32_t> arow(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i) arow[static_cast<size_t>(i)] = int_at(a, r * k + i) - a_zp;
    for (int64_t c = 0; c < cols; ++c) {
      int64_t acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += static_cast<int64_t>(arow[static_cast<size_t>(i)]) * (int_at(b, i * cols + c) - b_zp[static_cast<size_t>(c)]);
      y.data<int32_t>()[r * cols + c] = static_cast<int32_t>(acc);
    }
  }
  return y;
}

Tensor to_float_minus_zp(const Tensor& q, const Tensor* zp, int64_t channel_axis) {
  Tensor f(DType::kF32, q.shape());
  const int64_t channels = zp && zp->numel() > 1 ? q.shape()[static_cast<size_t>(channel_axis)] : 1;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(channel_axis) + 1; d < q.shape().size(); ++d) inner *= q.shape()[d];
  for (int64_t i = 0; i < q.numel(); ++i) {
    const int64_t c = channels > 1 ? (i / inner) % channels : 0;
    f.data<float>()[i] = static_cast<float>(int_at(q, i) - (zp ? int_at(*zp, c) : 0));
  }
  return f;
}

// ConvInteger as a float Conv over (x - x_zp) and (w - w_zp). Exact while every partial sum stays below
// 2^24 (255 * 255 * K for K < 258 terms); beyond that it is within float rounding, which is fine for an oracle.
Tensor run_conv_integer(const onnx::Node& n, const std::vector<Tensor>& in, int64_t opset) {
  const Tensor x = to_float_minus_zp(in[0], in.size() > 2 && !in[2].empty() ? &in[2] : nullptr, 1);
  const Tensor w = to_float_minus_zp(in[1], in.size() > 3 && !in[3].empty() ? &in[3] : nullptr, 0);
  onnx::Node conv = n;
  conv.op_type = "Conv";
  conv.inputs = {n.inputs[0], n.inputs[1]};
  auto out = runtime::evaluate_node(conv, {x, w}, opset);
  if (!out) throw Error(ErrorCode::kUnsupported, n.label() + ": the runtime could not run the equivalent float Conv");
  const Tensor& yf = (*out)[0];
  Tensor y(DType::kI32, yf.shape());
  for (int64_t i = 0; i < y.numel(); ++i) y.data<int32_t>()[i] = static_cast<int32_t>(std::nearbyint(yf.data<float>()[i]));
  return y;
}

std::optional<Tensor> run_cast_to_float(const onnx::Node& n, const Tensor& x) {
  if (n.attr_int("to", 0) != static_cast<int64_t>(DType::kF32)) return std::nullopt;
  if (x.dtype() != DType::kI32 && x.dtype() != DType::kU8 && x.dtype() != DType::kI8) return std::nullopt;
  Tensor y(DType::kF32, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) y.data<float>()[i] = static_cast<float>(int_at(x, i));
  return y;
}

}  // namespace

std::vector<Tensor> simulate(const onnx::Model& model, const std::vector<Tensor>& inputs, const std::vector<std::string>& extra) {
  const auto& g = model.graph;
  const int64_t opset = model.opset("") ? model.opset("") : onnx::kMaxOpset;
  if (inputs.size() != g.inputs.size())
    throw Error(ErrorCode::kInvalidArgument, "simulate: model takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                                                 std::to_string(inputs.size()));
  std::map<std::string, Tensor> values(g.initializers.begin(), g.initializers.end());
  for (size_t i = 0; i < inputs.size(); ++i) values[g.inputs[i].name] = inputs[i];
  // Remaining readers per value, so intermediate tensors are dropped as soon as they are dead.
  std::map<std::string, int64_t> readers;
  for (const auto& n : g.nodes)
    for (const auto& s : n.inputs) ++readers[s];
  std::set<std::string> keep;
  for (const auto& o : g.outputs) keep.insert(o.name);
  keep.insert(extra.begin(), extra.end());
  for (size_t idx : g.topological_order()) {
    const auto& n = g.nodes[idx];
    std::vector<Tensor> in;
    for (const auto& s : n.inputs) {
      if (s.empty()) {
        in.emplace_back();
        continue;
      }
      auto it = values.find(s);
      if (it == values.end()) throw Error(ErrorCode::kInvalidModel, n.label() + ": input '" + s + "' has no value");
      in.push_back(it->second);
    }
    std::vector<Tensor> out;
    if (n.domain.empty() && n.op_type == "QuantizeLinear") out = {run_quantize_linear(n, in)};
    else if (n.domain.empty() && n.op_type == "DequantizeLinear") out = {run_dequantize_linear(n, in)};
    else if (n.domain.empty() && n.op_type == "DynamicQuantizeLinear") out = run_dynamic_quantize_linear(in.at(0));
    else if (n.domain.empty() && n.op_type == "MatMulInteger") out = {run_matmul_integer(n, in)};
    else if (n.domain.empty() && n.op_type == "ConvInteger") out = {run_conv_integer(n, in, opset)};
    else {
      std::optional<Tensor> cast;
      if (n.op_type == "Cast" && n.domain.empty()) cast = run_cast_to_float(n, in.at(0));
      if (cast) {
        out = {*cast};
      } else {
        auto r = runtime::evaluate_node(n, in, opset);
        if (!r) throw Error(ErrorCode::kUnsupported, n.label() + ": the simulator cannot run this node");
        out = std::move(*r);
      }
    }
    for (size_t k = 0; k < n.outputs.size() && k < out.size(); ++k)
      if (!n.outputs[k].empty()) values[n.outputs[k]] = std::move(out[k]);
    for (const auto& s : n.inputs)
      if (!s.empty() && --readers[s] == 0 && !keep.count(s) && !g.is_initializer(s)) values.erase(s);
  }
  std::vector<Tensor> result;
  auto take = [&](const std::string& name) {
    auto it = values.find(name);
    if (it == values.end()) throw Error(ErrorCode::kNotFound, "simulate: value '" + name + "' was not computed");
    result.push_back(it->second);
  };
  for (const auto& o : g.outputs) take(o.name);
  for (const auto& e : extra) take(e);
  return result;
}

detail::ModelRunner::ModelRunner(const onnx::Model& model, std::vector<std::string> extra)
    : model_(model), extra_(std::move(extra)) {
  runtime::SessionOptions options;
  const auto& inputs = model.graph.inputs;
  for (const auto& e : extra_) {
    const auto input = std::find_if(inputs.begin(), inputs.end(), [&](const auto& v) { return v.name == e; });
    // A graph input is no value the Session computes: run() hands the caller's tensor back.
    if (input != inputs.end()) extra_input_.push_back(static_cast<int>(input - inputs.begin()));
    else {
      extra_input_.push_back(-1);
      options.extra_outputs.push_back(e);
    }
  }
  try {
    session_ = std::make_unique<runtime::Session>(model, options);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kUnsupported) throw;
  }
}

detail::ModelRunner::~ModelRunner() = default;

std::vector<Tensor> detail::ModelRunner::run(const std::vector<Tensor>& inputs) const {
  if (!session_) return simulate(model_, inputs, extra_);
  std::vector<Tensor> computed = session_->run(inputs);
  std::vector<Tensor> out(computed.begin(), computed.begin() + static_cast<std::ptrdiff_t>(model_.graph.outputs.size()));
  size_t next = model_.graph.outputs.size();
  for (int input : extra_input_) out.push_back(input >= 0 ? inputs.at(static_cast<size_t>(input)) : computed.at(next++));
  return out;
}

double top1_accuracy(const onnx::Model& model, const std::vector<Tensor>& inputs, const std::vector<std::vector<int64_t>>& labels) {
  if (inputs.size() != labels.size()) throw Error(ErrorCode::kInvalidArgument, "top1_accuracy: batches and label lists differ in count");
  const detail::ModelRunner runner(model);
  int64_t correct = 0, total = 0;
  for (size_t b = 0; b < inputs.size(); ++b) {
    const Tensor logits = runner.run(std::vector<Tensor>{inputs[b]})[0];
    if (logits.rank() != 2 || logits.shape()[0] != static_cast<int64_t>(labels[b].size()) || logits.dtype() != DType::kF32)
      throw Error(ErrorCode::kInvalidArgument, "top1_accuracy: output is " + shape_str(logits.shape()) + ", expected [" +
                                                   std::to_string(labels[b].size()) + ", classes] float32");
    const int64_t classes = logits.shape()[1];
    for (int64_t i = 0; i < logits.shape()[0]; ++i) {
      const float* row = logits.data<float>() + i * classes;
      const int64_t best = std::max_element(row, row + classes) - row;
      correct += best == labels[b][static_cast<size_t>(i)];
      ++total;
    }
  }
  return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0;
}

}  // namespace edgeq::quant
