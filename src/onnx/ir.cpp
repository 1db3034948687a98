// Graph IR: attribute access, topological order, the producer/consumer index, model metadata.
#include <unordered_map>
#include <unordered_set>

#include "edgeq/onnx.h"

namespace edgeq::onnx {

Attribute Attribute::make_int(std::string name, int64_t v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kInt; a.i = v; return a;
}
Attribute Attribute::make_float(std::string name, float v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kFloat; a.f = v; return a;
}
Attribute Attribute::make_string(std::string name, std::string v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kString; a.s = std::move(v); return a;
}
Attribute Attribute::make_ints(std::string name, std::vector<int64_t> v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kInts; a.ints = std::move(v); return a;
}
Attribute Attribute::make_floats(std::string name, std::vector<float> v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kFloats; a.floats = std::move(v); return a;
}
Attribute Attribute::make_tensor(std::string name, Tensor v) {
  Attribute a; a.name = std::move(name); a.kind = Kind::kTensor; a.t = std::move(v); return a;
}

std::string Node::label() const {
  // Both come from the file: escaped, since labels end up in messages on a terminal.
  return printable(op_type, 60) + (name.empty() ? "" : " '" + printable(name, 60) + "'");
}

const Attribute* Node::find_attr(const std::string& attr_name) const {
  for (const auto& a : attrs)
    if (a.name == attr_name) return &a;
  return nullptr;
}

namespace {
const Attribute* typed(const Node& n, const std::string& attr_name, Attribute::Kind kind, const char* kind_name) {
  const Attribute* a = n.find_attr(attr_name);
  if (a && a->kind != kind)
    throw Error(ErrorCode::kInvalidModel, n.label() + ": attribute '" + attr_name + "' should be " + kind_name);
  return a;
}
}  // namespace

int64_t Node::attr_int(const std::string& attr_name, int64_t def) const {
  const Attribute* a = typed(*this, attr_name, Attribute::Kind::kInt, "an int");
  return a ? a->i : def;
}
float Node::attr_float(const std::string& attr_name, float def) const {
  const Attribute* a = typed(*this, attr_name, Attribute::Kind::kFloat, "a float");
  return a ? a->f : def;
}
std::string Node::attr_string(const std::string& attr_name, const std::string& def) const {
  const Attribute* a = typed(*this, attr_name, Attribute::Kind::kString, "a string");
  return a ? a->s : def;
}
std::vector<int64_t> Node::attr_ints(const std::string& attr_name, std::vector<int64_t> def) const {
  const Attribute* a = typed(*this, attr_name, Attribute::Kind::kInts, "a list of ints");
  return a ? a->ints : def;
}
std::vector<float> Node::attr_floats(const std::string& attr_name, std::vector<float> def) const {
  const Attribute* a = typed(*this, attr_name, Attribute::Kind::kFloats, "a list of floats");
  return a ? a->floats : def;
}
void Node::set_attr(Attribute a) {
  for (auto& x : attrs)
    if (x.name == a.name) { x = std::move(a); return; }
  attrs.push_back(std::move(a));
}

std::vector<size_t> Graph::topological_order() const {
  // Kahn's algorithm over value names; ties keep file order so output is stable.
  std::unordered_map<std::string, size_t> producer_of;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& o : nodes[i].outputs) {
      if (o.empty()) continue;
      if (!producer_of.emplace(o, i).second)
        throw Error(ErrorCode::kInvalidModel, "value '" + o + "' is produced by two nodes (" + nodes[producer_of[o]].label() +
                                                  " and " + nodes[i].label() + ")");
    }
  std::unordered_set<std::string> available;
  for (const auto& in : inputs) available.insert(in.name);
  for (const auto& [name, t] : initializers) available.insert(name);
  std::vector<int> pending(nodes.size(), 0);
  std::unordered_map<std::string, std::vector<size_t>> waiting;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& in : nodes[i].inputs) {
      if (in.empty() || available.count(in)) continue;
      if (!producer_of.count(in))
        throw Error(ErrorCode::kInvalidModel, nodes[i].label() + ": input '" + in +
                                                  "' is neither a graph input, an initializer nor any node's output");
      ++pending[i];
      waiting[in].push_back(i);
    }
  std::vector<size_t> order;
  std::vector<size_t> ready;
  for (size_t i = nodes.size(); i-- > 0;)
    if (pending[i] == 0) ready.push_back(i);
  while (!ready.empty()) {
    size_t i = ready.back();
    ready.pop_back();
    order.push_back(i);
    std::vector<size_t> next;
    for (const auto& o : nodes[i].outputs) {
      auto it = waiting.find(o);
      if (it == waiting.end()) continue;
      for (size_t j : it->second)
        if (--pending[j] == 0) next.push_back(j);
    }
    for (auto it = next.rbegin(); it != next.rend(); ++it) ready.push_back(*it);
  }
  if (order.size() != nodes.size()) {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (pending[i] > 0)
        throw Error(ErrorCode::kInvalidModel, "graph has a cycle through node " + nodes[i].label());
  }
  return order;
}

void Graph::sort_topologically() {
  auto order = topological_order();
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
}

std::optional<ValueInfo> Graph::find_value(const std::string& value_name) const {
  for (const auto& v : inputs)
    if (v.name == value_name) return v;
  for (const auto& v : outputs)
    if (v.name == value_name) return v;
  if (auto it = value_info.find(value_name); it != value_info.end()) return it->second;
  if (auto it = initializers.find(value_name); it != initializers.end()) {
    ValueInfo v;
    v.name = value_name;
    v.dtype = it->second.dtype();
    v.has_shape = true;
    v.shape = it->second.shape();
    v.dim_params.assign(v.shape.size(), "");
    return v;
  }
  return std::nullopt;
}

bool Graph::is_output(const std::string& value_name) const {
  for (const auto& o : outputs)
    if (o.name == value_name) return true;
  return false;
}

GraphIndex::GraphIndex(const Graph& graph) : graph_(&graph) {
  producer_.reserve(graph.nodes.size());
  for (const auto& in : graph.inputs) input_names_.insert(in.name);
  for (size_t i = 0; i < graph.nodes.size(); ++i) remember(i);
}

int64_t GraphIndex::producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? -1 : static_cast<int64_t>(it->second);
}

const std::set<size_t>& GraphIndex::consumers(const std::string& value) const {
  static const std::set<size_t> kNone;
  auto it = consumers_.find(value);
  return it == consumers_.end() ? kNone : it->second;
}

int64_t GraphIndex::sole_consumer(const std::string& value) const {
  const auto& readers = consumers(value);
  if (readers.size() != 1 || graph_->is_output(value)) return -1;
  return static_cast<int64_t>(*readers.begin());
}

std::string GraphIndex::unique_name(const std::string& base) const {
  auto taken = [&](const std::string& n) {
    return graph_->initializers.count(n) || producer_.count(n) || input_names_.count(n);
  };
  std::string name = base;
  for (int i = 1; taken(name); ++i) name = base + "_" + std::to_string(i);
  return name;
}

void GraphIndex::check_same(const Graph& g) const {
  if (&g != graph_) throw Error(ErrorCode::kInternal, "GraphIndex::edit on a graph the index was not built on");
}

void GraphIndex::forget(size_t i) {
  const Node& n = graph_->nodes[i];
  for (const auto& o : n.outputs) {
    auto it = producer_.find(o);
    if (it != producer_.end() && it->second == i) producer_.erase(it);
  }
  for (const auto& in : n.inputs) {
    auto it = consumers_.find(in);
    if (it == consumers_.end()) continue;
    it->second.erase(i);
    if (it->second.empty()) consumers_.erase(it);
  }
}

void GraphIndex::remember(size_t i) {
  const Node& n = graph_->nodes[i];
  for (const auto& o : n.outputs)
    if (!o.empty()) producer_[o] = i;
  for (const auto& in : n.inputs)
    if (!in.empty()) consumers_[in].insert(i);
}

int64_t Model::opset(const std::string& domain_name) const {
  auto it = opset_imports.find(domain_name == "ai.onnx" ? "" : domain_name);
  return it == opset_imports.end() ? 0 : it->second;
}

std::optional<std::string> Model::meta(const std::string& key) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return v;
  return std::nullopt;
}

void Model::set_meta(const std::string& key, const std::string& value) {
  for (auto& [k, v] : metadata)
    if (k == key) { v = value; return; }
  metadata.emplace_back(key, value);
}

}  // namespace edgeq::onnx
