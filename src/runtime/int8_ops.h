// The int8 operator table (int8_ops.inc) as a lookup: how an ai.onnx operator runs in a QDQ model.
#pragma once

#include <string>
#include <vector>

namespace edgeq::runtime {

enum class Int8OpKind { kNone, kInteger, kMove, kActivation };

inline Int8OpKind int8_op_kind(const std::string& op_type) {
  using enum Int8OpKind;
#define EDGEQ_INT8_OP(name, kind) \
  if (op_type == #name) return kind;
#include "runtime/int8_ops.inc"
#undef EDGEQ_INT8_OP
  return kNone;
}

// Every listed operator of one kind, in table order.
inline std::vector<std::string> int8_ops_of(Int8OpKind want) {
  using enum Int8OpKind;
  std::vector<std::string> ops;
#define EDGEQ_INT8_OP(name, kind) \
  if (kind == want) ops.push_back(#name);
#include "runtime/int8_ops.inc"
#undef EDGEQ_INT8_OP
  return ops;
}

}  // namespace edgeq::runtime
