// edgeq runtime: the fp32 inference engine.
// Owns: Session (optimize an onnx::Model, compile it to a flat plan of kernel calls over one arena
// planned by tensor lifetimes, run it), the operator table, the constant evaluator the onnx passes
// use. Depends on core, onnx, kernels.
//
// Pipeline at construction: optimize (constant folding, BatchNormalization folded into Conv,
// Conv/Gemm + Relu/Clip fusion, dead-node removal) -> per input shape: infer shapes, choose layouts
// (NHWC inside conv stacks, NCHW at the graph boundary), pack weights, plan the arena -> immutable.
// run() is safe from many threads at once; a new input shape (another batch size) compiles a new
// plan once, cached.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/onnx.h"

namespace edgeq::runtime {

struct SessionOptions {
  int threads = 1;  // intra-op threads including the caller; <= 0 means all hardware threads
  // Shapes for inputs whose dims the model leaves open (batch, ...); the first plan is compiled for
  // these at construction so that every unsupported node is reported there. Unknown dims default to 1.
  std::map<std::string, Shape> input_shapes;
  bool optimize = true;      // graph rewrites (folding, fusion); off = run the graph as written
  bool channels_last = true;  // NHWC inside conv stacks; off = plain NCHW everywhere (a test oracle)
  // Intermediate values to expose as extra outputs after the model's own (calibration, debugging).
  std::vector<std::string> extra_outputs;
};

struct IoInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;  // -1 for dims the model leaves open
};

struct PlanInfo {
  size_t steps = 0;          // kernel calls per run
  size_t arena_bytes = 0;    // activations + scratch, one arena per concurrent run
  size_t constant_bytes = 0; // packed weights and folded constants
  std::vector<std::string> step_labels;  // "Conv 'conv1' [nhwc, relu]" ...
};

class Session {
 public:
  // Throws Error(kUnsupported) listing every node edgeq cannot run (name, op, reason).
  explicit Session(onnx::Model model, const SessionOptions& options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  const std::vector<IoInfo>& inputs() const;
  const std::vector<IoInfo>& outputs() const;  // the model's outputs, then extra_outputs

  // Inputs in inputs() order. Errors (kInvalidArgument) name the input and what is wrong with it.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs) const;
  std::vector<Tensor> run(const std::map<std::string, Tensor>& inputs) const;

  // The model after graph optimization (fused nodes carry internal "edgeq.*" attributes).
  const onnx::Model& optimized_model() const;
  // The plan compiled for these input shapes (compiling it if needed).
  PlanInfo plan_info(const std::vector<Shape>& input_shapes) const;
  int threads() const;

  // Per-step wall time over `runs` runs of these inputs (mean microseconds), for finding hot spots.
  struct StepTime {
    std::string label;
    double mean_us = 0;
  };
  std::vector<StepTime> profile(const std::vector<Tensor>& inputs, int runs) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads the file with edgeq::onnx::read_model (the core's reader: no protobuf, no ONNX checker; the
// reader and the Session check what running needs) and builds a Session.
Session load_session(const std::string& path, const SessionOptions& options = {});
// The same for a model in memory (`name` stands for the path in messages; no external data).
Session load_session_from_buffer(const void* data, size_t size, const SessionOptions& options = {},
                                 const std::string& name = "model");

// The ONNX operators (ai.onnx domain) the runtime implements, sorted.
std::vector<std::string> supported_ops();

// Constant evaluator for onnx::make_constant_folding backed by the runtime's own operators: the
// same code computes folded constants and run-time values.
std::optional<std::vector<Tensor>> evaluate_node(const onnx::Node& node, const std::vector<Tensor>& inputs,
                                                 int64_t opset = onnx::kMaxOpset);

// ---------------------------------------------------------------------------------------------
// ONNX backend-test directories (model.onnx + test_data_set_N/input_K.pb, output_K.pb): the layout
// of onnx/backend/test/data and of `edgeq verify`. Outputs compare like numpy's assert_allclose:
// |got - want| <= atol + rtol * |want| for floats (NaN matches NaN), exact for everything else.
struct VerifyOptions {
  double rtol = 1e-3;
  double atol = 1e-7;
  int threads = 1;
  bool channels_last = true;
};

struct VerifyOutput {
  std::string data_set;  // "test_data_set_0"
  std::string name;      // graph output name
  double max_abs_error = 0;
  double max_rel_error = 0;  // relative to |want|, over elements with want != 0
  bool ok = true;
  std::string problem;   // shape/dtype mismatch, when there is one
};

struct VerifyResult {
  enum class Status { kPassed, kFailed, kUnsupported };
  std::string dir;
  Status status = Status::kPassed;
  std::string message;  // why it failed or is unsupported
  std::vector<VerifyOutput> outputs;
};

// Never throws for problems of the test itself: they become kFailed (or kUnsupported when edgeq
// reports an unsupported operator, attribute or dtype) with a message.
VerifyResult verify_test_dir(const std::string& dir, const VerifyOptions& options = {});

// The runtime's graph rewrites, usable on their own (the quantizer runs them before calibration).
std::unique_ptr<onnx::Pass> make_batchnorm_folding();      // Conv -> BatchNormalization into Conv
std::unique_ptr<onnx::Pass> make_activation_fusion();      // Conv/Gemm -> Relu/Clip/LeakyRelu into one node
// DequantizeLinear -> Conv/Gemm -> QuantizeLinear into QLinearConv / com.microsoft QGemm, and max
// pooling / data movement between equal DQ and Q onto the quantized values (the int8 path).
std::unique_ptr<onnx::Pass> make_qdq_fusion();

}  // namespace edgeq::runtime
