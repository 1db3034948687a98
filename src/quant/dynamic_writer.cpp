// Dynamic writer, the layout of onnxruntime's quantize_dynamic: weights stored int8, activations
// quantized at run time by DynamicQuantizeLinear (uint8), integer MatMul/Conv, then back to float:
//   x -> DynamicQuantizeLinear -> MatMulInteger(x_q, W_q, x_zp, W_zp) -> Cast -> Mul(x_scale * W_scale) [-> Add bias]
// ConvInteger gets uint8 weights (asymmetric, per tensor): onnxruntime implements it for u8 x u8 only.
#include <algorithm>

#include "quant/internal.h"

namespace edgeq::quant::detail {

namespace {

const Tensor* f32_initializer(const onnx::Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.dtype() == DType::kF32 ? &it->second : nullptr;
}

Tensor transpose_2d(const Tensor& w) {
  const int64_t rows = w.shape()[0], cols = w.shape()[1];
  Tensor t(DType::kF32, Shape{cols, rows});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t.data<float>()[c * rows + r] = w.data<float>()[r * cols + c];
  return t;
}

class DynamicWriter {
 public:
  DynamicWriter(const onnx::Model& prepared, const QuantizeOptions& options, const std::set<std::string>& excluded)
      : in_(prepared), options_(options), excluded_(excluded), names_(prepared.graph) {}

  WrittenModel write() {
    const auto& g = in_.graph;
    out_.model = in_;
    auto& og = out_.model.graph;
    og.nodes.clear();
    og.value_info.clear();
    const int64_t opset = out_.model.opset("");
    if (opset != 0 && opset < 11)
      throw Error(ErrorCode::kUnsupported, "opset " + std::to_string(opset) + " has no DynamicQuantizeLinear (dynamic mode needs opset >= 11)");
    for (const auto& n : g.nodes) {
      std::string why = reason_float(n);
      if (!why.empty()) {
        og.nodes.push_back(n);
        if (n.op_type == "MatMul" || n.op_type == "Gemm" || n.op_type == "Conv") {
          out_.layers.push_back({n.name, n.op_type, false, 0, 0, why});
          if (why != "excluded" && why != "Conv needs --include-conv")
            out_.warnings.push_back(n.label() + " left in fp32: " + why);
        }
        continue;
      }
      LayerReport layer{n.name, n.op_type, true, 0, 0, ""};
      if (n.op_type == "Conv") write_conv(n, layer);
      else write_matmul(n, layer);
      out_.layers.push_back(layer);
    }
    onnx::make_dead_code_elimination()->run(out_.model);
    out_.model.graph.sort_topologically();
    return std::move(out_);
  }

 private:
  std::string reason_float(const onnx::Node& n) const {
    const auto& g = in_.graph;
    if (n.op_type != "MatMul" && n.op_type != "Gemm" && n.op_type != "Conv") return "not a MatMul/Gemm/Conv";
    if (!n.domain.empty()) return "domain " + n.domain;
    if (excluded_.count(n.name)) return "excluded";
    if (n.op_type == "Conv" && !options_.include_conv) return "Conv needs --include-conv";
    if (n.inputs.size() < 2 || !f32_initializer(g, n.inputs[1])) return "weight is not a float32 initializer";
    if (!is_float_value(g, n.inputs[0])) return "input is not float32";
    const Tensor& w = *f32_initializer(g, n.inputs[1]);
    if (n.op_type != "Conv" && w.rank() != 2) return "weight is not 2-D";
    if (n.op_type == "Gemm" && n.attr_int("transA", 0) != 0) return "Gemm with transA";
    return "";
  }

  struct DynamicInput {
    std::string q, scale, zero_point;
  };

  // One DynamicQuantizeLinear per activation, shared by all its integer consumers.
  const DynamicInput& dynamic_input(const std::string& x) {
    auto it = dynamic_.find(x);
    if (it != dynamic_.end()) return it->second;
    DynamicInput d{names_.fresh(x + "_quantized"), names_.fresh(x + "_scale"), names_.fresh(x + "_zero_point")};
    out_.model.graph.nodes.push_back({names_.fresh(x + "_DynamicQuantizeLinear"), "DynamicQuantizeLinear", "", {x}, {d.q, d.scale, d.zero_point}, {}, ""});
    return dynamic_.emplace(x, d).first->second;
  }

  std::string add_initializer(const std::string& base, Tensor t) {
    const std::string name = names_.fresh(base);
    out_.model.graph.initializers[name] = std::move(t);
    return name;
  }

  // Cast(int32 -> float) then Mul by x_scale * w_scale; returns the scaled value's name.
  std::string rescale(const onnx::Node& n, const std::string& acc, const DynamicInput& x, const std::string& w_scale, const std::string& out) {
    auto& nodes = out_.model.graph.nodes;
    const std::string cast = names_.fresh(n.outputs[0] + "_cast"), scale = names_.fresh(n.outputs[0] + "_scale");
    onnx::Node c{names_.fresh(n.name + "_Cast"), "Cast", "", {acc}, {cast}, {}, ""};
    c.set_attr(onnx::Attribute::make_int("to", static_cast<int64_t>(DType::kF32)));
    nodes.push_back(c);
    nodes.push_back({names_.fresh(n.name + "_scales_mul"), "Mul", "", {x.scale, w_scale}, {scale}, {}, ""});
    nodes.push_back({names_.fresh(n.name + "_output_mul"), "Mul", "", {cast, scale}, {out}, {}, ""});
    return out;
  }

  void write_matmul(const onnx::Node& n, LayerReport& layer) {
    const auto& g = in_.graph;
    const Tensor& w_in = *f32_initializer(g, n.inputs[1]);
    const bool gemm = n.op_type == "Gemm";
    const Tensor w = gemm && n.attr_int("transB", 0) ? transpose_2d(w_in) : w_in;  // MatMulInteger wants [K, N]
    QParams wq = weight_qparams(w, options_.per_channel ? 1 : -1);
    const Tensor wq_tensor = quantize_tensor(w, wq);
    const Tensor back = dequantize_tensor(wq_tensor, wq);
    layer.weight_sqnr_db = sqnr_db({w.data<float>(), static_cast<size_t>(w.numel())}, {back.data<float>(), static_cast<size_t>(back.numel())});
    const float alpha = gemm ? n.attr_float("alpha", 1.f) : 1.f;
    QParams scaled = wq;
    for (auto& s : scaled.scale) s *= alpha;  // Gemm's alpha rides on the weight scale
    const DynamicInput& x = dynamic_input(n.inputs[0]);
    const std::string wq_name = add_initializer(n.inputs[1] + "_quantized", wq_tensor);
    const std::string wzp = add_initializer(n.inputs[1] + "_zero_point", zero_point_tensor(wq));
    const std::string wscale = add_initializer(n.inputs[1] + "_scale", scale_tensor(scaled));
    const std::string acc = names_.fresh(n.outputs[0] + "_int32");
    out_.model.graph.nodes.push_back({names_.fresh(n.name + "_MatMulInteger"), "MatMulInteger", "", {x.q, wq_name, x.zero_point, wzp}, {acc}, {}, ""});
    const bool has_bias = gemm && n.inputs.size() > 2 && !n.inputs[2].empty();
    const std::string scaled_out = has_bias ? names_.fresh(n.outputs[0] + "_nobias") : n.outputs[0];
    rescale(n, acc, x, wscale, scaled_out);
    if (!has_bias) return;
    std::string bias = n.inputs[2];
    const float beta = n.attr_float("beta", 1.f);
    if (beta != 1.f) {
      const Tensor* c = f32_initializer(g, bias);
      if (!c) throw Error(ErrorCode::kUnsupported, n.label() + ": beta != 1 with a non-constant C");
      Tensor cb = c->clone();
      for (int64_t i = 0; i < cb.numel(); ++i) cb.data<float>()[i] *= beta;
      bias = add_initializer(bias + "_beta", cb);
    }
    out_.model.graph.nodes.push_back({names_.fresh(n.name + "_bias_add"), "Add", "", {scaled_out, bias}, {n.outputs[0]}, {}, ""});
  }

  void write_conv(const onnx::Node& n, LayerReport& layer) {
    const auto& g = in_.graph;
    const Tensor& w = *f32_initializer(g, n.inputs[1]);
    Range r{0.f, 0.f};
    for (int64_t i = 0; i < w.numel(); ++i) {
      r.min = std::min(r.min, w.data<float>()[i]);
      r.max = std::max(r.max, w.data<float>()[i]);
    }
    const QParams wq = activation_qparams(r, DType::kU8);
    const Tensor wq_tensor = quantize_tensor(w, wq);
    const Tensor back = dequantize_tensor(wq_tensor, wq);
    layer.weight_sqnr_db = sqnr_db({w.data<float>(), static_cast<size_t>(w.numel())}, {back.data<float>(), static_cast<size_t>(back.numel())});
    const DynamicInput& x = dynamic_input(n.inputs[0]);
    const std::string wq_name = add_initializer(n.inputs[1] + "_quantized", wq_tensor);
    const std::string wzp = add_initializer(n.inputs[1] + "_zero_point", zero_point_tensor(wq));
    const std::string wscale = add_initializer(n.inputs[1] + "_scale", scale_tensor(wq));
    const std::string acc = names_.fresh(n.outputs[0] + "_int32");
    onnx::Node conv{names_.fresh(n.name + "_ConvInteger"), "ConvInteger", "", {x.q, wq_name, x.zero_point, wzp}, {acc}, n.attrs, ""};
    out_.model.graph.nodes.push_back(conv);
    const bool has_bias = n.inputs.size() > 2 && !n.inputs[2].empty();
    const std::string scaled_out = has_bias ? names_.fresh(n.outputs[0] + "_nobias") : n.outputs[0];
    rescale(n, acc, x, wscale, scaled_out);
    if (!has_bias) return;
    const Tensor* b = f32_initializer(g, n.inputs[2]);
    if (!b) throw Error(ErrorCode::kUnsupported, n.label() + ": bias is not a float32 initializer");
    Shape bshape(static_cast<size_t>(w.rank()), 1);  // [1, M, 1, 1]: broadcast over N and the spatial dims
    bshape[1] = b->numel();
    const std::string bias = add_initializer(n.inputs[2] + "_broadcast", b->reshaped(bshape).clone());
    out_.model.graph.nodes.push_back({names_.fresh(n.name + "_bias_add"), "Add", "", {scaled_out, bias}, {n.outputs[0]}, {}, ""});
  }

  const onnx::Model& in_;
  const QuantizeOptions& options_;
  const std::set<std::string>& excluded_;
  NameTable names_;
  WrittenModel out_;
  std::map<std::string, DynamicInput> dynamic_;
};

}  // namespace

WrittenModel write_dynamic(const onnx::Model& prepared, const QuantizeOptions& options, const std::set<std::string>& excluded) {
  return DynamicWriter(prepared, options, excluded).write();
}

}  // namespace edgeq::quant::detail
