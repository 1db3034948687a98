// Private to edgeq_quant: model preparation, the static/dynamic writers and naming helpers.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "edgeq/quant.h"

namespace edgeq::runtime {
class Session;
}

namespace edgeq::quant::detail {

// The fp32 model the quantizer works on: constants folded, BatchNormalization folded into Conv
// (so weight ranges are the ones the int8 kernels see), dead nodes removed, every node named
// (exclusion lists and reports refer to nodes by name), nodes in topological order.
// Relu/Clip stay as nodes here; the static writer folds them into the preceding range.
onnx::Model prepare_fp32(const onnx::Model& model);

// Runs a model the fastest way there is: a runtime::Session (fused, channels-last, QDQ groups on the
// exact integer kernels: what edgeq deploys) when the runtime compiles the model, else the node-by-node
// simulator. The simulator compiles a one-node plan per node and runs convs as plain NCHW loops: layer
// sensitivities of MobileNetV2 at 224x224 (53 single-layer models) took over 12 minutes through it.
// run() returns the graph outputs, then `extra`'s values.
class ModelRunner {
 public:
  explicit ModelRunner(const onnx::Model& model, std::vector<std::string> extra = {});
  ~ModelRunner();
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;

 private:
  const onnx::Model& model_;
  std::vector<std::string> extra_;
  std::vector<int> extra_input_;  // per extra value: the graph input it is, or -1
  std::unique_ptr<runtime::Session> session_;  // null: the runtime refused the model
};

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
