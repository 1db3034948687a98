// QDQ fusion: the runtime's int8 path. A QDQ model (what `edgeq quantize`, onnxruntime's quantizer and
// PyTorch write) computes in float between DequantizeLinear and QuantizeLinear pairs; this pass turns
// the groups an integer kernel computes exactly into integer nodes, as onnxruntime does:
//   DQ(x) , DQ(W) [, DQ(B)] -> Conv [-> Relu/Clip fused earlier] -> Q   =>  QLinearConv
//   DQ(x) , DQ(W) [, DQ(C)] -> Gemm [-> Relu/Clip]          -> Q or none  =>  com.microsoft QGemm (float out without Q)
//   DQ(a) , DQ(b) -> Add -> Q                                        =>  com.microsoft QLinearAdd
//   DQ(x) -> GlobalAveragePool -> Q                                   =>  com.microsoft QLinearGlobalAveragePool
//   DQ(x) -> MaxPool / Flatten / Reshape / ... (kMove in int8_ops.inc) -> Q with the same scale and
//   zero point  =>  the op on the quantized value (max and data movement commute with quantization)
//   DQ(x) -> Sigmoid / Tanh [-> Mul with DQ(x): SiLU / Swish] -> Q  =>  edgeq QLinearLookup: a function
//   of the 256 input codes, tabulated with the float kernels the unfused chain runs (the same bytes)
// Which operators: runtime/int8_ops.inc, the table the quantizer's writer reads too.
// so activations stay uint8 from one layer to the next. Groups that do not match stay in float (never
// dropped), and their DequantizeLinear of constant weights folds to float weights at compile time.
// Needs: activation fusion already run (a Relu between Conv and Q is an edgeq.activation attribute),
// scales and zero points as initializers (constant folding of Constant nodes already run), and
// DequantizeLinear left unfolded until this pass has seen it.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>

#include "edgeq/kernels.h"
#include "edgeq/runtime.h"
#include "runtime/graph_util.h"
#include "runtime/int8_ops.h"

namespace edgeq::runtime {

namespace {

using detail::erase_nodes;
using detail::initializer;
using onnx::GraphIndex;

// A DequantizeLinear or QuantizeLinear node (ai.onnx) with constant scale and zero point.
struct QNode {
  size_t index = 0;
  std::string value, scale, zero_point;  // value: the quantized input (DQ) or the float input (Q)
  const Tensor* scale_t = nullptr;
  const Tensor* zero_t = nullptr;  // nullptr when omitted
  int64_t axis = 1;
};

std::optional<QNode> as_qnode(const onnx::Graph& g, size_t i, const char* op) {
  const auto& n = g.nodes[i];
  if (n.op_type != op || !n.domain.empty() || n.inputs.size() < 2 || n.outputs.size() != 1) return std::nullopt;
  QNode q;
  q.index = i;
  q.value = n.inputs[0];
  q.scale = n.inputs[1];
  q.scale_t = initializer(g, q.scale);
  if (!q.scale_t || q.scale_t->dtype() != DType::kF32) return std::nullopt;
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    q.zero_point = n.inputs[2];
    q.zero_t = initializer(g, q.zero_point);
    if (!q.zero_t) return std::nullopt;
  }
  q.axis = n.attr_int("axis", 1);
  return q;
}

// The DequantizeLinear producing `value` (per-tensor unless per_axis_ok).
std::optional<QNode> dq_of(const GraphIndex& ix, const std::string& value, bool per_axis_ok) {
  const int64_t p = ix.producer(value);
  if (p < 0) return std::nullopt;
  auto q = as_qnode(ix.graph(), static_cast<size_t>(p), "DequantizeLinear");
  if (!q || (!per_axis_ok && q->scale_t->numel() != 1)) return std::nullopt;
  return q;
}

// The QuantizeLinear (per-tensor, uint8/int8) that is the only reader of `value`.
std::optional<QNode> sole_q_reader(const GraphIndex& ix, const std::string& value) {
  const int64_t c = ix.sole_consumer(value);
  if (c < 0) return std::nullopt;
  auto q = as_qnode(ix.graph(), static_cast<size_t>(c), "QuantizeLinear");
  if (!q || q->value != value || q->scale_t->numel() != 1) return std::nullopt;
  return q;
}

bool is_u8_or_s8(const Tensor* zero) { return !zero || zero->dtype() == DType::kU8 || zero->dtype() == DType::kI8; }

// A uint8 code with one zero point (or none: 0).
bool is_u8_per_tensor(const QNode& q) { return !q.zero_t || (q.zero_t->dtype() == DType::kU8 && q.zero_t->numel() == 1); }

int32_t zero_value(const Tensor* t) {
  if (!t) return 0;
  switch (t->dtype()) {
    case DType::kU8: return t->data<uint8_t>()[0];
    case DType::kI8: return t->data<int8_t>()[0];
    case DType::kI32: return t->data<int32_t>()[0];
    default: return INT32_MIN;  // never equal to a real zero point
  }
}

// Same scale and zero point (value and type): the quantized values mean the same reals.
bool same_params(const QNode& a, const QNode& b) {
  const DType da = a.zero_t ? a.zero_t->dtype() : DType::kU8, db = b.zero_t ? b.zero_t->dtype() : DType::kU8;
  return a.scale_t->data<float>()[0] == b.scale_t->data<float>()[0] && da == db && zero_value(a.zero_t) == zero_value(b.zero_t);
}

class QdqFusion final : public onnx::Pass {
 public:
  std::string name() const override { return "qdq-fusion"; }
  bool run(onnx::Model& model) override {
    auto& g = model.graph;
    GraphIndex ix(g);
    std::set<size_t> dead;
    const bool shifted = shift_int8_activations(g, ix);  // zero points only: the order stays valid
    bool moved = false, fused_product = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (dead.count(i)) continue;
      const onnx::Node& n = g.nodes[i];
      const std::string& op = n.op_type;
      std::vector<size_t> absorbed;
      if (!n.domain.empty()) continue;
      const Int8OpKind kind = int8_op_kind(op);
      if (op == "Conv" || op == "Gemm") {
        if (auto q = fuse_product(model, ix, i, &fused_product)) absorbed.push_back(*q);
      } else if (op == "Add" || op == "GlobalAveragePool") {
        if (auto q = fuse_pointwise(model, ix, i)) absorbed.push_back(*q);
      } else if (kind == Int8OpKind::kActivation) {
        if (auto r = absorb_relu(g, ix, i)) absorbed.push_back(*r);
      } else if (kind == Int8OpKind::kMove) {
        moved |= sink_dq(g, ix, i);
      } else if (op == "QuantizeLinear") {
        absorbed = cancel_pair(g, ix, i);
      } else if (op == "Sigmoid" || op == "Tanh") {
        absorbed = fuse_lookup(model, ix, i);
      }
      for (size_t d : absorbed)
        if (!dead.count(d)) dead.insert(d);
    }
    erase_nodes(g, dead);
    if (moved) g.sort_topologically();
    return shifted || moved || fused_product || !dead.empty();
  }

 private:
  // int8 activations become uint8 ones: a per-tensor QuantizeLinear to int8 whose every reader is a
  // DequantizeLinear with the same scale and zero point (and not a graph output) gets the zero point
  // zp + 128 as uint8, and so do its readers. Exact: saturate(round(x / s) + zp + 128) over [0, 255] is
  // the int8 code + 128, and DequantizeLinear subtracts the same 128 back, so every real value is
  // unchanged. onnxruntime's quantize_static writes int8 activations by default; the integer kernels
  // take uint8 (the int8 codes would run the plain loops, ~600x slower on cnn-m).
  static bool shift_int8_activations(onnx::Graph& g, GraphIndex& ix) {
    bool changed = false;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      auto q = as_qnode(g, i, "QuantizeLinear");
      if (!q || !q->zero_t || q->zero_t->dtype() != DType::kI8 || q->zero_t->numel() != 1 || q->scale_t->numel() != 1) continue;
      if (g.nodes[i].attr_int("saturate", 1) != 1) continue;
      const std::string& v = g.nodes[i].outputs[0];
      if (g.is_output(v)) continue;
      const std::set<size_t> readers = ix.consumers(v);
      bool all_dq = !readers.empty();
      for (size_t r : readers) {
        auto dq = as_qnode(g, r, "DequantizeLinear");
        all_dq = all_dq && dq && dq->value == v && dq->scale_t->numel() == 1 && same_params(*q, *dq);
      }
      if (!all_dq) continue;
      Tensor zp(DType::kU8, q->zero_t->shape());
      zp.data<uint8_t>()[0] = static_cast<uint8_t>(q->zero_t->data<int8_t>()[0] + 128);
      const std::string name = add_initializer(g, ix, q->zero_point + ".u8", std::move(zp));
      ix.edit(g, i, [&](onnx::Node& n) { n.inputs[2] = name; });
      for (size_t r : readers) ix.edit(g, r, [&](onnx::Node& n) { n.inputs[2] = name; });
      changed = true;
    }
    return changed;
  }

  // An initializer name for `t` (a zero point or an int32 bias the group needs).
  static std::string add_initializer(onnx::Graph& g, const GraphIndex& ix, const std::string& base, Tensor t) {
    const std::string n = ix.unique_name(base);
    g.initializers[n] = std::move(t);
    return n;
  }

  // The zero point input of a QNode, created (zeros of `dtype`, the scale's shape) when omitted.
  static std::string zero_point_name(onnx::Graph& g, const GraphIndex& ix, const QNode& q, DType dtype, const std::string& base) {
    if (!q.zero_point.empty()) return q.zero_point;
    Tensor z(dtype, q.scale_t->shape());
    std::memset(z.raw(), 0, z.nbytes());
    return add_initializer(g, ix, base + "_zero_point", std::move(z));
  }

  // Conv / Gemm between DequantizeLinear inputs and one QuantizeLinear reader (a Gemm: or none), rewritten
  // in place into QLinearConv / QGemm. Returns the index of the absorbed QuantizeLinear; sets *fused_any.
  static std::optional<size_t> fuse_product(onnx::Model& model, GraphIndex& ix, size_t i, bool* fused_any) {
    auto& g = model.graph;
    const onnx::Node& n = g.nodes[i];
    const bool conv = n.op_type == "Conv";
    if (n.inputs.size() < 2 || n.outputs.size() != 1) return std::nullopt;
    if (!conv && (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f || n.attr_float("beta", 1.f) != 1.f))
      return std::nullopt;
    // The integer epilogue clamps (Relu, Clip); any other fused activation (LeakyRelu, Silu) keeps the
    // group in float rather than running without it.
    if (const std::string act = n.attr_string("edgeq.activation", ""); !act.empty() && act != "Relu" && act != "Clip")
      return std::nullopt;
    auto x = dq_of(ix, n.inputs[0], false);
    auto w = dq_of(ix, n.inputs[1], true);
    auto y = sole_q_reader(ix, n.outputs[0]);
    // A Gemm whose output stays float (the classifier, when the logits are not quantized) becomes a QGemm
    // without y_scale, as onnxruntime's QDQ transformer makes it: int8 weights, float output.
    const bool float_out = !conv && !y;
    if (!x || !w || (!y && !float_out) || !is_u8_or_s8(x->zero_t) || (y && !is_u8_or_s8(y->zero_t))) return std::nullopt;
    const Tensor* wq = initializer(g, w->value);
    if (!wq || (wq->dtype() != DType::kI8 && wq->dtype() != DType::kU8) || wq->shape().size() < 2) return std::nullopt;
    // Per-channel weight scales must run along the output channels.
    const bool trans_b = n.attr_int("transB", 0) != 0;
    const int64_t rank = static_cast<int64_t>(wq->shape().size());
    const int64_t out_axis = conv || trans_b ? 0 : 1;
    const int64_t channels = wq->shape()[static_cast<size_t>(out_axis)];
    const int64_t ws_count = w->scale_t->numel();
    if (ws_count != 1 && (ws_count != channels || (w->axis < 0 ? w->axis + rank : w->axis) != out_axis)) return std::nullopt;
    // Bias: int32 at scale x_scale * w_scale[c] (what quantizers write), requantized if it is not.
    std::string bias;
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      // A DequantizeLinear of int32 values (quantizers' usual form), or a float bias (PyTorch's export).
      std::vector<double> real(static_cast<size_t>(channels));
      if (const Tensor* bf = initializer(g, n.inputs[2]); bf && bf->dtype() == DType::kF32 && bf->numel() == channels) {
        for (int64_t c = 0; c < channels; ++c) real[c] = bf->data<float>()[c];
      } else {
        auto b = dq_of(ix, n.inputs[2], true);
        const Tensor* bq = b ? initializer(g, b->value) : nullptr;
        if (!bq || bq->dtype() != DType::kI32 || bq->numel() != channels || (b->scale_t->numel() != 1 && b->scale_t->numel() != channels))
          return std::nullopt;
        for (int64_t c = 0; c < channels; ++c)
          real[c] = (static_cast<double>(bq->data<int32_t>()[c]) - zero_value(b->zero_t)) *
                    b->scale_t->data<float>()[b->scale_t->numel() == 1 ? 0 : c];
      }
      const float xs = x->scale_t->data<float>()[0];
      Tensor bias_t(DType::kI32, Shape{channels});
      for (int64_t c = 0; c < channels; ++c) {
        const double unit = static_cast<double>(xs) * w->scale_t->data<float>()[ws_count == 1 ? 0 : c];
        const double q = std::nearbyint(real[c] / unit);
        if (!(std::fabs(q) < 2147483647.0)) return std::nullopt;
        bias_t.data<int32_t>()[c] = static_cast<int32_t>(q);
      }
      bias = add_initializer(g, ix, n.inputs[2] + "_int32", std::move(bias_t));
    }
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    onnx::Node fused;
    fused.name = n.name;
    fused.op_type = conv ? "QLinearConv" : "QGemm";
    fused.domain = conv ? "" : "com.microsoft";
    const DType xdt = x->zero_t ? x->zero_t->dtype() : DType::kU8;
    const DType ydt = y && y->zero_t ? y->zero_t->dtype() : DType::kU8;
    fused.inputs = {x->value, x->scale, zero_point_name(g, ix, *x, xdt, base + ".x"),
                    w->value, w->scale, zero_point_name(g, ix, *w, wq->dtype(), base + ".w")};
    if (conv) {
      fused.inputs.insert(fused.inputs.end(), {y->scale, zero_point_name(g, ix, *y, ydt, base + ".y")});
      if (!bias.empty()) fused.inputs.push_back(bias);
    } else if (float_out) {
      fused.inputs.push_back(bias);
    } else {
      fused.inputs.insert(fused.inputs.end(), {bias, y->scale, zero_point_name(g, ix, *y, ydt, base + ".y")});
    }
    fused.outputs = {float_out ? n.outputs[0] : g.nodes[y->index].outputs[0]};
    for (const auto& a : n.attrs)
      if (conv || a.name == "transB" || a.name.rfind("edgeq.", 0) == 0) fused.attrs.push_back(a);
    if (!conv && !model.opset_imports.count("com.microsoft")) model.opset_imports["com.microsoft"] = 1;
    ix.edit(g, i, [&](onnx::Node& node) { node = std::move(fused); });
    *fused_any = true;
    if (float_out) return std::nullopt;  // nothing absorbed
    return y->index;
  }

  // DQ(a), DQ(b) -> Add -> Q and DQ(x) -> GlobalAveragePool -> Q, uint8 and per-tensor throughout, rewritten
  // in place into onnxruntime's com.microsoft QLinearAdd / QLinearGlobalAveragePool (the same arithmetic as
  // its kernels: the bytes onnxruntime gives on the same file). Returns the index of the absorbed Q.
  static std::optional<size_t> fuse_pointwise(onnx::Model& model, GraphIndex& ix, size_t i) {
    auto& g = model.graph;
    const onnx::Node& n = g.nodes[i];
    const bool add = n.op_type == "Add";
    if (n.inputs.size() != (add ? 2u : 1u) || n.outputs.size() != 1) return std::nullopt;
    std::vector<QNode> ins;
    for (const auto& in : n.inputs) {
      auto d = dq_of(ix, in, false);
      if (!d || !is_u8_per_tensor(*d)) return std::nullopt;
      ins.push_back(*d);
    }
    auto y = sole_q_reader(ix, n.outputs[0]);
    if (!y || !is_u8_per_tensor(*y)) return std::nullopt;
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    onnx::Node fused;
    fused.name = n.name;
    fused.op_type = add ? "QLinearAdd" : "QLinearGlobalAveragePool";
    fused.domain = "com.microsoft";
    for (size_t k = 0; k < ins.size(); ++k)
      fused.inputs.insert(fused.inputs.end(), {ins[k].value, ins[k].scale, zero_point_name(g, ix, ins[k], DType::kU8, base + ".x" + std::to_string(k))});
    fused.inputs.insert(fused.inputs.end(), {y->scale, zero_point_name(g, ix, *y, DType::kU8, base + ".y")});
    fused.outputs = {g.nodes[y->index].outputs[0]};
    if (!add) fused.attrs.push_back(onnx::Attribute::make_int("channels_last", 0));
    if (!model.opset_imports.count("com.microsoft")) model.opset_imports["com.microsoft"] = 1;
    ix.edit(g, i, [&](onnx::Node& node) { node = std::move(fused); });
    return y->index;
  }

  // DQ(x) -> f -> Q and DQ(x) -> f -> Mul(x, f(x)) -> Q with f = Sigmoid or Tanh (EfficientNet's SiLU
  // between integer convs: four float passes over the activations), uint8 per-tensor on both ends, become
  // one edgeq QLinearLookup node: the output code is a function of the input code alone, so the 256 of
  // them are computed once here with the kernels the unfused chain would run (DequantizeLinear's
  // (x - zp) * s, sigmoid_f32 / tanh_f32, mul_f32, quantize_f32_u8: per-element functions, so the table
  // gives the same bytes as the chain). The node replaces f; returns the absorbed Mul and Q, and the DQ
  // when the group was its only reader.
  static std::vector<size_t> fuse_lookup(onnx::Model& model, GraphIndex& ix, size_t i) {
    auto& g = model.graph;
    const onnx::Node& n = g.nodes[i];
    if (n.inputs.size() != 1 || n.outputs.size() != 1) return {};
    const std::string& xf = n.inputs[0];
    auto d = dq_of(ix, xf, false);
    if (!d || !is_u8_per_tensor(*d) || g.is_output(xf) || g.is_output(n.outputs[0])) return {};
    // Either f's output goes straight to a Q, or to a Mul whose other input is xf and whose output goes to a Q.
    std::optional<size_t> mul;
    auto y = sole_q_reader(ix, n.outputs[0]);
    if (!y) {
      const int64_t m = ix.sole_consumer(n.outputs[0]);
      if (m < 0) return {};
      const onnx::Node& mn = g.nodes[static_cast<size_t>(m)];
      const bool product = mn.op_type == "Mul" && mn.domain.empty() && mn.inputs.size() == 2 && mn.outputs.size() == 1 &&
                           ((mn.inputs[0] == xf && mn.inputs[1] == n.outputs[0]) || (mn.inputs[1] == xf && mn.inputs[0] == n.outputs[0]));
      if (!product || g.is_output(mn.outputs[0])) return {};
      mul = static_cast<size_t>(m);
      y = sole_q_reader(ix, mn.outputs[0]);
    }
    if (!y || !is_u8_per_tensor(*y)) return {};
    // The table: every input code through the chain's own kernels.
    const float xs = d->scale_t->data<float>()[0], ys = y->scale_t->data<float>()[0];
    if (!(xs > 0.f) || !std::isfinite(xs) || !(ys > 0.f) || !std::isfinite(ys)) return {};
    const int32_t xz = zero_value(d->zero_t), yz = zero_value(y->zero_t);
    std::array<float, 256> x{}, fx{};
    for (int c = 0; c < 256; ++c) x[c] = static_cast<float>(c - xz) * xs;
    if (n.op_type == "Sigmoid")
      kernels::hwy::sigmoid_f32(x.data(), fx.data(), 256);
    else
      kernels::hwy::tanh_f32(x.data(), fx.data(), 256);
    if (mul) kernels::hwy::mul_f32(x.data(), fx.data(), fx.data(), 256);
    Tensor table(DType::kU8, Shape{256});
    kernels::hwy::quantize_f32_u8(fx.data(), table.data<uint8_t>(), 256, ys, yz);
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    onnx::Node fused;
    fused.name = n.name;
    fused.op_type = "QLinearLookup";
    fused.domain = "edgeq";
    fused.inputs = {d->value, add_initializer(g, ix, base + ".table", std::move(table))};
    fused.outputs = {g.nodes[y->index].outputs[0]};
    std::vector<size_t> gone{y->index};
    if (mul) gone.push_back(*mul);
    // The DQ goes too when only the group reads its output.
    std::set<size_t> group{i};
    if (mul) group.insert(*mul);
    const std::set<size_t> readers = ix.consumers(xf);
    if (std::all_of(readers.begin(), readers.end(), [&](size_t r) { return group.count(r) > 0; })) gone.push_back(d->index);
    if (!model.opset_imports.count("edgeq")) model.opset_imports["edgeq"] = 1;
    ix.edit(g, i, [&](onnx::Node& node) { node = std::move(fused); });
    return gone;
  }

  // QLinearConv/QGemm -> DQ -> Relu (PyTorch's export: the Relu after the DQ) becomes the integer node with
  // a fused Relu (clamp at its zero point: relu(dq(q)) = dq(max(q, zero point)), exact) -> DQ. Returns
  // the index of the absorbed Relu.
  static std::optional<size_t> absorb_relu(onnx::Graph& g, GraphIndex& ix, size_t i) {
    const onnx::Node& relu = g.nodes[i];
    if (relu.inputs.size() != 1 || relu.outputs.size() != 1) return std::nullopt;
    auto d = dq_of(ix, relu.inputs[0], false);
    if (!d || ix.sole_consumer(relu.inputs[0]) != static_cast<int64_t>(i)) return std::nullopt;
    const int64_t pi = ix.producer(d->value);
    if (pi < 0 || ix.sole_consumer(d->value) != static_cast<int64_t>(d->index)) return std::nullopt;
    onnx::Node& prod = g.nodes[static_cast<size_t>(pi)];
    const bool integer_node = (prod.op_type == "QLinearConv" && prod.domain.empty()) || (prod.op_type == "QGemm" && prod.domain == "com.microsoft");
    const std::string act = prod.attr_string("edgeq.activation", "");
    if (!integer_node || (!act.empty() && act != "Relu")) return std::nullopt;
    prod.set_attr(onnx::Attribute::make_string("edgeq.activation", "Relu"));
    const std::string relu_out = relu.outputs[0];
    ix.edit(g, d->index, [&](onnx::Node& dq) { dq.outputs[0] = relu_out; });
    return i;
  }

  // DQ -> MaxPool / data movement becomes op on the quantized values -> DQ (max and data movement commute
  // with an affine per-tensor dequantization), so a DQ reaches the Conv/Gemm that follows (PyTorch's
  // export pools between DQ and Conv) or meets a QuantizeLinear it cancels with.
  static bool sink_dq(onnx::Graph& g, GraphIndex& ix, size_t i) {
    const onnx::Node& n = g.nodes[i];
    if (n.inputs.empty() || n.outputs.size() != 1 || (n.op_type == "MaxPool" && n.outputs.size() > 1)) return false;
    auto d = dq_of(ix, n.inputs[0], false);
    if (!d || !is_u8_or_s8(d->zero_t) || ix.sole_consumer(n.inputs[0]) != static_cast<int64_t>(i)) return false;
    const std::string float_out = n.outputs[0];
    const std::string quant_out = ix.unique_name(float_out + "_quantized");
    ix.edit(g, i, [&](onnx::Node& op) {
      op.inputs[0] = d->value;
      op.outputs[0] = quant_out;
    });
    ix.edit(g, d->index, [&](onnx::Node& dq) {
      dq.inputs[0] = quant_out;
      dq.outputs[0] = float_out;
    });
    return true;
  }

  // Q(DQ(x)) with the same scale, zero point and type is x: consumers of the Q read x. Returns the
  // indices of the two nodes (the DQ only when nothing else reads it).
  static std::vector<size_t> cancel_pair(onnx::Graph& g, GraphIndex& ix, size_t i) {
    auto q = as_qnode(g, i, "QuantizeLinear");
    if (!q || q->scale_t->numel() != 1) return {};
    auto d = dq_of(ix, q->value, false);
    const std::string out = g.nodes[i].outputs[0];
    if (!d || !same_params(*d, *q) || g.is_output(out)) return {};
    const std::set<size_t> readers = ix.consumers(out);  // a copy: the edits below change the index
    for (size_t c : readers)
      ix.edit(g, c, [&](onnx::Node& r) {
        for (auto& in : r.inputs)
          if (in == out) in = d->value;
      });
    std::vector<size_t> gone{i};
    // The Q itself still reads the DQ's output until it is erased: only other readers keep the DQ.
    const auto& dq_readers = ix.consumers(q->value);
    const bool only_q_reads = dq_readers.size() == 1 && *dq_readers.begin() == i;
    if (only_q_reads && !g.is_output(q->value)) gone.push_back(d->index);
    return gone;
  }
};

}  // namespace

std::unique_ptr<onnx::Pass> make_qdq_fusion() { return std::make_unique<QdqFusion>(); }

}  // namespace edgeq::runtime
