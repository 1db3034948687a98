// Pass framework, dead-code elimination and constant folding.
#include <set>
#include <unordered_set>

#include "edgeq/onnx.h"

namespace edgeq::onnx {

PassManager& PassManager::add(std::unique_ptr<Pass> pass) {
  passes_.push_back(std::move(pass));
  return *this;
}

std::vector<std::string> PassManager::run(Model& model, int max_rounds) const {
  std::vector<std::string> changed;
  for (int round = 0; round < max_rounds; ++round) {
    bool any = false;
    for (const auto& p : passes_)
      if (p->run(model)) {
        changed.push_back(p->name());
        any = true;
      }
    if (!any) break;
  }
  return changed;
}

namespace {

bool has_subgraph(const Node& n) {
  for (const auto& a : n.attrs)
    if (a.kind == Attribute::Kind::kGraph) return true;
  return false;
}

class DeadCodeElimination final : public Pass {
 public:
  std::string name() const override { return "dead-code-elimination"; }
  bool run(Model& model) override {
    Graph& g = model.graph;
    std::unordered_set<std::string> live;
    for (const auto& o : g.outputs) live.insert(o.name);
    bool keep_all_initializers = false;
    std::vector<bool> keep(g.nodes.size(), false);
    auto order = g.topological_order();
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      const Node& n = g.nodes[*it];
      bool needed = false;
      for (const auto& o : n.outputs) needed |= live.count(o) > 0;
      if (!needed) continue;
      keep[*it] = true;
      // A subgraph may read any outer value by name; keep every initializer then.
      keep_all_initializers |= has_subgraph(n);
      for (const auto& in : n.inputs)
        if (!in.empty()) live.insert(in);
    }
    bool changed = false;
    std::vector<Node> kept;
    for (size_t i = 0; i < g.nodes.size(); ++i) {
      if (keep[i]) kept.push_back(std::move(g.nodes[i]));
      else changed = true;
    }
    g.nodes = std::move(kept);
    if (!keep_all_initializers) {
      for (auto it = g.initializers.begin(); it != g.initializers.end();) {
        if (!live.count(it->first)) { it = g.initializers.erase(it); changed = true; }
        else ++it;
      }
    }
    // Drop shape records of values that no longer exist.
    std::unordered_set<std::string> exists;
    for (const auto& n : g.nodes) exists.insert(n.outputs.begin(), n.outputs.end());
    for (auto it = g.value_info.begin(); it != g.value_info.end();)
      it = exists.count(it->first) ? std::next(it) : g.value_info.erase(it);
    return changed;
  }
};

// The value of a Constant node, or an empty Tensor when it holds something we don't fold.
Tensor constant_value(const Node& n) {
  for (const auto& a : n.attrs) {
    if (a.name == "value" && a.kind == Attribute::Kind::kTensor && !a.t.empty()) return a.t;
    if (a.name == "value_float") { float v = a.f; return Tensor::from_f32({}, {&v, 1}); }
    if (a.name == "value_floats") return Tensor::from_f32({static_cast<int64_t>(a.floats.size())}, a.floats);
    if (a.name == "value_int") { int64_t v = a.i; return Tensor::from_i64({}, {&v, 1}); }
    if (a.name == "value_ints") return Tensor::from_i64({static_cast<int64_t>(a.ints.size())}, a.ints);
  }
  return Tensor();
}

bool is_random(const std::string& op) {
  static const std::set<std::string> kRandom = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                                "RandomUniformLike", "Multinomial", "Bernoulli", "Dropout"};
  return kRandom.count(op) > 0;
}

class ConstantFolding final : public Pass {
 public:
  explicit ConstantFolding(ConstantEvaluator ev) : evaluator_(std::move(ev)) {}
  std::string name() const override { return "constant-folding"; }
  bool run(Model& model) override {
    Graph& g = model.graph;
    std::unordered_set<std::string> graph_outputs;
    for (const auto& o : g.outputs) graph_outputs.insert(o.name);
    bool changed = false;
    std::vector<Node> kept;
    for (size_t idx : g.topological_order()) {
      Node& n = g.nodes[idx];
      if (try_fold(g, n, graph_outputs)) changed = true;
      else kept.push_back(std::move(n));
    }
    g.nodes = std::move(kept);
    return changed;
  }

 private:
  bool try_fold(Graph& g, const Node& n, const std::unordered_set<std::string>& graph_outputs) {
    if (!n.domain.empty() || has_subgraph(n) || is_random(n.op_type)) return false;
    for (const auto& o : n.outputs)
      if (graph_outputs.count(o)) return false;
    std::optional<std::vector<Tensor>> outs;
    if (n.op_type == "Constant") {
      Tensor t = constant_value(n);
      if (t.empty()) return false;
      outs = std::vector<Tensor>{t};
    } else if (n.op_type == "Shape" && !n.inputs.empty() && !g.is_initializer(n.inputs[0])) {
      auto vi = g.find_value(n.inputs[0]);
      if (!vi || !vi->has_shape) return false;
      for (int64_t d : vi->shape)
        if (d < 0) return false;
      outs = evaluate_basic(n, {Tensor(DType::kU8, vi->shape)});
    } else {
      std::vector<Tensor> inputs;
      for (const auto& in : n.inputs) {
        if (in.empty()) { inputs.emplace_back(); continue; }
        auto it = g.initializers.find(in);
        if (it == g.initializers.end()) return false;
        inputs.push_back(it->second);
      }
      try {
        outs = evaluator_(n, inputs);
      } catch (const Error&) {
        return false;  // leave it for the runtime to report with full context
      }
    }
    if (!outs || outs->size() != n.outputs.size()) return false;
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) continue;
      g.initializers[n.outputs[i]] = (*outs)[i];
      g.value_info.erase(n.outputs[i]);
    }
    return true;
  }

  ConstantEvaluator evaluator_;
};

}  // namespace

std::unique_ptr<Pass> make_dead_code_elimination() { return std::make_unique<DeadCodeElimination>(); }
std::unique_ptr<Pass> make_constant_folding(ConstantEvaluator evaluator) {
  return std::make_unique<ConstantFolding>(std::move(evaluator));
}

}  // namespace edgeq::onnx
