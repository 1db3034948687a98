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

bool is_graph_output(const onnx::Graph& g, const std::string& v) {
  return std::any_of(g.outputs.begin(), g.outputs.end(), [&](const auto& o) { return o.name == v; });
}

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
};

// Mul(x, s) read only by a Conv with constant f32 weights, s a squeeze-excitation's channel scale:
// the Conv takes s as a fourth input ("edgeq.input_scale") and applies it to its weights or its input
// image (compile_conv), one pass over the feature map fewer (EfficientNet, MobileNetV3). s qualifies
// by its producers alone, as shapes are not known here: a GlobalAveragePool/GlobalMaxPool, then 1x1
// Convs without padding and elementwise activations, so s is [N, C', 1, 1]; the Conv checks C'.
class ChannelScaleFusion final : public onnx::Pass {
 public:
  std::string name() const override { return "channel-scale-fusion"; }
  bool run(onnx::Model& model) override {
    auto& g = model.graph;
    onnx::GraphIndex ix(g);
    std::set<size_t> dead;
    for (size_t mi = 0; mi < g.nodes.size(); ++mi) {
      const auto& mul = g.nodes[mi];
      if (mul.op_type != "Mul" || !mul.domain.empty() || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
      const std::string& product = mul.outputs[0];
      const int64_t ci = ix.sole_consumer(product);
      if (ci < 0 || is_graph_output(g, product)) continue;
      auto& conv = g.nodes[static_cast<size_t>(ci)];
      if (conv.op_type != "Conv" || !conv.domain.empty() || conv.inputs.size() < 2 || conv.inputs.size() > 3 ||
          conv.inputs[0] != product || conv.find_attr("edgeq.input_scale"))
        continue;
      const Tensor* w = f32_initializer(g, conv.inputs[1]);
      const bool bias_ok = conv.inputs.size() < 3 || conv.inputs[2].empty() || f32_initializer(g, conv.inputs[2]);
      if (!w || w->shape().size() != 4 || !bias_ok) continue;
      int side = -1;
      for (int i = 0; i < 2 && side < 0; ++i)
        if (mul.inputs[static_cast<size_t>(i)] != mul.inputs[static_cast<size_t>(1 - i)] && is_channel_scale(g, ix, mul.inputs[static_cast<size_t>(i)])) side = i;
      if (side < 0) continue;
      const std::string scale = mul.inputs[static_cast<size_t>(side)], image = mul.inputs[static_cast<size_t>(1 - side)];
      ix.edit(g, static_cast<size_t>(ci), [&](onnx::Node& c) {
        c.inputs[0] = image;
        c.inputs.resize(3);
        c.inputs.push_back(scale);
      });
      g.nodes[static_cast<size_t>(ci)].set_attr(onnx::Attribute::make_int("edgeq.input_scale", 1));
      dead.insert(mi);
    }
    if (dead.empty()) return false;
    erase_nodes(g, dead);
    return true;
  }

 private:
  // v is [N, C, 1, 1] by construction: produced by a global pool through at most 8 nodes that keep a
  // 1x1 map 1x1 (elementwise activations; Convs with 1x1 kernels, no padding, constant weights).
  static bool is_channel_scale(const onnx::Graph& g, const onnx::GraphIndex& ix, std::string v) {
    for (int depth = 0; depth < 8; ++depth) {
      const int64_t pi = ix.producer(v);
      if (pi < 0) return false;
      const auto& n = g.nodes[static_cast<size_t>(pi)];
      if (!n.domain.empty() || n.inputs.empty() || n.outputs.size() != 1) return false;
      if (n.op_type == "GlobalAveragePool" || n.op_type == "GlobalMaxPool") return true;
      static const std::set<std::string> kElementwise = {"Sigmoid", "HardSigmoid", "Relu", "Clip", "HardSwish", "LeakyRelu"};
      if (n.op_type == "Conv") {
        const Tensor* w = f32_initializer(g, n.inputs.size() > 1 ? n.inputs[1] : std::string());
        if (!w || w->shape().size() != 4 || w->shape()[2] != 1 || w->shape()[3] != 1) return false;
        if (const auto* pads = n.find_attr("pads"))
          for (int64_t p : pads->ints)
            if (p != 0) return false;
        if (n.attr_string("auto_pad", "NOTSET") != "NOTSET" && n.attr_string("auto_pad", "NOTSET") != "VALID") return false;
      } else if (!kElementwise.count(n.op_type)) {
        return false;
      }
      v = n.inputs[0];
    }
    return false;
  }
};

}  // namespace

std::unique_ptr<onnx::Pass> make_batchnorm_folding() { return std::make_unique<BatchNormFolding>(); }
std::unique_ptr<onnx::Pass> make_activation_fusion() { return std::make_unique<ActivationFusion>(); }
std::unique_ptr<onnx::Pass> make_channel_scale_fusion() { return std::make_unique<ChannelScaleFusion>(); }

}  // namespace edgeq::runtime
