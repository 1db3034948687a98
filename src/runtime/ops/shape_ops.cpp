// Operators that only change the shape (views: no kernel, no copy), that produce values known at
// compile time (Shape, Constant, ConstantOfShape), and Cast / CastLike.
#include <cstring>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

std::vector<int64_t> axes_from(Builder& b, size_t input_index, const char* what) {
  if (b.opset() >= 13) {
    if (!b.has_input(input_index)) return {};
    return tensor_to_i64(b.require_constant(input_index, what));
  }
  return b.node().attr_ints("axes");
}

template <typename From, typename To>
void cast_loop(const From* x, To* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<To>(x[i]);
}

class CastKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int64_t n = 0;
  void (*fn)(const void*, void*, int64_t) = nullptr;
  void run(const ExecContext& ctx) const override { fn(ctx.ptrs[in], ctx.ptrs[out], n); }
};

template <typename To>
struct CastTo {
  template <typename From>
  static void run(const void* x, void* y, int64_t n) {
    cast_loop(static_cast<const From*>(x), static_cast<To*>(y), n);
  }
};

// Bool is stored as one byte 0/1: casting to bool tests != 0.
template <typename From>
void cast_to_bool(const void* x, void* y, int64_t n) {
  const From* s = static_cast<const From*>(x);
  uint8_t* d = static_cast<uint8_t*>(y);
  for (int64_t i = 0; i < n; ++i) d[i] = s[i] != From(0) ? 1 : 0;
}

// float16 / bfloat16 on either side go through float (core's round-to-nearest-even conversions).
bool is_narrow_float(DType d) { return d == DType::kF16 || d == DType::kBF16; }

template <typename From>
void cast_to_narrow(const void* x, void* y, int64_t n, bool bf16) {
  const From* s = static_cast<const From*>(x);
  uint16_t* d = static_cast<uint16_t*>(y);
  for (int64_t i = 0; i < n; ++i) d[i] = bf16 ? f32_to_bf16(static_cast<float>(s[i])) : f32_to_f16(static_cast<float>(s[i]));
}

template <typename To>
void cast_from_narrow(const void* x, void* y, int64_t n, bool bf16) {
  const uint16_t* s = static_cast<const uint16_t*>(x);
  To* d = static_cast<To*>(y);
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<To>(bf16 ? bf16_to_f32(s[i]) : f16_to_f32(s[i]));
}

class NarrowCastKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int64_t n = 0;
  bool bf16 = false;
  void (*fn)(const void*, void*, int64_t, bool) = nullptr;
  void run(const ExecContext& ctx) const override { fn(ctx.ptrs[in], ctx.ptrs[out], n, bf16); }
};

}  // namespace

void compile_identity(Builder& b) { b.output_view(0, 0, b.input(0).shape); }

void compile_dropout(Builder& b) {
  // Inference: Dropout is the identity (training_mode must be off); the mask is all true.
  if (b.opset() >= 12 && b.has_input(2)) {
    const Tensor& t = b.require_constant(2, "training_mode");
    if (t.numel() == 1 && *static_cast<const uint8_t*>(t.raw()) != 0) b.unsupported("training_mode=true (random output)");
  }
  if (b.opset() < 7 && b.node().attr_int("is_test", 0) == 0) b.unsupported("is_test=0");
  const Shape shape = b.input(0).shape;
  b.output_view(0, 0, shape);
  if (b.has_output(1)) {
    Tensor mask(DType::kBool, shape);
    std::memset(mask.raw(), 1, mask.nbytes());
    b.output_constant(1, mask);
  }
}

void compile_flatten(Builder& b) {
  const Shape& s = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(s.size());
  int64_t axis = b.node().attr_int("axis", 1);
  if (axis < -r || axis > r) b.invalid("axis " + std::to_string(axis) + " out of range");
  if (axis < 0) axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i) (i < axis ? outer : inner) *= s[i];
  const Value& x = b.input(0);
  // The classifier head of a conv net (Flatten -> Gemm): keep NHWC order, the Gemm permutes its
  // weights once instead of every run transposing the activations.
  if (!x.is_constant() && x.layout == Layout::kNHWC && axis == 1 && r == 4 && x.shape[1] != 1 && x.shape[2] * x.shape[3] != 1) {
    b.output_flat_nhwc(0, 0, Shape{outer, inner});
    return;
  }
  b.output_view(0, 0, Shape{outer, inner});
}

void compile_reshape(Builder& b) {
  const Shape& in = b.input(0).shape;
  std::vector<int64_t> target;
  if (b.opset() < 5)
    target = b.node().attr_ints("shape");
  else
    target = tensor_to_i64(b.require_constant(1, "the target shape"));
  const bool allow_zero = b.node().attr_int("allowzero", 0) != 0;
  Shape out(target.size());
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < target.size(); ++i) {
    int64_t d = target[i];
    if (d == 0 && !allow_zero) {
      if (i >= in.size()) b.invalid("shape has 0 at " + std::to_string(i) + " beyond the input rank");
      d = in[i];
    }
    if (d == -1) {
      if (infer_at >= 0) b.invalid("more than one -1 in the target shape");
      infer_at = static_cast<int64_t>(i);
      continue;
    }
    if (d < 0) b.invalid("negative dim in the target shape");
    out[i] = d;
    known *= d;
  }
  const int64_t total = numel(in);
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0) b.invalid("cannot infer -1 for " + shape_str(in) + " -> " + shape_str(target));
    out[static_cast<size_t>(infer_at)] = total / known;
  }
  if (numel(out) != total) b.invalid("cannot reshape " + shape_str(in) + " to " + shape_str(out));
  b.output_view(0, 0, out);
}

void compile_squeeze(Builder& b) {
  const Shape& in = b.input(0).shape;
  auto axes = axes_from(b, 1, "axes");
  const int64_t r = static_cast<int64_t>(in.size());
  std::vector<bool> drop(in.size(), false);
  if (axes.empty()) {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  } else {
    for (int64_t a : axes) {
      a = normalize_axis(a, r, b);
      if (in[a] != 1) b.invalid("cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(in[a]));
      drop[a] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  b.output_view(0, 0, out);
}

void compile_unsqueeze(Builder& b) {
  const Shape& in = b.input(0).shape;
  auto axes = axes_from(b, 1, "axes");
  const int64_t r = static_cast<int64_t>(in.size() + axes.size());
  std::vector<bool> inserted(static_cast<size_t>(r), false);
  for (int64_t a : axes) {
    a = normalize_axis(a, r, b);
    if (inserted[a]) b.invalid("axis repeated");
    inserted[a] = true;
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(inserted[i] ? 1 : in[j++]);
  b.output_view(0, 0, out);
}

void compile_shape(Builder& b) {
  const Shape& in = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(in.size());
  int64_t start = b.node().attr_int("start", 0), end = b.node().attr_int("end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = std::clamp<int64_t>(start, 0, r);
  end = std::clamp<int64_t>(end, 0, r);
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(in[i]);
  b.output_constant(0, Tensor::from_i64(Shape{static_cast<int64_t>(dims.size())}, dims));
}

void compile_constant(Builder& b) {
  const auto& node = b.node();
  if (const auto* a = node.find_attr("value")) {
    b.output_constant(0, a->t);
  } else if (node.find_attr("value_float")) {
    const float v = node.attr_float("value_float", 0.f);
    b.output_constant(0, Tensor::from_f32(Shape{}, std::span<const float>(&v, 1)));
  } else if (node.find_attr("value_floats")) {
    auto v = node.attr_floats("value_floats");
    b.output_constant(0, Tensor::from_f32(Shape{static_cast<int64_t>(v.size())}, v));
  } else if (node.find_attr("value_int")) {
    const int64_t v = node.attr_int("value_int", 0);
    b.output_constant(0, Tensor::from_i64(Shape{}, std::span<const int64_t>(&v, 1)));
  } else if (node.find_attr("value_ints")) {
    auto v = node.attr_ints("value_ints");
    b.output_constant(0, Tensor::from_i64(Shape{static_cast<int64_t>(v.size())}, v));
  } else {
    b.unsupported("only value, value_float(s) and value_int(s) constants");
  }
}

void compile_constant_of_shape(Builder& b) {
  const auto dims = tensor_to_i64(b.require_constant(0, "the shape"));
  Shape shape(dims.begin(), dims.end());
  for (int64_t d : shape)
    if (d < 0) b.invalid("negative dim");
  Tensor fill = Tensor::from_f32(Shape{1}, std::vector<float>{0.f});
  if (const auto* a = b.node().find_attr("value")) {
    if (a->t.numel() != 1) b.invalid("value must have one element");
    fill = a->t;
  }
  Tensor out(fill.dtype(), shape);
  const size_t es = dtype_size(fill.dtype());
  if (es == 0) b.unsupported(std::string("dtype ") + dtype_name(fill.dtype()));
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t i = 0; i < out.numel(); ++i) std::memcpy(dst + i * es, fill.raw(), es);
  b.output_constant(0, out);
}

namespace {
// Casts between float16 / bfloat16 and the numeric types (not bool, not narrow to narrow).
bool emit_narrow_cast(Builder& b, DType to) {
  const Value& x = b.input(0);
  auto k = std::make_unique<NarrowCastKernel>();
  k->n = numel(x.shape);
  k->bf16 = is_narrow_float(to) ? to == DType::kBF16 : x.dtype == DType::kBF16;
  if (is_narrow_float(to))
    dispatch_numeric(x.dtype, [&]<typename F>() { k->fn = &cast_to_narrow<F>; });
  else
    dispatch_numeric(to, [&]<typename T>() { k->fn = &cast_from_narrow<T>; });
  if (!k->fn) return false;
  k->in = b.input_plain(0);
  k->out = b.output(0, to, x.shape);
  b.emit(std::move(k));
  return true;
}

void emit_cast(Builder& b, DType to) {
  const Value& x = b.input(0);
  if ((is_narrow_float(to) || is_narrow_float(x.dtype)) && emit_narrow_cast(b, to)) return;
  auto k = std::make_unique<CastKernel>();
  k->n = numel(x.shape);
  const DType from = x.dtype == DType::kBool ? DType::kU8 : x.dtype;  // bool bytes read as 0/1
  bool ok = false;
  if (to == DType::kBool) {
    ok = dispatch_numeric(from, [&]<typename F>() { k->fn = &cast_to_bool<F>; });
  } else {
    const DType to_storage = to;
    ok = dispatch_numeric(to_storage, [&]<typename T>() {
      ok = dispatch_numeric(from, [&]<typename F>() { k->fn = &CastTo<T>::template run<F>; });
    }) && k->fn != nullptr;
  }
  if (!ok || !k->fn) b.unsupported(std::string("cast ") + dtype_name(x.dtype) + " -> " + dtype_name(to));
  k->in = b.input_plain(0);
  k->out = b.output(0, to, x.shape);
  b.emit(std::move(k));
}
}  // namespace

void compile_cast(Builder& b) {
  const int64_t to = b.node().attr_int("to", 0);
  if (!dtype_known(static_cast<int32_t>(to))) b.unsupported("cast to type " + std::to_string(to));
  emit_cast(b, static_cast<DType>(to));
}

// CastLike: Cast to the dtype of the second input.
void compile_cast_like(Builder& b) { emit_cast(b, b.input(1).dtype); }

}  // namespace edgeq::runtime::detail
