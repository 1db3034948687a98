#include "onnx/inference_guard.h"

#include <map>
#include <optional>

namespace edgeq::onnx::detail {
namespace {

// Operators whose inference (convPoolShapeInference and ConvTranspose's) reads kernel_shape, strides,
// dilations, pads and the weight's dims by the input's rank; the index of their weight input (-1: none).
const std::map<std::string, int>& conv_like_ops() {
  static const std::map<std::string, int> ops = {
      {"Conv", 1},        {"ConvTranspose", 1}, {"ConvInteger", 1}, {"QLinearConv", 3},
      {"MaxPool", -1},    {"AveragePool", -1},  {"LpPool", -1},     {"MaxUnpool", -1},
      {"MaxRoiPool", -1}, {"DeformConv", 1}};
  return ops;
}

std::map<std::string, size_t> known_ranks(const Graph& g) {
  std::map<std::string, size_t> ranks;
  for (const auto& in : g.inputs)
    if (in.has_shape) ranks[in.name] = in.shape.size();
  for (const auto& [name, vi] : g.value_info)
    if (vi.has_shape) ranks[name] = vi.shape.size();
  for (const auto& [name, t] : g.initializers) ranks[name] = t.shape().size();
  return ranks;
}

}  // namespace

void check_before_shape_inference(const Model& model, const std::string& where) {
  const auto ranks = known_ranks(model.graph);
  auto rank_of = [&](const Node& n, size_t i) -> std::optional<size_t> {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
    auto it = ranks.find(n.inputs[i]);
    return it == ranks.end() ? std::nullopt : std::optional<size_t>(it->second);
  };
  for (const Node& n : model.graph.nodes) {
    if (!n.domain.empty() && n.domain != "ai.onnx" && n.domain != "com.microsoft") continue;
    auto op = conv_like_ops().find(n.op_type);
    if (op == conv_like_ops().end()) continue;
    auto refuse = [&](const std::string& problem) {
      throw Error(ErrorCode::kInvalidModel, where + ": " + n.label() + ": " + problem);
    };
    const std::optional<size_t> x_rank = rank_of(n, 0);
    if (x_rank && *x_rank < 3) refuse("input '" + n.inputs[0] + "' has rank " + std::to_string(*x_rank) + ", needs N, C and at least one spatial dim");
    std::optional<size_t> spatial;
    if (x_rank) spatial = *x_rank - 2;
    if (op->second >= 0) {
      const std::optional<size_t> w_rank = rank_of(n, static_cast<size_t>(op->second));
      if (w_rank && x_rank && *w_rank != *x_rank)
        refuse("weight '" + n.inputs[static_cast<size_t>(op->second)] + "' has rank " + std::to_string(*w_rank) + ", the input has rank " +
               std::to_string(*x_rank));
      if (w_rank && *w_rank < 3) refuse("weight '" + n.inputs[static_cast<size_t>(op->second)] + "' has rank " + std::to_string(*w_rank) + ", needs at least 3");
      if (w_rank && !spatial) spatial = *w_rank - 2;
    }
    for (const auto& a : n.attrs) {
      const bool per_axis = a.name == "kernel_shape" || a.name == "strides" || a.name == "dilations" || a.name == "output_padding" ||
                            a.name == "output_shape";
      if (per_axis || a.name == "pads") {
        if (a.kind != Attribute::Kind::kInts) refuse("attribute " + a.name + " is not a list of ints");
        const size_t want = spatial ? (a.name == "pads" ? 2 * *spatial : *spatial) : a.ints.size();
        // output_shape may also carry N and C (spec: "the shape of the output can be explicitly set").
        const bool ok_length = a.ints.size() == want || (a.name == "output_shape" && spatial && a.ints.size() == *spatial + 2);
        if (!ok_length) refuse("attribute " + a.name + " has " + std::to_string(a.ints.size()) + " values, needs " + std::to_string(want));
        for (int64_t v : a.ints) {
          const bool positive = a.name == "kernel_shape" || a.name == "strides" || a.name == "dilations";
          if (positive ? v < 1 : v < 0) refuse("attribute " + a.name + " has " + std::to_string(v) + (positive ? ", needs >= 1" : ", needs >= 0"));
        }
      } else if (a.name == "group" && (a.kind != Attribute::Kind::kInt || a.i < 1)) {
        refuse("attribute group must be an int >= 1");
      }
    }
  }
}

}  // namespace edgeq::onnx::detail
