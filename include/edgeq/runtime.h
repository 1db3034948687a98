// edgeq runtime: the fp32 inference engine.
// Owns: Session (optimize an onnx::Model, compile it to a flat plan of kernel calls over one arena
// planned by tensor lifetimes, run it), the operator table, the constant evaluator the onnx passes
// use. Depends on core, onnx, kernels.
//
// Pipeline at construction: optimize (constant folding, BatchNormalization folded into Conv,
// Conv/Gemm + Relu/Clip fusion, dead-node removal) -> per input shape: infer shapes, choose layouts
// (NHWC inside conv stacks, NCHW at the graph boundary), plan the arena -> immutable. Weights are
// packed once per node, when the first plan is compiled, and shared by the plans of every input shape
// (XNNPACK's create / reshape split): a new batch size compiles geometry and an arena only, outside the
// lock of the plan cache, which keeps the max_cached_plans most recently used plans and never evicts
// the one compiled at construction.
//
// Threads and concurrent callers. run() is safe from many threads at once; each call gets its own
// arena (activation memory), so callers never wait for each other's memory. A thread pool (the
// session's own, or one shared by several sessions through SessionOptions::thread_pool, like
// pthreadpool in XNNPACK) serves ONE parallel region at a time: the caller that finds it idle splits
// its step across the workers; a caller that finds it busy (another run() of this or another session
// sharing it) runs that step whole on its own thread instead of waiting. So N concurrent callers on P
// threads keep every core busy without oversubscribing, no call waits for another's step, and results
// are bit-identical to serial runs (the kernels are exact whatever the split). Measured in
// docs/performance.md (bench/runtime/concurrency_bench: p50/p99 at 1, 2 and 8 callers).
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
  // A pool shared with other sessions; when set, `threads` is ignored and the pool's size counts.
  std::shared_ptr<ThreadPool> thread_pool;
  // The session's own pool: how long an idle worker spins for the next step before it sleeps (see
  // ThreadPool). Longer costs CPU between runs; shorter costs a wake-up (~5-50 us) on the next step.
  int spin_us = ThreadPool::kDefaultSpinMicros;
  // Plans kept for distinct input shapes (batch sizes); the least recently used goes first, never the
  // plan compiled at construction. At least 1.
  size_t max_cached_plans = 16;
  // Shapes for inputs whose dims the model leaves open (batch, ...); the first plan is compiled for
  // these at construction so that every unsupported node is reported there. Unknown dims default to 1.
  // A name that is no input, a rank or a dim that contradicts the model's is an Error.
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
  size_t constant_bytes = 0; // folded constants the plan holds
  size_t packed_bytes = 0;   // packed weights its kernels read: shared with the session's other plans
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
  // The shapes the constructor compiled its first plan for: SessionOptions::input_shapes where given,
  // the model's dims elsewhere, open dims as 1.
  const std::vector<Shape>& default_input_shapes() const;
  int threads() const;

  // The plan cache: plans held now, plans compiled so far, and the packed weights of the whole session
  // (each node's once, however many plans read them).
  struct CacheStats {
    size_t cached_plans = 0;
    size_t plans_compiled = 0;
    size_t packed_bytes = 0;
  };
  CacheStats cache_stats() const;

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

// `given` dims for an input the model declares as `declared` (-1 where open; empty when the rank is
// unknown): the same rank and every fixed dim equal, else Error(kInvalidArgument) naming `what`
// ("--input-shape images", "input_shapes['images']"). Returns `given`.
Shape checked_input_shape(const Shape& declared, const Shape& given, const std::string& what);

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
std::unique_ptr<onnx::Pass> make_channel_scale_fusion();   // Mul(x, squeeze-excitation scale) -> Conv into the Conv
// DequantizeLinear -> Conv/Gemm -> QuantizeLinear into QLinearConv / com.microsoft QGemm, and max
// pooling / data movement between equal DQ and Q onto the quantized values (the int8 path).
std::unique_ptr<onnx::Pass> make_qdq_fusion();

}  // namespace edgeq::runtime
