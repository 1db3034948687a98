// Small graph queries and edits shared by the runtime's rewrite passes (passes.cpp, qdq_fusion.cpp).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "edgeq/onnx.h"

namespace edgeq::runtime::detail {

inline const Tensor* initializer(const onnx::Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it == g.initializers.end() ? nullptr : &it->second;
}

inline const Tensor* f32_initializer(const onnx::Graph& g, const std::string& name) {
  const Tensor* t = initializer(g, name);
  return t && t->dtype() == DType::kF32 ? t : nullptr;
}

inline void erase_nodes(onnx::Graph& g, const std::set<size_t>& dead) {
  std::vector<onnx::Node> kept;
  kept.reserve(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!dead.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

}  // namespace edgeq::runtime::detail
