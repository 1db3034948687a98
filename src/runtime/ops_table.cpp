// The operator table, generated from ops.inc.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "edgeq/runtime.h"
#include "runtime/builder.h"

namespace edgeq::runtime {
namespace detail {

#define EDGEQ_OP(name, stem) void compile_##stem(Builder&);
#define EDGEQ_MS_OP(name, stem) void compile_##stem(Builder&);
#include "runtime/ops.inc"
#undef EDGEQ_OP
#undef EDGEQ_MS_OP

namespace {
struct OpEntry {
  const char* name;
  CompileFn fn;
  bool microsoft;  // domain com.microsoft (else ai.onnx)
};
constexpr OpEntry kOps[] = {
#define EDGEQ_OP(name, stem) {#name, &compile_##stem, false},
#define EDGEQ_MS_OP(name, stem) {#name, &compile_##stem, true},
#include "runtime/ops.inc"
#undef EDGEQ_OP
#undef EDGEQ_MS_OP
};
}  // namespace

CompileFn find_op(const std::string& op_type, const std::string& domain) {
  const bool microsoft = domain == "com.microsoft";
  if (!domain.empty() && domain != "ai.onnx" && !microsoft) return nullptr;
  for (const auto& e : kOps)
    if (op_type == e.name && e.microsoft == microsoft) return e.fn;
  return nullptr;
}

}  // namespace detail

std::vector<std::string> supported_ops() {
  std::vector<std::string> r;
  for (const auto& e : detail::kOps)
    if (!e.microsoft) r.emplace_back(e.name);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace edgeq::runtime
