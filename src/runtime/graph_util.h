// Small graph queries and edits shared by the runtime's rewrite passes (passes.cpp, qdq_fusion.cpp).
#pragma once

#include <set>
#include <string>

#include "edgeq/onnx.h"

namespace edgeq::runtime::detail {

inline bool is_graph_output(const onnx::Graph& g, const std::string& name) {
  for (const auto& o : g.outputs)
    if (o.name == name) return true;
  return false;
}

// The single node reading `value`, or -1 (none, several, or a graph output).
inline int64_t sole_consumer(const onnx::Graph& g, const std::string& value) {
  if (is_graph_output(g, value)) return -1;
  auto readers = g.consumers(value);
  if (readers.size() != 1) return -1;
  // A node reading the value twice still counts once; make sure it is one node.
  return static_cast<int64_t>(readers[0]);
}

inline const Tensor* initializer(const onnx::Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it == g.initializers.end() ? nullptr : &it->second;
}

inline const Tensor* f32_initializer(const onnx::Graph& g, const std::string& name) {
  const Tensor* t = initializer(g, name);
  return t && t->dtype() == DType::kF32 ? t : nullptr;
}

inline std::string unique_name(const onnx::Graph& g, const std::string& base) {
  std::string name = base;
  for (int i = 1; g.initializers.count(name) || g.producer(name) >= 0; ++i) name = base + "_" + std::to_string(i);
  return name;
}

inline void erase_nodes(onnx::Graph& g, const std::set<size_t>& dead) {
  std::vector<onnx::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

}  // namespace edgeq::runtime::detail
