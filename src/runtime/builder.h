// The compiler's interface to operators. Each operator has one compile function
// `void compile_<stem>(Builder&)` that validates the node, computes its output shapes, and emits
// kernels (or constant outputs). The builder handles layouts (conversions are inserted and cached),
// slots, and constant folding: a node whose inputs are all known is run at compile time by the very
// kernels it emitted, and its outputs become constants.
#pragma once

#include <any>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

#include "edgeq/core.h"
#include "edgeq/onnx.h"
#include "runtime/plan.h"

namespace edgeq::runtime::detail {

struct Value {
  DType dtype = DType::kUndefined;
  Shape shape;  // logical ONNX shape
  Layout layout = Layout::kPlain;
  int32_t slot = -1;
  int32_t plain_slot = -1;  // cached conversions of this value
  int32_t nhwc_slot = -1;
  Shape flat_dims;  // kFlatNHWC: the [N, C, H, W] it was flattened from
  bool is_constant() const { return constant != nullptr; }
  std::shared_ptr<Tensor> constant;  // value known at compile time (plain layout)
};

class Builder {
 public:
  Builder(Plan& plan, int64_t opset, int threads, bool channels_last)
      : plan_(plan), opset_(opset), threads_(threads), channels_last_(channels_last) {}

  // ---- for the compiler
  // Where packed weights are shared across the session's plans; none (evaluate_node): pack every time.
  void set_pack_cache(PackCache* cache) { pack_cache_ = cache; }
  // Graph inputs an operator needed as constants (Reshape's shape fed by an input, say); the session
  // then keys its plan by their values and compiles again.
  std::set<std::string> wanted_inputs;
  void define(const std::string& name, Value v) { values_[name] = std::move(v); }
  Value* find(const std::string& name);
  int32_t new_slot(Slot s);
  // Compiles one node; outputs are defined afterwards. Throws Error(kUnsupported) for what it cannot run.
  void compile_node(const onnx::Node& node);
  // The slot holding `name` in plain layout (emits a conversion if needed).
  int32_t plain_slot_of(const std::string& name);

  // ---- for operators
  const onnx::Node& node() const { return *node_; }
  int64_t opset() const { return opset_; }
  int threads() const { return threads_; }
  bool channels_last() const { return channels_last_; }
  size_t num_inputs() const { return node_->inputs.size(); }
  bool has_input(size_t i) const { return i < node_->inputs.size() && !node_->inputs[i].empty(); }
  size_t num_outputs() const { return node_->outputs.size(); }
  bool has_output(size_t i) const { return i < node_->outputs.size() && !node_->outputs[i].empty(); }
  const Value& input(size_t i) const;
  const Tensor* constant(size_t i) const;  // nullptr unless known at compile time
  // The constant or an Error(kUnsupported) saying the op needs `what` at compile time.
  const Tensor& require_constant(size_t i, const char* what) const;
  int32_t input_plain(size_t i);  // slot in plain layout
  int32_t input_nhwc(size_t i);   // slot in NHWC layout (rank-4 inputs only)
  int32_t input_any(size_t i, Layout* layout);  // slot in whatever layout it has (constants: plain)
  int32_t output(size_t i, DType dtype, Shape shape, Layout layout = Layout::kPlain);
  // The output shares memory with input `in` (Reshape, Squeeze, ...): no copy, no kernel.
  void output_view(size_t i, size_t in, Shape shape);
  // Flatten(axis=1) of a channels-last input: the output keeps the NHWC bytes (Layout::kFlatNHWC).
  void output_flat_nhwc(size_t i, size_t in, Shape shape);
  // The slot of a kFlatNHWC input as it is (NHWC order); for readers that permute their weights.
  int32_t input_flat_nhwc(size_t i);
  void output_constant(size_t i, Tensor t);
  int32_t scratch(size_t bytes);  // lives for this node's kernels only
  // Constant weights packed once per session: the value an earlier plan packed for this node from the
  // same constants (`sources`), else pack() now. `what` names the packing and every parameter it reads
  // besides the sources (so two packings of one node differ). Packed: a kernels Packed* value.
  template <typename Packed, typename Pack>
  Packed packed(const std::string& what, const std::vector<const Tensor*>& sources, Pack&& pack) {
    std::vector<Tensor> src;
    for (const Tensor* t : sources)
      if (t) src.push_back(*t);
    auto make = [&](PackEntry& e) {
      Packed p = pack();
      e.bytes = p.storage_bytes;
      e.value = std::move(p);
    };
    std::shared_ptr<const PackEntry> entry;
    if (pack_cache_ && !node_folds_) {
      entry = pack_cache_->find_or_add(node_, what, std::move(src), make);
    } else {
      auto own = std::make_shared<PackEntry>();
      make(*own);
      entry = std::move(own);
    }
    plan_.packs.push_back(entry);
    return std::any_cast<const Packed&>(entry->value);
  }
  void emit(std::unique_ptr<Kernel> k);
  [[noreturn]] void unsupported(const std::string& reason) const;
  [[noreturn]] void invalid(const std::string& reason) const;
  void check_dtype(size_t i, std::initializer_list<DType> allowed) const;

 private:
  int32_t convert(const std::string& name, Value& v, Layout to);
  void push_layout_kernel(std::unique_ptr<Kernel> k, int32_t in, int32_t out);
  void fold(size_t first_kernel, size_t first_slot);
  Plan& plan_;
  int64_t opset_;
  int threads_;
  bool channels_last_;
  const onnx::Node* node_ = nullptr;
  PackCache* pack_cache_ = nullptr;
  bool node_folds_ = false;  // every input is constant: the node's kernels run once, here (fold)
  std::map<std::string, Value> values_;
  std::vector<std::string> node_input_names_;
};

using CompileFn = void (*)(Builder&);
// The operator table (built from ops.inc). nullptr when the op is unknown.
CompileFn find_op(const std::string& op_type, const std::string& domain);
// Why NODE's input or output count does not fit its operator (ops.inc), or "" when it does (or the
// operator is unknown). Checked before any graph pass indexes a node's inputs.
std::string arity_problem(const onnx::Node& node);

// Helpers shared by the operators.
int64_t normalize_axis(int64_t axis, int64_t rank, const Builder& b);
std::vector<int64_t> tensor_to_i64(const Tensor& t);  // int32/int64 -> int64
std::vector<float> tensor_to_f32(const Tensor& t);     // numeric -> float
Shape broadcast_shapes(const Shape& a, const Shape& b, const Builder& bld);
inline int64_t numel(const Shape& s) { return shape_numel(s); }

}  // namespace edgeq::runtime::detail
