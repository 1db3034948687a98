// Reference comparisons and logic: Equal / Greater / Less / GreaterOrEqual / LessOrEqual (any numeric
// or bool inputs of one type, bool output), And / Or / Xor / Not over bool, IsNaN / IsInf, and Where.
// Bool is one byte, 0 or 1.
#include <cmath>
#include <cstring>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

enum class Compare { kEqual, kGreater, kLess, kGreaterOrEqual, kLessOrEqual };

template <typename T>
uint8_t compare(Compare c, T a, T b) {
  switch (c) {
    case Compare::kEqual: return a == b;
    case Compare::kGreater: return a > b;
    case Compare::kLess: return a < b;
    case Compare::kGreaterOrEqual: return a >= b;
    case Compare::kLessOrEqual: return a <= b;
  }
  return 0;
}

void compile_compare(Builder& b, Compare c) {
  const DType dt = b.input(0).dtype;
  if (b.input(1).dtype != dt) b.invalid("inputs have different dtypes");
  const bool ok = dispatch_numeric_or_bool(dt, [&]<typename T>() {
    emit_zip<T, T, uint8_t>(b, DType::kBool, [c](T x, T y) { return compare<T>(c, x, y); });
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

enum class Logic { kAnd, kOr, kXor };

void compile_logic(Builder& b, Logic op) {
  b.check_dtype(0, {DType::kBool});
  b.check_dtype(1, {DType::kBool});
  emit_zip<uint8_t, uint8_t, uint8_t>(b, DType::kBool, [op](uint8_t x, uint8_t y) -> uint8_t {
    switch (op) {
      case Logic::kAnd: return x && y;
      case Logic::kOr: return x || y;
      case Logic::kXor: return (x != 0) != (y != 0);
    }
    return 0;
  });
}

// y = pred(x) over a float input, bool output.
template <typename Pred>
void compile_float_test(Builder& b, Pred pred) {
  require_float(b, 0);
  if (b.input(0).dtype == DType::kF32)
    emit_map<float, uint8_t>(b, DType::kBool, [pred](float x) { return static_cast<uint8_t>(pred(x)); });
  else
    emit_map<double, uint8_t>(b, DType::kBool, [pred](double x) { return static_cast<uint8_t>(pred(x)); });
}

}  // namespace

void compile_equal(Builder& b) { compile_compare(b, Compare::kEqual); }
void compile_greater(Builder& b) { compile_compare(b, Compare::kGreater); }
void compile_less(Builder& b) { compile_compare(b, Compare::kLess); }
void compile_greater_or_equal(Builder& b) { compile_compare(b, Compare::kGreaterOrEqual); }
void compile_less_or_equal(Builder& b) { compile_compare(b, Compare::kLessOrEqual); }
void compile_logical_and(Builder& b) { compile_logic(b, Logic::kAnd); }
void compile_logical_or(Builder& b) { compile_logic(b, Logic::kOr); }
void compile_logical_xor(Builder& b) { compile_logic(b, Logic::kXor); }

void compile_logical_not(Builder& b) {
  b.check_dtype(0, {DType::kBool});
  emit_map<uint8_t, uint8_t>(b, DType::kBool, [](uint8_t x) -> uint8_t { return x == 0; });
}

void compile_is_nan(Builder& b) {
  compile_float_test(b, [](double x) { return std::isnan(x); });
}

void compile_is_inf(Builder& b) {
  const bool pos = b.node().attr_int("detect_positive", 1) != 0, neg = b.node().attr_int("detect_negative", 1) != 0;
  compile_float_test(b, [pos, neg](double x) { return std::isinf(x) && (x > 0 ? pos : neg); });
}

// Where(condition, X, Y): any element type, copied by its size.
void compile_where(Builder& b) {
  b.check_dtype(0, {DType::kBool});
  const DType dt = b.input(1).dtype;
  if (b.input(2).dtype != dt) b.invalid("X and Y have different dtypes");
  const size_t es = dtype_size(dt);
  if (es == 0 || dt == DType::kString) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
  const Shape shape = broadcast_inputs(b);
  const BroadcastIndexer ix(shape, {b.input(0).shape, b.input(1).shape, b.input(2).shape});
  const int32_t c = b.input_plain(0), x = b.input_plain(1), y = b.input_plain(2), out = b.output(0, dt, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const uint8_t* cond = ctx.at<const uint8_t>(c);
    const auto* px = ctx.at<const std::byte>(x);
    const auto* py = ctx.at<const std::byte>(y);
    auto* pz = ctx.at<std::byte>(out);
    ix.for_each([&](int64_t i, const int64_t* o) {
      std::memcpy(pz + i * es, cond[o[0]] ? px + o[1] * es : py + o[2] * es, es);
    });
  });
}

}  // namespace edgeq::runtime::detail
