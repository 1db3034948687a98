// Private to edgeq_quant: model preparation, the static/dynamic writers and naming helpers.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "edgeq/quant.h"

namespace edgeq::quant::detail {

// The fp32 model the quantizer works on: constants folded, BatchNormalization folded into Conv
// (so weight ranges are the ones the int8 kernels see), dead nodes removed, every node named
// (exclusion lists and reports refer to nodes by name), nodes in topological order.
// Relu/Clip stay as nodes here; the static writer folds them into the preceding range.
onnx::Model prepare_fp32(const onnx::Model& model);

// Value names already used in a graph, and fresh ones derived from a base name.
class NameTable {
 public:
  explicit NameTable(const onnx::Graph& g);
  std::string fresh(const std::string& base);

 private:
  std::set<std::string> used_;
};

Tensor scalar_f32(float v);
// A tensor of qp's scale (per tensor: a scalar) and of its zero point (in qp.dtype).
Tensor scale_tensor(const QParams& qp);
Tensor zero_point_tensor(const QParams& qp);
bool is_float_value(const onnx::Graph& g, const std::string& name);

// How the static writer treats each node of the prepared model.
enum class Role {
  kFloat,            // left in fp32 (unsupported op, excluded, or no float data)
  kCompute,          // quantized inputs, own output range (Conv, Gemm, MatMul, Add, pools, Concat)
  kPassThrough,      // output shares its input's quantization (MaxPool, Flatten, Reshape, ...)
  kFoldedActivation  // Relu/Clip(0, x) folded into the producer's output range; the node disappears
};

struct StaticPlan {
  std::vector<Role> roles;                              // per node of the prepared graph
  std::map<size_t, size_t> folded_activation;           // producer node -> its folded Relu/Clip
  std::vector<std::string> quantized;                   // tensors getting Q/DQ, in emission order
  std::map<std::string, std::string> range_source;      // quantized tensor -> tensor whose range it uses
  std::vector<std::string> warnings;
};

StaticPlan plan_static(const onnx::Model& prepared, const QuantizeOptions& options, const std::set<std::string>& excluded);

struct WrittenModel {
  onnx::Model model;
  std::map<std::string, std::string> dequantized;  // fp32 tensor -> its dequantized value in `model`
  std::map<std::string, QParams> activation_qparams;
  std::vector<LayerReport> layers;
  std::vector<std::string> warnings;
};

WrittenModel write_static(const onnx::Model& prepared, const QuantizeOptions& options,
                          const std::map<std::string, Range>& ranges, const std::set<std::string>& excluded);
WrittenModel write_dynamic(const onnx::Model& prepared, const QuantizeOptions& options, const std::set<std::string>& excluded);

// Nodes a static/dynamic writer can quantize (the candidates for mixed precision), in graph order.
std::vector<std::string> quantizable_layers(const onnx::Model& prepared, const QuantizeOptions& options);

}  // namespace edgeq::quant::detail
