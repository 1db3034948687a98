// Helpers shared by the operator files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "edgeq/kernels.h"
#include "runtime/builder.h"

namespace edgeq::runtime::detail {

// The activation fused into a Conv/Gemm node by the activation-fusion pass (internal attributes
// "edgeq.activation", "edgeq.clip_min", "edgeq.clip_max", "edgeq.alpha").
kernels::Activation fused_activation(const onnx::Node& node);
std::string activation_note(const kernels::Activation& act);

// Calls F.template operator()<T>() for the C++ type of `d`; false when the dtype is not numeric.
template <typename F>
bool dispatch_numeric(DType d, F&& f) {
  switch (d) {
    case DType::kF32: f.template operator()<float>(); return true;
    case DType::kF64: f.template operator()<double>(); return true;
    case DType::kI8: f.template operator()<int8_t>(); return true;
    case DType::kU8: f.template operator()<uint8_t>(); return true;
    case DType::kI16: f.template operator()<int16_t>(); return true;
    case DType::kU16: f.template operator()<uint16_t>(); return true;
    case DType::kI32: f.template operator()<int32_t>(); return true;
    case DType::kU32: f.template operator()<uint32_t>(); return true;
    case DType::kI64: f.template operator()<int64_t>(); return true;
    case DType::kU64: f.template operator()<uint64_t>(); return true;
    default: return false;
  }
}

// Row-major strides of a shape (in elements).
std::vector<int64_t> strides_of(const Shape& s);

// Minimum elements per thread before an element-wise op is split across the pool.
inline constexpr int64_t kParallelGrain = 16384;

}  // namespace edgeq::runtime::detail
