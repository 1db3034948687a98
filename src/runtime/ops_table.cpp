// The operator table, generated from ops.inc.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "edgeq/runtime.h"
#include "runtime/builder.h"

namespace edgeq::runtime {
namespace detail {

#define EDGEQ_OP(name, stem, ...) void compile_##stem(Builder&);
#define EDGEQ_MS_OP(name, stem, ...) void compile_##stem(Builder&);
#define EDGEQ_PRIVATE_OP(name, stem, ...) void compile_##stem(Builder&);
#include "runtime/ops.inc"
#undef EDGEQ_OP
#undef EDGEQ_MS_OP
#undef EDGEQ_PRIVATE_OP

namespace {
struct OpEntry {
  const char* name;
  CompileFn fn;
  const char* domain;  // "" (ai.onnx), "com.microsoft" or "edgeq"
  uint8_t min_inputs, max_inputs, min_outputs, max_outputs;
};
constexpr OpEntry kOps[] = {
#define EDGEQ_OP(name, stem, in_lo, in_hi, out_lo, out_hi) {#name, &compile_##stem, "", in_lo, in_hi, out_lo, out_hi},
#define EDGEQ_MS_OP(name, stem, in_lo, in_hi, out_lo, out_hi) {#name, &compile_##stem, "com.microsoft", in_lo, in_hi, out_lo, out_hi},
#define EDGEQ_PRIVATE_OP(name, stem, in_lo, in_hi, out_lo, out_hi) {#name, &compile_##stem, "edgeq", in_lo, in_hi, out_lo, out_hi},
#include "runtime/ops.inc"
#undef EDGEQ_OP
#undef EDGEQ_MS_OP
#undef EDGEQ_PRIVATE_OP
};

const OpEntry* find_entry(const std::string& op_type, const std::string& domain) {
  const std::string& d = domain == "ai.onnx" ? std::string() : domain;
  for (const auto& e : kOps)
    if (op_type == e.name && d == e.domain) return &e;
  return nullptr;
}
}  // namespace

CompileFn find_op(const std::string& op_type, const std::string& domain) {
  const OpEntry* e = find_entry(op_type, domain);
  return e ? e->fn : nullptr;
}

std::string arity_problem(const onnx::Node& node) {
  const OpEntry* e = find_entry(node.op_type, node.domain);
  if (!e) return "";
  auto count = [](size_t n, unsigned lo, unsigned hi, const char* what) -> std::string {
    if (n >= lo && n <= hi) return "";
    const std::string range = lo == hi ? std::to_string(lo) : hi == 255 ? "at least " + std::to_string(lo)
                                                                         : std::to_string(lo) + " to " + std::to_string(hi);
    return std::to_string(n) + " " + what + ", the operator takes " + range;
  };
  std::string p = count(node.inputs.size(), e->min_inputs, e->max_inputs, "inputs");
  if (p.empty()) p = count(node.outputs.size(), e->min_outputs, e->max_outputs, "outputs");
  // Passes read outputs[0] as a value of the ops they rewrite; only ops whose every output is optional
  // (min outputs 0: the recurrent layers, where Y is often omitted for Y_h) may leave it unnamed.
  if (p.empty() && e->min_outputs > 0 && !node.outputs.empty() && node.outputs[0].empty()) p = "its first output has no name";
  if (p.empty() && std::all_of(node.outputs.begin(), node.outputs.end(), [](const std::string& o) { return o.empty(); }))
    p = "none of its outputs has a name";
  return p;
}

}  // namespace detail

std::vector<std::string> supported_ops() {
  std::vector<std::string> r;
  for (const auto& e : detail::kOps)
    if (*e.domain == '\0') r.emplace_back(e.name);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace edgeq::runtime
