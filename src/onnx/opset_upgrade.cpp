// upgrade_opset: an ai.onnx model of opset 7-12 rewritten for opset 13, the form quantizers write
// (QuantizeLinear needs 10, per-channel DequantizeLinear 13). Between those versions most operators
// only gained types or negative axes; the ones whose form changed are rewritten here to nodes with the
// same results as the old version gave, anything else is refused by name before the model is touched.
// onnx's own version converter (1.12) turns Upsample and Resize-10 into a Resize that defaults to
// half_pixel coordinates, which moves every output pixel; this one keeps the old coordinates.
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "edgeq/onnx.h"

namespace edgeq::onnx {

namespace {

constexpr int64_t kUpgradeTarget = 13;

// Operators whose versions between 7 and 13 read the same attributes and inputs and compute the same
// outputs for every model that was valid at the older version (later versions only added types,
// negative axes, or optional attributes whose defaults keep the old behaviour).
const std::set<std::string>& unchanged_ops() {
  static const std::set<std::string> k = {
      "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "AveragePool", "BitShift", "Cast",
      "Ceil", "Celu", "Compress", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "Cosh",
      "CumSum", "DepthToSpace", "DequantizeLinear", "Det", "Div", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand", "EyeLike",
      "Flatten", "Floor", "GRU", "Gather", "GatherElements", "GatherND", "Gemm", "GlobalAveragePool", "GlobalLpPool",
      "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "Identity", "InstanceNormalization", "IsInf", "IsNaN", "LRN",
      "LSTM", "LeakyRelu", "Less", "LessOrEqual", "Log", "LpNormalization", "LpPool", "MatMul", "MatMulInteger", "Max", "MaxPool",
      "MaxRoiPool", "MaxUnpool", "Mean", "MeanVarianceNormalization", "Min", "Mod", "Mul", "Neg", "NonMaxSuppression", "NonZero",
      "Not", "OneHot", "Or", "PRelu", "Pow", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "RNN", "Range", "Reciprocal",
      "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
      "ReduceSumSquare", "Relu", "Reshape", "ReverseSequence", "RoiAlign", "Round", "ScatterElements", "ScatterND", "Selu", "Shape",
      "Shrink", "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Softplus", "Softsign", "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan",
      "Tanh", "ThresholdedRelu", "Tile", "Transpose", "Unique", "Where", "Xor"};
  return k;
}

// The version at which an operator took its opset-13 form; a model below it needs the rewrite.
const std::map<std::string, int64_t>& rewritten_ops() {
  static const std::map<std::string, int64_t> k = {
      {"BatchNormalization", 9}, {"Clip", 11},       {"Pad", 11},        {"Slice", 10},   {"TopK", 10},
      {"Squeeze", 13},           {"Unsqueeze", 13},  {"ReduceSum", 13},  {"Split", 13},   {"Softmax", 13},
      {"LogSoftmax", 13},        {"Hardmax", 13},    {"Dropout", 12},    {"Upsample", 0}, {"Resize", 11},
      {"Scatter", 0}};
  return k;
}

class Upgrader {
 public:
  explicit Upgrader(Model& m) : m_(m), g_(m.graph), from_(m.opset("")) {
    for (const auto& v : g_.inputs) used_.insert(v.name);
    for (const auto& [name, t] : g_.initializers) used_.insert(name);
    for (const auto& n : g_.nodes)
      for (const auto& o : n.outputs) used_.insert(o);
  }

  // Throws before changing anything when some node cannot be carried over.
  void check() const {
    for (const auto& n : g_.nodes) {
      if (!n.domain.empty() && n.domain != "ai.onnx") continue;  // other domains keep their own opsets
      for (const auto& a : n.attrs)
        if (a.kind == Attribute::Kind::kGraph)
          refuse(n, "it holds a subgraph (control flow is not upgraded)");
      if (unchanged_ops().count(n.op_type)) continue;
      auto it = rewritten_ops().find(n.op_type);
      if (it == rewritten_ops().end()) refuse(n, "edgeq does not know how " + n.op_type + " changed");
      if (n.op_type == "BatchNormalization") {
        if (n.attr_int("spatial", 1) != 1) refuse(n, "spatial=0 has no opset-13 form");
        for (size_t o = 1; o < n.outputs.size(); ++o)
          if (!n.outputs[o].empty()) refuse(n, "its training outputs (mean, var) have no opset-13 form");
      }
      if (n.op_type == "Upsample" && from_ >= 10) refuse(n, "Upsample is deprecated from opset 10");
      if (n.op_type == "Upsample" || (n.op_type == "Resize" && from_ < 11)) check_resize_scales(n);
      if ((n.op_type == "Softmax" || n.op_type == "LogSoftmax" || n.op_type == "Hardmax") && from_ < 13 && !softmax_rank(n))
        refuse(n, "its input's rank is unknown (the 2-D coercion of opset < 13 needs it)");
    }
  }

  std::vector<std::string> run() {
    std::vector<Node> out;
    std::map<std::string, int> counts;
    for (auto& n : g_.nodes) {
      auto it = rewritten_ops().find(n.op_type);
      const bool standard = n.domain.empty() || n.domain == "ai.onnx";
      if (!standard || it == rewritten_ops().end() || (it->second > 0 && from_ >= it->second)) {
        out.push_back(std::move(n));
        continue;
      }
      ++counts[n.op_type];
      rewrite(n, out);
    }
    g_.nodes = std::move(out);
    m_.opset_imports[""] = kUpgradeTarget;
    std::vector<std::string> notes;
    for (const auto& [op, count] : counts) notes.push_back(std::to_string(count) + " " + op);
    return notes;
  }

 private:
  [[noreturn]] void refuse(const Node& n, const std::string& why) const {
    throw Error(ErrorCode::kUnsupported, "cannot upgrade opset " + std::to_string(from_) + " to " + std::to_string(kUpgradeTarget) + ": " +
                                             n.label() + ": " + why);
  }

  std::string fresh(const std::string& base) {
    std::string name = base;
    for (int i = 1; used_.count(name); ++i) name = base + "_" + std::to_string(i);
    used_.insert(name);
    return name;
  }

  std::string add_initializer(const std::string& base, Tensor t) {
    const std::string name = fresh(base);
    g_.initializers[name] = std::move(t);
    return name;
  }
  std::string add_i64(const Node& n, const std::string& what, const std::vector<int64_t>& v) {
    return add_initializer(n.name.empty() ? n.outputs[0] + "_" + what : n.name + "_" + what,
                           Tensor::from_i64(Shape{static_cast<int64_t>(v.size())}, v));
  }
  std::string add_f32_scalar(const Node& n, const std::string& what, float v) {
    Tensor t(DType::kF32, Shape{});
    t.data<float>()[0] = v;
    return add_initializer(n.name.empty() ? n.outputs[0] + "_" + what : n.name + "_" + what, std::move(t));
  }

  static void drop_attr(Node& n, const std::string& name) {
    n.attrs.erase(std::remove_if(n.attrs.begin(), n.attrs.end(), [&](const Attribute& a) { return a.name == name; }), n.attrs.end());
  }
  // Moves attribute `attr` (ints) to input slot `slot` (filling skipped slots with ""), dropping the attribute.
  void ints_attr_to_input(Node& n, const std::string& attr, size_t slot) {
    if (const Attribute* a = n.find_attr(attr)) {
      const std::string name = add_i64(n, attr, a->ints);
      if (n.inputs.size() <= slot) n.inputs.resize(slot + 1);
      n.inputs[slot] = name;
      drop_attr(n, attr);
    }
  }

  std::vector<float> resize_scales(const Node& n) const {
    if (n.op_type == "Upsample" && from_ < 9) return n.attr_floats("scales");
    auto it = n.inputs.size() > 1 ? g_.initializers.find(n.inputs[1]) : g_.initializers.end();
    if (it == g_.initializers.end() || it->second.dtype() != DType::kF32) return {};
    return std::vector<float>(it->second.data<float>(), it->second.data<float>() + it->second.numel());
  }
  // Old nearest rounding (Upsample floors; Resize-10 rounds half up) is one opset-13 nearest_mode
  // only for given scales; linear and cubic do not round.
  void check_resize_scales(const Node& n) const {
    if (resize_scales(n).empty()) refuse(n, "its scales are not a float32 initializer");
  }

  std::optional<size_t> softmax_rank(const Node& n) const {
    if (n.inputs.empty()) return std::nullopt;
    const auto v = g_.find_value(n.inputs[0]);
    if (!v || !v->has_shape) return std::nullopt;
    return v->shape.size();
  }

  void rewrite(Node& n, std::vector<Node>& out) {
    const std::string& op = n.op_type;
    if (op == "BatchNormalization") {
      drop_attr(n, "spatial");
      drop_attr(n, "is_test");
      n.outputs.resize(1);
    } else if (op == "Clip") {  // min/max attributes -> inputs; the old defaults are the float range
      const Attribute* lo = n.find_attr("min");
      const Attribute* hi = n.find_attr("max");
      n.inputs.resize(1);
      n.inputs.push_back(lo ? add_f32_scalar(n, "min", lo->f) : "");
      n.inputs.push_back(hi ? add_f32_scalar(n, "max", hi->f) : "");
      while (!n.inputs.empty() && n.inputs.back().empty()) n.inputs.pop_back();
      drop_attr(n, "min");
      drop_attr(n, "max");
    } else if (op == "Pad") {
      const std::string mode = n.attr_string("mode", "constant");
      n.inputs.resize(1);
      n.inputs.push_back(add_i64(n, "pads", n.attr_ints("pads")));
      if (mode == "constant") n.inputs.push_back(add_f32_scalar(n, "value", n.attr_float("value", 0.f)));
      drop_attr(n, "pads");
      drop_attr(n, "value");
    } else if (op == "Slice") {
      const auto starts = n.attr_ints("starts"), ends = n.attr_ints("ends");
      n.inputs.resize(1);
      n.inputs.push_back(add_i64(n, "starts", starts));
      n.inputs.push_back(add_i64(n, "ends", ends));
      if (n.find_attr("axes")) n.inputs.push_back(add_i64(n, "axes", n.attr_ints("axes")));
      for (const char* a : {"starts", "ends", "axes"}) drop_attr(n, a);
    } else if (op == "TopK") {
      n.inputs.resize(1);
      n.inputs.push_back(add_i64(n, "k", {n.attr_int("k", 1)}));
      drop_attr(n, "k");
    } else if (op == "Squeeze" || op == "Unsqueeze" || op == "ReduceSum") {
      ints_attr_to_input(n, "axes", 1);
    } else if (op == "Split") {
      ints_attr_to_input(n, "split", 1);
    } else if (op == "Dropout") {  // an identity at inference; the ratio becomes an input
      const float ratio = n.attr_float("ratio", 0.5f);
      drop_attr(n, "ratio");
      drop_attr(n, "is_test");
      n.inputs.resize(1);
      n.inputs.push_back(add_f32_scalar(n, "ratio", ratio));
    } else if (op == "Scatter") {  // renamed at opset 11, same semantics
      n.op_type = "ScatterElements";
    } else if (op == "Upsample" || op == "Resize") {
      const auto scales = resize_scales(n);
      const bool upsample = op == "Upsample";
      n.op_type = "Resize";
      drop_attr(n, "scales");
      n.inputs.resize(1);
      n.inputs.push_back("");  // roi
      n.inputs.push_back(add_initializer(n.name.empty() ? n.outputs[0] + "_scales" : n.name + "_scales",
                                         Tensor::from_f32(Shape{static_cast<int64_t>(scales.size())}, scales)));
      n.set_attr(Attribute::make_string("coordinate_transformation_mode", "asymmetric"));
      n.set_attr(Attribute::make_string("nearest_mode", upsample ? "floor" : "round_prefer_ceil"));
    } else if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") {
      rewrite_softmax(n, out);
      return;
    }
    out.push_back(std::move(n));
  }

  // Opset < 13 flattens the input to 2-D at `axis` (default 1) and normalizes each row; opset 13
  // normalizes along one axis. The same when `axis` is the last one; otherwise
  // Flatten(axis) -> op(axis=-1) -> Reshape back to the input's shape.
  void rewrite_softmax(Node& n, std::vector<Node>& out) {
    const auto rank = static_cast<int64_t>(*softmax_rank(n));
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += rank;
    if (axis == rank - 1 || rank <= 1) {
      n.set_attr(Attribute::make_int("axis", rank <= 1 ? -1 : axis));
      out.push_back(std::move(n));
      return;
    }
    const std::string base = n.name.empty() ? n.outputs[0] : n.name;
    Node shape{fresh(base + "_shape"), "Shape", "", {n.inputs[0]}, {fresh(base + "_shape")}, {}, ""};
    Node flat{fresh(base + "_flatten"), "Flatten", "", {n.inputs[0]}, {fresh(base + "_flat")}, {Attribute::make_int("axis", axis)}, ""};
    Node back{fresh(base + "_reshape"), "Reshape", "", {"", shape.outputs[0]}, {n.outputs[0]}, {}, ""};
    n.inputs[0] = flat.outputs[0];
    n.outputs[0] = fresh(base + "_2d");
    back.inputs[0] = n.outputs[0];
    n.set_attr(Attribute::make_int("axis", -1));
    out.push_back(std::move(shape));
    out.push_back(std::move(flat));
    out.push_back(std::move(n));
    out.push_back(std::move(back));
  }

  Model& m_;
  Graph& g_;
  int64_t from_;
  std::set<std::string> used_;
};

}  // namespace

std::vector<std::string> upgrade_opset(Model& model) {
  const int64_t from = model.opset("");
  if (from == 0 || from >= kUpgradeTarget) return {};
  if (from < kMinOpset) throw Error(ErrorCode::kUnsupported, "opset " + std::to_string(from) + " is below " + std::to_string(kMinOpset));
  Upgrader up(model);
  up.check();
  return up.run();
}

}  // namespace edgeq::onnx
