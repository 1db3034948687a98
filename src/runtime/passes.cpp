// The runtime's graph rewrites: BatchNormalization folded into the Conv before it, and an activation
// (Relu, Clip with constant bounds, LeakyRelu; Sigmoid then Mul of the same value as Silu) fused into the
// Conv/Gemm before it. Both only fire when the intermediate values have no other reader and are no graph
// output, so no observable value disappears. Fused activations are recorded as internal "edgeq.*"
// attributes the Conv/Gemm compile reads.
#include <algorithm>
#include <cmath>
#include <set>

#include "edgeq/runtime.h"
#include "runtime/graph_util.h"

namespace edgeq::runtime {

using detail::erase_nodes;
using detail::f32_initializer;

namespace {

class BatchNormFolding final : public onnx::Pass {
 public:
  std::string name() const override { return "batchnorm-folding"; }
  bool run(onnx::Model& model) override {
    auto& g = model.graph;
    onnx::GraphIndex ix(g);
    std::set<size_t> dead;
    for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
      const auto& bn = g.nodes[bi];
      if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5 || bn.outputs.size() != 1) continue;
      if (bn.attr_int("training_mode", 0) != 0) continue;
      const int64_t ci = ix.producer(bn.inputs[0]);
      if (ci < 0 || dead.count(static_cast<size_t>(ci))) continue;
      auto& conv = g.nodes[static_cast<size_t>(ci)];
      if (conv.op_type != "Conv" || !conv.domain.empty() || conv.find_attr("edgeq.activation")) continue;
      if (ix.sole_consumer(conv.outputs[0]) != static_cast<int64_t>(bi)) continue;
      const Tensor* w = f32_initializer(g, conv.inputs[1]);
      const Tensor* cb = conv.inputs.size() > 2 && !conv.inputs[2].empty() ? f32_initializer(g, conv.inputs[2]) : nullptr;
      if (!w || (conv.inputs.size() > 2 && !conv.inputs[2].empty() && !cb)) continue;
      const Tensor *s = f32_initializer(g, bn.inputs[1]), *b = f32_initializer(g, bn.inputs[2]),
                   *m = f32_initializer(g, bn.inputs[3]), *v = f32_initializer(g, bn.inputs[4]);
      const int64_t oc = w->shape().empty() ? 0 : w->shape()[0];
      if (!s || !b || !m || !v || oc == 0 || s->numel() != oc || b->numel() != oc || m->numel() != oc || v->numel() != oc) continue;
      const float eps = bn.attr_float("epsilon", 1e-5f);
      Tensor nw = w->clone();
      Tensor nb(DType::kF32, Shape{oc});
      const int64_t per = w->numel() / oc;
      for (int64_t o = 0; o < oc; ++o) {
        // Folded in double: the fused layer should differ from Conv->BN by rounding only.
        const double scale = static_cast<double>(s->data<float>()[o]) / std::sqrt(static_cast<double>(v->data<float>()[o]) + eps);
        for (int64_t i = 0; i < per; ++i) nw.data<float>()[o * per + i] = static_cast<float>(w->data<float>()[o * per + i] * scale);
        const double bias0 = cb ? cb->data<float>()[o] : 0.0;
        nb.data<float>()[o] = static_cast<float>((bias0 - m->data<float>()[o]) * scale + b->data<float>()[o]);
      }
      const std::string base = conv.name.empty() ? conv.outputs[0] : conv.name;
      const std::string wn = ix.unique_name(base + ".bn_weight");
      g.initializers[wn] = nw;
      const std::string bname = ix.unique_name(base + ".bn_bias");
      g.initializers[bname] = nb;
      const std::string folded_out = bn.outputs[0];
      ix.edit(g, static_cast<size_t>(ci), [&](onnx::Node& c) {
        c.inputs.resize(3);
        c.inputs[1] = wn;
        c.inputs[2] = bname;
        c.outputs[0] = folded_out;
      });
      dead.insert(bi);
    }
    if (dead.empty()) return false;
    erase_nodes(g, dead);
    return true;
  }
};

class ActivationFusion final : public onnx::Pass {
 public:
  std::string name() const override { return "activation-fusion"; }
  bool run(onnx::Model& model) override {
    auto& g = model.graph;
    onnx::GraphIndex ix(g);
    std::set<size_t> dead;
    const int64_t opset = model.opset("");
    for (size_t pi = 0; pi < g.nodes.size(); ++pi) {
      auto& prod = g.nodes[pi];
      if ((prod.op_type != "Conv" && prod.op_type != "Gemm") || !prod.domain.empty() || prod.find_attr("edgeq.activation")) continue;
      if (prod.outputs.size() != 1) continue;
      if (fuse_silu(g, ix, pi, dead)) continue;
      const int64_t ai = ix.sole_consumer(prod.outputs[0]);
      if (ai < 0 || dead.count(static_cast<size_t>(ai))) continue;
      const auto& act = g.nodes[static_cast<size_t>(ai)];
      if (!act.domain.empty() || act.inputs.empty() || act.inputs[0] != prod.outputs[0]) continue;
      if (act.op_type == "Relu") {
        prod.set_attr(onnx::Attribute::make_string("edgeq.activation", "Relu"));
      } else if (act.op_type == "LeakyRelu") {
        prod.set_attr(onnx::Attribute::make_string("edgeq.activation", "LeakyRelu"));
        prod.set_attr(onnx::Attribute::make_float("edgeq.alpha", act.attr_float("alpha", 0.01f)));
      } else if (act.op_type == "Clip") {
        float lo = -INFINITY, hi = INFINITY;
        if (opset < 11) {
          lo = act.attr_float("min", lo);
          hi = act.attr_float("max", hi);
        } else {
          bool ok = true;
          for (size_t i = 1; i <= 2 && i < act.inputs.size(); ++i) {
            if (act.inputs[i].empty()) continue;
            const Tensor* t = f32_initializer(g, act.inputs[i]);
            if (!t || t->numel() != 1) {
              ok = false;
              break;
            }
            (i == 1 ? lo : hi) = *t->data<float>();
          }
          if (!ok) continue;
        }
        prod.set_attr(onnx::Attribute::make_string("edgeq.activation", "Clip"));
        prod.set_attr(onnx::Attribute::make_float("edgeq.clip_min", lo));
        prod.set_attr(onnx::Attribute::make_float("edgeq.clip_max", hi));
      } else {
        continue;
      }
      const std::string fused_out = act.outputs[0];
      ix.edit(g, pi, [&](onnx::Node& p) { p.outputs[0] = fused_out; });
      dead.insert(static_cast<size_t>(ai));
    }
    if (dead.empty()) return false;
    erase_nodes(g, dead);
    return true;
  }

 private:
  // y -> Sigmoid(y) = s, Mul(y, s) (either order) with y read by those two alone and no graph output: the
  // SiLU (Swish) of EfficientNet and YOLO exports, one epilogue instead of two passes over the feature map.
  static bool fuse_silu(onnx::Graph& g, onnx::GraphIndex& ix, size_t pi, std::set<size_t>& dead) {
    const std::string y = g.nodes[pi].outputs[0];
    const auto& readers = ix.consumers(y);
    if (readers.size() != 2 || is_graph_output(g, y)) return false;
    int64_t sig = -1, mul = -1;
    for (size_t r : readers) {
      const auto& n = g.nodes[r];
      if (dead.count(r) || !n.domain.empty()) return false;
      if (n.op_type == "Sigmoid" && n.inputs.size() == 1) sig = static_cast<int64_t>(r);
      else if (n.op_type == "Mul" && n.inputs.size() == 2) mul = static_cast<int64_t>(r);
    }
    if (sig < 0 || mul < 0) return false;
    const std::string s = g.nodes[static_cast<size_t>(sig)].outputs.at(0);
    const auto& m = g.nodes[static_cast<size_t>(mul)];
    const bool pairs = (m.inputs[0] == y && m.inputs[1] == s) || (m.inputs[0] == s && m.inputs[1] == y);
    if (!pairs || ix.sole_consumer(s) != mul) return false;
    const std::string fused_out = m.outputs.at(0);
    g.nodes[pi].set_attr(onnx::Attribute::make_string("edgeq.activation", "Silu"));
    ix.edit(g, pi, [&](onnx::Node& p) { p.outputs[0] = fused_out; });
    dead.insert(static_cast<size_t>(sig));
    dead.insert(static_cast<size_t>(mul));
    return true;
  }

  static bool is_graph_output(const onnx::Graph& g, const std::string& v) {
    return std::any_of(g.outputs.begin(), g.outputs.end(), [&](const auto& o) { return o.name == v; });
  }
};

}  // namespace

std::unique_ptr<onnx::Pass> make_batchnorm_folding() { return std::make_unique<BatchNormFolding>(); }
std::unique_ptr<onnx::Pass> make_activation_fusion() { return std::make_unique<ActivationFusion>(); }

}  // namespace edgeq::runtime
