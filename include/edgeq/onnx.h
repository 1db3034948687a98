// edgeq onnx: ONNX model I/O and the graph IR the runtime and the quantizer share.
// Owns, in the runtime core (edgeq_rt, no protobuf): the IR (Model, Graph, Node, Attribute, ValueInfo)
// with topological order; read_model, edgeq's own decoder of the ONNX protobuf wire format into the
// IR (external data confined to the model's folder, every length checked); the pass framework
// (dead-code elimination, constant folding); model analysis for `edgeq inspect` (summarize).
// Owns, in the tooling (edgeq_onnx, libonnx + protobuf): load_model = read_model plus the ONNX checker
// and ONNX shape inference; serialization and atomic save.
// The IR holds no protobuf types, so code above this module never includes libonnx.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edgeq/core.h"

namespace edgeq::onnx {

// Highest ai.onnx opset the linked libonnx (1.12) knows; the lowest edgeq loads is 7.
inline constexpr int64_t kMaxOpset = 17;
inline constexpr int64_t kMinOpset = 7;

struct Attribute {
  enum class Kind { kFloat, kInt, kString, kTensor, kGraph, kFloats, kInts, kStrings };
  std::string name;
  Kind kind = Kind::kInt;
  float f = 0.f;
  int64_t i = 0;
  std::string s;                 // kString; kGraph keeps the serialized GraphProto here
  Tensor t;                      // kTensor
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;

  static Attribute make_int(std::string name, int64_t v);
  static Attribute make_float(std::string name, float v);
  static Attribute make_string(std::string name, std::string v);
  static Attribute make_ints(std::string name, std::vector<int64_t> v);
  static Attribute make_floats(std::string name, std::vector<float> v);
  static Attribute make_tensor(std::string name, Tensor v);
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is ai.onnx
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::vector<Attribute> attrs;
  std::string doc_string;

  const Attribute* find_attr(const std::string& attr_name) const;
  // Typed getters: the default when absent; Error(kInvalidModel) naming node+attr when of another kind.
  int64_t attr_int(const std::string& attr_name, int64_t def) const;
  float attr_float(const std::string& attr_name, float def) const;
  std::string attr_string(const std::string& attr_name, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& attr_name, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& attr_name, std::vector<float> def = {}) const;
  void set_attr(Attribute a);  // replaces an attribute of the same name
  // "Conv 'conv1'" style label for error messages.
  std::string label() const;
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  bool has_shape = false;          // rank known
  Shape shape;                     // -1 where the dim is unknown or symbolic
  std::vector<std::string> dim_params;  // symbolic names ("batch"), "" where none; same length as shape
  std::string doc_string;
  // A TypeProto that is not a tensor type (sequence, optional, map, sparse tensor), serialized as read:
  // the runtime does not use it, the tooling writes it back unchanged.
  std::string other_type;
};

// What a ValueInfo describes: a tensor, or the TypeProto member held in other_type.
enum class ValueKind { kTensor, kSequence, kMap, kSparseTensor, kOptional };
ValueKind value_kind(const ValueInfo& v);

struct Graph {
  std::string name;
  std::string doc_string;
  std::vector<Node> nodes;
  std::vector<ValueInfo> inputs;     // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_info;   // intermediate values (from shape inference)
  std::map<std::string, Tensor> initializers;

  // Node indices in an order where every node follows its producers. Throws Error(kInvalidModel)
  // naming a node on the cycle if the graph has one, or a value used but never produced.
  std::vector<size_t> topological_order() const;
  // Sorts `nodes` into topological order (the order ONNX requires in a file).
  void sort_topologically();
  // Type/shape of any value: input, output, intermediate or initializer; nullopt if unknown.
  std::optional<ValueInfo> find_value(const std::string& value_name) const;
  bool is_initializer(const std::string& value_name) const { return initializers.count(value_name) != 0; }
  bool is_output(const std::string& value_name) const;
};

// Who produces and who reads each value of a graph, built once (O(n)) and kept in step with the node
// edits made through it, so a pass asks in O(1) instead of scanning every node per node (a
// 100k-node chain made the scans O(n²): minutes). Nodes keep their indices: a pass marks nodes dead
// and erases them after it is done with the index; a dead node still counts as a reader or a producer
// until then, so a pass skips its own dead nodes. An edit made to the graph's nodes without the
// index leaves the index wrong: edit through edit(), or rebuild.
class GraphIndex {
 public:
  explicit GraphIndex(const Graph& graph);
  const Graph& graph() const { return *graph_; }
  // The node producing VALUE (the last one edited to produce it), or -1.
  int64_t producer(const std::string& value) const;
  // The nodes reading VALUE, ascending, each once however often it reads it.
  const std::set<size_t>& consumers(const std::string& value) const;
  // The single node reading VALUE, or -1 (none, several, or VALUE is also a graph output).
  int64_t sole_consumer(const std::string& value) const;
  // BASE, or BASE_1, BASE_2, ...: the first name no input, initializer or node output uses.
  std::string unique_name(const std::string& base) const;
  // Applies EDIT to node I of G, the graph this index was built on (inputs, outputs, or the whole node
  // replaced), and re-registers the node. Error(kInternal) for another graph.
  template <typename Edit>
  void edit(Graph& g, size_t i, Edit&& e) {
    check_same(g);
    forget(i);
    e(g.nodes[i]);
    remember(i);
  }

 private:
  void check_same(const Graph& g) const;
  void forget(size_t i);
  void remember(size_t i);
  const Graph* graph_;
  std::unordered_map<std::string, size_t> producer_;
  std::unordered_map<std::string, std::set<size_t>> consumers_;
  std::unordered_set<std::string> input_names_;
};

struct Model {
  int64_t ir_version = 8;
  std::map<std::string, int64_t> opset_imports;  // domain ("" = ai.onnx) -> version
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props, in file order
  Graph graph;
  std::string source_path;  // where it was loaded from ("" if built in memory)

  int64_t opset(const std::string& domain_name = "") const;  // 0 if not imported
  std::optional<std::string> meta(const std::string& key) const;
  void set_meta(const std::string& key, const std::string& value);
};

// ---------------------------------------------------------------------------------------------
// The reader (runtime core). Checks what the runtime relies on instead of the ONNX checker: an
// ir_version and opsets it knows, names present, one producer per value, an acyclic graph whose
// values are all defined, tensor data matching its shape, external data inside the model's folder
// (symbolic links resolved). Errors start with the path (or name) and name the problem; hostile
// bytes give an Error, never a crash, and memory stays within a small multiple of the input's size.
struct ReadOptions {
  // Nodes in domains other than ai.onnx, ai.onnx.ml, com.microsoft (an imported domain no node uses is
  // always accepted).
  bool allow_unknown_domains = false;
};
// Maps PATH (mmap; read() where mapping fails) and decodes it; external data next to the model.
Model read_model(const std::string& path, const ReadOptions& options = {});
// Decodes SIZE bytes at DATA; `name` stands for the path in messages; external data is read from
// `base_dir` and refused when it is empty (a model from memory has no folder).
Model read_model_from_buffer(const void* data, size_t size, const std::string& name, const std::string& base_dir = "",
                             const ReadOptions& options = {});
// Raw ONNX TensorProto bytes (the *.pb files of the backend test layout) -> Tensor.
Tensor parse_tensor_proto(const std::string& bytes, const std::string& name_for_errors, std::string* tensor_name = nullptr);

// ---------------------------------------------------------------------------------------------
// The tooling (edgeq_onnx: libonnx + protobuf).
struct LoadOptions {
  bool run_checker = true;          // onnx::checker::check_model
  bool infer_shapes = true;         // onnx::shape_inference::InferShapes, fills Graph::value_info
  bool allow_unknown_domains = false;  // nodes in domains other than ai.onnx, ai.onnx.ml, com.microsoft
};

// Loads PATH: read_model, then the ONNX checker and shape inference on the model (converted to
// protobuf for them). Every failure is an Error whose message starts with the path and names the
// problem (node, field, value).
Model load_model(const std::string& path, const LoadOptions& options = {});
// Same for bytes in memory; `name` stands for the path in messages, `base_dir` resolves external data.
Model load_model_from_bytes(const std::string& bytes, const std::string& name, const std::string& base_dir = "",
                            const LoadOptions& options = {});

// Serializes the IR (weights inline). Throws Error(kUnsupported) past protobuf's 2 GB message limit.
std::string serialize_model(const Model& model);
// Runs the ONNX checker on the serialized model; throws Error(kInvalidModel) with its message.
void check_model(const Model& model);
// Re-runs ONNX shape inference, replacing Graph::value_info and filling output shapes.
void infer_shapes(Model& model);
// Checks, then writes atomically (temp file + rename).
void save_model(const Model& model, const std::string& path);
// What save_model writes (sorted, serialized, checked; `path` names the model in errors), for a
// caller that writes the model together with other files (write_files_atomic).
std::string checked_model_bytes(const Model& model, const std::string& path);

// Tensor -> raw ONNX TensorProto bytes (the *.pb files of the backend test layout).
std::string serialize_tensor_proto(const Tensor& t, const std::string& tensor_name);

// Rewrites an ai.onnx model of opset 7-12 for opset 13 (what per-channel QDQ needs), node by node with
// the old results: attributes that became inputs (Clip, Pad, Slice, TopK, Squeeze, Unsqueeze, ReduceSum,
// Split, Dropout), Upsample and Resize-10 as Resize with their old coordinates and rounding,
// BatchNormalization's spatial, Softmax/LogSoftmax/Hardmax's 2-D coercion, Scatter renamed. Returns what
// it rewrote ("2 Clip"); nothing for opset >= 13. Error(kUnsupported) naming the first node it cannot
// carry over (an operator it does not know to be unchanged, control flow, unknown Softmax rank, scales
// that are not initializers), before the model is touched.
std::vector<std::string> upgrade_opset(Model& model);

// ---------------------------------------------------------------------------------------------
// Passes. A pass rewrites the graph in place and says whether it changed anything.
class Pass {
 public:
  virtual ~Pass() = default;
  virtual std::string name() const = 0;
  virtual bool run(Model& model) = 0;
};

// Runs passes in order, repeating the list until no pass changes the graph (at most max_rounds).
class PassManager {
 public:
  PassManager& add(std::unique_ptr<Pass> pass);
  // Returns the names of the passes that changed something, in the order they did.
  std::vector<std::string> run(Model& model, int max_rounds = 8) const;

 private:
  std::vector<std::unique_ptr<Pass>> passes_;
};

// Removes nodes whose outputs reach no graph output, and initializers nobody reads.
std::unique_ptr<Pass> make_dead_code_elimination();

// Evaluates a node whose inputs are all constants. Returns the outputs, or nullopt when it cannot
// (unknown op, unsupported dtype): the node then stays. The runtime plugs in its kernels here.
using ConstantEvaluator =
    std::function<std::optional<std::vector<Tensor>>(const Node& node, const std::vector<Tensor>& inputs)>;
// Built-in evaluator for shape arithmetic: Constant, Identity, Shape (static shapes), Cast, Reshape,
// Squeeze, Unsqueeze, Flatten, Concat, Gather, Slice (int64/float), Add/Sub/Mul/Div (int64/float).
std::optional<std::vector<Tensor>> evaluate_basic(const Node& node, const std::vector<Tensor>& inputs);
// Replaces nodes with constant inputs by initializers (Constant nodes become initializers too).
// Shape needs only its input's static shape. Nodes with a random or side-effect op are never folded.
std::unique_ptr<Pass> make_constant_folding(ConstantEvaluator evaluator = evaluate_basic);

// ---------------------------------------------------------------------------------------------
// Analysis for `edgeq inspect`.
struct OpCost {
  std::string node;
  std::string op_type;
  int64_t macs = 0;  // multiply-accumulates per inference at batch 1 (unknown dims taken as 1)
};

struct ModelSummary {
  std::string path;
  int64_t file_bytes = 0;
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;
  std::string producer;       // "pytorch 1.13.1"
  std::vector<ValueInfo> inputs, outputs;
  std::map<std::string, int64_t> op_histogram;  // "Conv" or "com.microsoft.QGemm" -> count
  int64_t node_count = 0;
  int64_t param_count = 0;
  std::map<std::string, int64_t> param_bytes_by_dtype;   // "float32" -> bytes
  std::map<std::string, int64_t> param_count_by_dtype;
  std::vector<OpCost> costs;  // Conv, ConvInteger, QLinearConv, Gemm, MatMul, MatMulInteger, QLinearMatMul
  int64_t total_macs = 0;
  bool quantized = false;
  std::vector<std::string> quant_formats;  // subset of "QDQ", "QOperator", "IntegerOps"
  std::vector<std::pair<std::string, std::string>> metadata;
};

ModelSummary summarize(const Model& model, int64_t file_bytes = 0);

}  // namespace edgeq::onnx
