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
#include "runtime/ops.inc"
#undef EDGEQ_OP

namespace {
struct OpEntry {
  const char* name;
  CompileFn fn;
};
constexpr OpEntry kOps[] = {
#define EDGEQ_OP(name, stem) {#name, &compile_##stem},
#include "runtime/ops.inc"
#undef EDGEQ_OP
};
}  // namespace

CompileFn find_op(const std::string& op_type, const std::string& domain) {
  if (!domain.empty() && domain != "ai.onnx") return nullptr;
  for (const auto& e : kOps)
    if (op_type == e.name) return e.fn;
  return nullptr;
}

}  // namespace detail

std::vector<std::string> supported_ops() {
  std::vector<std::string> r;
  for (const auto& e : detail::kOps) r.emplace_back(e.name);
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace edgeq::runtime
