// QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear: the element-wise edges of an int8 graph.
// Per-tensor and per-axis (opset 13) scales; scales and zero points may be constants or run-time inputs.
// Values keep their layout (an NHWC activation is quantized in place of order: its channel axis is the
// innermost one), so a quantized conv stack never converts layouts.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

template <typename Q>
Q saturate_to(float r) {  // r already rounded
  constexpr float lo = static_cast<float>(std::numeric_limits<Q>::min());
  constexpr float hi = static_cast<float>(std::numeric_limits<Q>::max());
  return static_cast<Q>(r < lo ? lo : (r > hi ? hi : r));
}

// ONNX QuantizeLinear: saturate(round_half_to_even(x / scale) + zero_point).
template <typename Q>
Q quantize_one(float x, float scale, int32_t zero_point) {
  return saturate_to<Q>(std::nearbyint(x / scale) + static_cast<float>(zero_point));
}

// Where each element's scale comes from: element i uses parameter (i / inner) % count.
struct AxisMap {
  int64_t inner = 1, count = 1;
  int64_t index(int64_t i) const { return count == 1 ? 0 : (i / inner) % count; }
};

template <typename T>
int32_t zero_point_at(const void* zp, int64_t i) {
  return zp ? static_cast<int32_t>(static_cast<const T*>(zp)[i]) : 0;
}

// y = op(x, scale[axis], zero_point[axis]) element-wise; Fn does the arithmetic.
template <typename In, typename Out, typename Zp, Out (*Fn)(In, float, int32_t)>
class AffineKernel final : public Kernel {
 public:
  int32_t x = -1, scale = -1, zero_point = -1, y = -1;
  int64_t n = 0;
  AxisMap axis;
  void run(const ExecContext& ctx) const override {
    const In* X = ctx.at<const In>(x);
    const float* S = ctx.at<const float>(scale);
    const void* Z = zero_point >= 0 ? ctx.ptrs[zero_point] : nullptr;
    Out* Y = ctx.at<Out>(y);
    auto body = [&](int64_t b, int64_t e) {
      if (axis.count == 1) {
        const float s = S[0];
        const int32_t z = zero_point_at<Zp>(Z, 0);
        if constexpr (std::is_same_v<In, float> && std::is_same_v<Out, uint8_t>) {
          kernels::hwy::quantize_f32_u8(X + b, Y + b, static_cast<size_t>(e - b), s, z);  // the same bytes, in SIMD
        } else {
          for (int64_t i = b; i < e; ++i) Y[i] = Fn(X[i], s, z);
        }
        return;
      }
      for (int64_t i = b; i < e; ++i) {
        const int64_t c = axis.index(i);
        Y[i] = Fn(X[i], S[c], zero_point_at<Zp>(Z, c));
      }
    };
    if (n >= 2 * kParallelGrain)
      ctx.parallel(n, body);
    else
      body(0, n);
  }
};

template <typename Q>
Q quantize_fn(float x, float s, int32_t z) {
  return quantize_one<Q>(x, s, z);
}
template <typename Q>
float dequantize_fn(Q x, float s, int32_t z) {
  return static_cast<float>(static_cast<int32_t>(x) - z) * s;
}

// The axis mapping of a per-axis parameter, for the layout the value is stored in.
AxisMap axis_map(Builder& b, const Value& x, size_t param_input, Layout layout) {
  const Value& s = b.input(param_input);
  if (s.shape.size() > 1) b.invalid("scale must be a scalar or 1-D, got " + shape_str(s.shape));
  const int64_t count = numel(s.shape);
  if (s.shape.empty() || count == 1) return {};
  const int64_t rank = static_cast<int64_t>(x.shape.size());
  if (b.opset() < 13) b.invalid("per-axis scales need opset 13");
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 1), rank, b);
  if (x.shape[static_cast<size_t>(axis)] != count)
    b.invalid("scale has " + std::to_string(count) + " values, axis " + std::to_string(axis) + " of " + shape_str(x.shape) + " has " +
              std::to_string(x.shape[static_cast<size_t>(axis)]));
  if (layout == Layout::kNHWC) return {1, count};  // channels are the innermost dim
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < rank; ++d) inner *= x.shape[static_cast<size_t>(d)];
  return {inner, count};
}

void check_zero_point(Builder& b, size_t zp_input, size_t scale_input) {
  if (!b.has_input(zp_input)) return;
  if (b.input(zp_input).shape != b.input(scale_input).shape && numel(b.input(zp_input).shape) != numel(b.input(scale_input).shape))
    b.invalid("zero point shape " + shape_str(b.input(zp_input).shape) + " differs from scale shape " + shape_str(b.input(scale_input).shape));
}

// Per-axis parameters need the value in a layout whose axis the map understands: plain, or NHWC for axis 1.
int32_t affine_input(Builder& b, const AxisMap& probe_plain, Layout* layout) {
  const Value& x = b.input(0);
  int32_t slot = b.input_any(0, layout);
  if (*layout == Layout::kNHWC && probe_plain.count > 1) {
    const int64_t axis = normalize_axis(b.node().attr_int("axis", 1), static_cast<int64_t>(x.shape.size()), b);
    if (axis != 1) {
      slot = b.input_plain(0);
      *layout = Layout::kPlain;
    }
  }
  return slot;
}

template <typename K>
void finish_affine(Builder& b, std::unique_ptr<K> k, DType out_dtype) {
  const Value& x = b.input(0);
  const AxisMap plain_map = axis_map(b, x, 1, Layout::kPlain);
  Layout layout;
  k->x = affine_input(b, plain_map, &layout);
  k->axis = axis_map(b, x, 1, layout);
  k->scale = b.input_plain(1);
  if (b.has_input(2)) k->zero_point = b.input_plain(2);
  k->n = numel(x.shape);
  k->y = b.output(0, out_dtype, x.shape, layout);
  b.emit(std::move(k));
}

}  // namespace

void compile_quantize_linear(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  check_zero_point(b, 2, 1);
  const DType out = b.has_input(2) ? b.input(2).dtype : DType::kU8;
  if (out == DType::kU8)
    finish_affine(b, std::make_unique<AffineKernel<float, uint8_t, uint8_t, quantize_fn<uint8_t>>>(), out);
  else if (out == DType::kI8)
    finish_affine(b, std::make_unique<AffineKernel<float, int8_t, int8_t, quantize_fn<int8_t>>>(), out);
  else
    b.unsupported(std::string("output type ") + dtype_name(out) + " (uint8 and int8 only)");
}

void compile_dequantize_linear(Builder& b) {
  b.check_dtype(0, {DType::kU8, DType::kI8, DType::kI32});
  b.check_dtype(1, {DType::kF32});
  check_zero_point(b, 2, 1);
  const DType in = b.input(0).dtype;
  if (b.has_input(2) && b.input(2).dtype != in) b.invalid("zero point type differs from the input type");
  switch (in) {
    case DType::kU8: finish_affine(b, std::make_unique<AffineKernel<uint8_t, float, uint8_t, dequantize_fn<uint8_t>>>(), DType::kF32); break;
    case DType::kI8: finish_affine(b, std::make_unique<AffineKernel<int8_t, float, int8_t, dequantize_fn<int8_t>>>(), DType::kF32); break;
    default: finish_affine(b, std::make_unique<AffineKernel<int32_t, float, int32_t, dequantize_fn<int32_t>>>(), DType::kF32); break;
  }
}

namespace {

// DynamicQuantizeLinear: uint8 with the range [min(0, min x), max(0, max x)] mapped onto [0, 255].
class DynamicQuantizeKernel final : public Kernel {
 public:
  int32_t x = -1, y = -1, scale = -1, zero_point = -1;
  int64_t n = 0;
  void run(const ExecContext& ctx) const override {
    const float* X = ctx.at<const float>(x);
    // Eight running ranges: independent chains the compiler keeps in registers (one chain is bound by
    // the latency of each compare).
    float los[8] = {}, his[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) {
        los[j] = X[i + j] < los[j] ? X[i + j] : los[j];
        his[j] = X[i + j] > his[j] ? X[i + j] : his[j];
      }
    float lo = 0.f, hi = 0.f;
    for (; i < n; ++i) {
      lo = std::min(lo, X[i]);
      hi = std::max(hi, X[i]);
    }
    for (int j = 0; j < 8; ++j) {
      lo = std::min(lo, los[j]);
      hi = std::max(hi, his[j]);
    }
    const float s = (hi - lo) / 255.f;
    // All-zero input: scale 0 would divide by zero; every value quantizes to zero point 0.
    const uint8_t z = s > 0.f ? saturate_to<uint8_t>(std::nearbyint(0.f - lo / s)) : 0;
    uint8_t* Y = ctx.at<uint8_t>(y);
    if (s > 0.f) {
      kernels::hwy::quantize_f32_u8(X, Y, static_cast<size_t>(n), s, z);  // QuantizeLinear's bytes, in SIMD
    } else {
      std::fill(Y, Y + n, uint8_t{0});
    }
    *ctx.at<float>(scale) = s;
    *ctx.at<uint8_t>(zero_point) = z;
  }
};

}  // namespace

void compile_dynamic_quantize_linear(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  auto k = std::make_unique<DynamicQuantizeKernel>();
  const Value& x = b.input(0);
  k->n = numel(x.shape);
  k->x = b.input_plain(0);
  k->y = b.output(0, DType::kU8, x.shape);
  k->scale = b.output(1, DType::kF32, Shape{});
  k->zero_point = b.output(2, DType::kU8, Shape{});
  b.emit(std::move(k));
}

}  // namespace edgeq::runtime::detail
