// Element-wise operators: unary float activations/math and broadcasting binary arithmetic.
// Unary ops keep their input's layout (NHWC stays NHWC). Binary ops run channels-last when a
// rank-4 operand already is (residual Add in ResNet/MobileNet), with constant operands permuted
// at compile time; otherwise they run in plain layout with numpy broadcasting.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "runtime/ops/common.h"
#include "runtime/ops/generic.h"
#include "runtime/ops/layout.h"

namespace edgeq::runtime::detail {

namespace {

enum class UnaryKind {
  kRelu, kLeakyRelu, kClip, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kAbs, kNeg, kExp, kLog, kSqrt,
  kReciprocal, kFloor, kCeil, kRound
};

class UnaryKernel final : public Kernel {
 public:
  UnaryKind kind;
  int32_t in = -1, out = -1;
  int32_t min_slot = -1, max_slot = -1;  // Clip bounds given as run-time inputs
  int64_t n = 0;
  float alpha = 0.f, beta = 0.f, lo = -INFINITY, hi = INFINITY;

  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    kernels::Activation act;
    if (kind == UnaryKind::kRelu) act = kernels::Activation::relu();
    if (kind == UnaryKind::kLeakyRelu) act = kernels::Activation::leaky_relu(alpha);
    if (kind == UnaryKind::kClip) {
      act = kernels::Activation::clip(min_slot >= 0 ? *ctx.at<const float>(min_slot) : lo,
                                      max_slot >= 0 ? *ctx.at<const float>(max_slot) : hi);
    }
    const int64_t chunks = n >= 2 * kParallelGrain ? std::min<int64_t>(ctx.threads(), n / kParallelGrain) : 1;
    auto body = [&](int64_t cb, int64_t ce) {
      const int64_t b = n * cb / chunks, e = n * ce / chunks;
      apply(x + b, y + b, static_cast<size_t>(e - b), act);
    };
    if (chunks > 1)
      ctx.parallel(chunks, body);
    else
      body(0, 1);
  }

 private:
  void apply(const float* x, float* y, size_t m, const kernels::Activation& act) const {
    switch (kind) {
      case UnaryKind::kRelu:
      case UnaryKind::kLeakyRelu:
      case UnaryKind::kClip: kernels::hwy::activation_f32(x, y, m, act); return;
      case UnaryKind::kSigmoid: kernels::hwy::sigmoid_f32(x, y, m); return;
      case UnaryKind::kTanh: kernels::hwy::tanh_f32(x, y, m); return;
      case UnaryKind::kHardSigmoid:
        for (size_t i = 0; i < m; ++i) y[i] = std::max(0.f, std::min(1.f, alpha * x[i] + beta));
        return;
      case UnaryKind::kHardSwish:
        for (size_t i = 0; i < m; ++i) y[i] = x[i] * std::max(0.f, std::min(1.f, x[i] / 6.f + 0.5f));
        return;
      case UnaryKind::kAbs: for (size_t i = 0; i < m; ++i) y[i] = std::fabs(x[i]); return;
      case UnaryKind::kNeg: for (size_t i = 0; i < m; ++i) y[i] = -x[i]; return;
      case UnaryKind::kExp: for (size_t i = 0; i < m; ++i) y[i] = std::exp(x[i]); return;
      case UnaryKind::kLog: for (size_t i = 0; i < m; ++i) y[i] = std::log(x[i]); return;
      case UnaryKind::kSqrt: for (size_t i = 0; i < m; ++i) y[i] = std::sqrt(x[i]); return;
      case UnaryKind::kReciprocal: for (size_t i = 0; i < m; ++i) y[i] = 1.f / x[i]; return;
      case UnaryKind::kFloor: for (size_t i = 0; i < m; ++i) y[i] = std::floor(x[i]); return;
      case UnaryKind::kCeil: for (size_t i = 0; i < m; ++i) y[i] = std::ceil(x[i]); return;
      // ONNX Round: halves to even, which is nearbyint in the default rounding mode.
      case UnaryKind::kRound: for (size_t i = 0; i < m; ++i) y[i] = std::nearbyint(x[i]); return;
    }
  }
};

// Neg / Abs of signed integers and float64, Clip of integers and float64: reference loops (shape
// arithmetic in exported graphs, int8 clamps), the fast kernels below stay float32.
bool compile_unary_other_types(Builder& b, UnaryKind kind) {
  const DType dt = b.input(0).dtype;
  if (dt == DType::kF32 || (kind != UnaryKind::kNeg && kind != UnaryKind::kAbs && kind != UnaryKind::kClip)) return false;
  if (kind == UnaryKind::kClip && b.opset() < 11) return false;
  return dispatch_numeric(dt, [&]<typename T>() {
    if (kind == UnaryKind::kClip) {
      T lo = std::numeric_limits<T>::lowest(), hi = std::numeric_limits<T>::max();
      for (size_t i = 1; i <= 2; ++i) {
        if (!b.has_input(i)) continue;
        const Tensor& t = b.require_constant(i, i == 1 ? "min" : "max");
        if (t.dtype() != dt || t.numel() != 1) b.invalid("Clip bounds must be scalars of the input's dtype");
        (i == 1 ? lo : hi) = *static_cast<const T*>(t.raw());
      }
      emit_map<T, T>(b, dt, [lo, hi](T x) { return std::min(std::max(x, lo), hi); });  // numpy.clip order
    } else if constexpr (std::is_signed_v<T> || std::is_floating_point_v<T>) {
      // Wraps like two's complement for the most negative integer (ONNX leaves it undefined).
      const bool neg = kind == UnaryKind::kNeg;
      emit_map<T, T>(b, dt, [neg](T x) {
        if constexpr (std::is_integral_v<T>) {
          using U = std::make_unsigned_t<T>;
          const T n = static_cast<T>(U(0) - static_cast<U>(x));
          return neg || x < 0 ? n : x;
        } else {
          return neg ? -x : std::fabs(x);
        }
      });
    } else {
      b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
    }
  });
}

void compile_unary(Builder& b, UnaryKind kind) {
  if (compile_unary_other_types(b, kind)) return;
  b.check_dtype(0, {DType::kF32});
  auto k = std::make_unique<UnaryKernel>();
  k->kind = kind;
  const auto& node = b.node();
  switch (kind) {
    case UnaryKind::kLeakyRelu: k->alpha = node.attr_float("alpha", 0.01f); break;
    case UnaryKind::kHardSigmoid:
      k->alpha = node.attr_float("alpha", 0.2f);
      k->beta = node.attr_float("beta", 0.5f);
      break;
    case UnaryKind::kClip:
      if (b.opset() < 11) {
        k->lo = node.attr_float("min", -INFINITY);
        k->hi = node.attr_float("max", INFINITY);
      } else {
        for (size_t i = 1; i <= 2; ++i) {
          if (!b.has_input(i)) continue;
          const Value& bound = b.input(i);
          if (bound.dtype != DType::kF32 || numel(bound.shape) != 1) b.unsupported("Clip bounds must be float scalars");
          if (const Tensor* t = b.constant(i)) {
            (i == 1 ? k->lo : k->hi) = *t->data<float>();
          } else {
            (i == 1 ? k->min_slot : k->max_slot) = b.input_plain(i);
          }
        }
      }
      break;
    default: break;
  }
  Layout layout;
  k->in = b.input_any(0, &layout);
  const Value& x = b.input(0);
  k->n = numel(x.shape);
  k->out = b.output(0, DType::kF32, x.shape, layout);
  b.emit(std::move(k));
}

// ---- binary

enum class BinaryKind { kAdd, kSub, kMul, kDiv, kMin, kMax };

// Min / Max with NaN propagating (a NaN in either operand gives NaN), as onnxruntime does.
template <typename T>
T min_or_max(bool is_max, T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) ? a : b;
  }
  return is_max ? (a < b ? b : a) : (b < a ? b : a);
}

template <typename T>
T apply_binary(BinaryKind kind, T a, T b) {
  switch (kind) {
    case BinaryKind::kAdd: return static_cast<T>(a + b);
    case BinaryKind::kSub: return static_cast<T>(a - b);
    case BinaryKind::kMul: return static_cast<T>(a * b);
    case BinaryKind::kDiv:
      if constexpr (std::is_integral_v<T>) {
        if (b == 0) return 0;  // undefined in ONNX; never trap
      }
      return static_cast<T>(a / b);
    case BinaryKind::kMin: return min_or_max(false, a, b);
    case BinaryKind::kMax: return min_or_max(true, a, b);
  }
  return a;
}

// Broadcast geometry after merging adjacent dims that broadcast the same way: out[outer][inner],
// with per-input strides over the merged dims (0 where broadcast).
struct BroadcastGeometry {
  Shape dims;                       // merged output dims
  std::vector<int64_t> sa, sb;      // element strides of a and b over `dims`
  int64_t inner = 1, sa_inner = 0, sb_inner = 0, outer = 1;
};

BroadcastGeometry make_geometry(const Shape& out, const Shape& a, const Shape& b) {
  const size_t r = out.size();
  auto padded = [&](const Shape& s) {
    Shape p(r, 1);
    for (size_t i = 0; i < s.size(); ++i) p[r - s.size() + i] = s[i];
    return p;
  };
  const Shape pa = padded(a), pb = padded(b);
  Shape dims;
  std::vector<bool> fa, fb;  // full (not broadcast) along the merged dim
  for (size_t i = 0; i < r; ++i) {
    if (out[i] == 1) continue;  // size-1 dims never matter
    const bool a_full = pa[i] != 1, b_full = pb[i] != 1;
    if (!dims.empty() && fa.back() == a_full && fb.back() == b_full) {
      dims.back() *= out[i];
    } else {
      dims.push_back(out[i]);
      fa.push_back(a_full);
      fb.push_back(b_full);
    }
  }
  BroadcastGeometry g;
  if (dims.empty()) {
    dims.push_back(1);
    fa.push_back(true);
    fb.push_back(true);
  }
  g.dims = dims;
  g.sa.assign(dims.size(), 0);
  g.sb.assign(dims.size(), 0);
  int64_t ka = 1, kb = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    if (fa[i]) { g.sa[i] = ka; ka *= dims[i]; }
    if (fb[i]) { g.sb[i] = kb; kb *= dims[i]; }
  }
  g.inner = dims.back();
  g.sa_inner = g.sa.back();
  g.sb_inner = g.sb.back();
  g.outer = 1;
  for (size_t i = 0; i + 1 < dims.size(); ++i) g.outer *= dims[i];
  return g;
}

template <typename T>
class BinaryKernel final : public Kernel {
 public:
  BinaryKind kind;
  int32_t a = -1, b = -1, out = -1;
  BroadcastGeometry g;

  void run(const ExecContext& ctx) const override {
    const T* pa = ctx.at<const T>(a);
    const T* pb = ctx.at<const T>(b);
    T* po = ctx.at<T>(out);
    const int64_t total = g.outer * g.inner;
    if (g.outer == 1 || total < 2 * kParallelGrain) {
      rows(pa, pb, po, 0, g.outer);
    } else {
      ctx.parallel(g.outer, [&](int64_t rb, int64_t re) { rows(pa, pb, po, rb, re); });
    }
  }

 private:
  void rows(const T* pa, const T* pb, T* po, int64_t rb, int64_t re) const {
    const size_t nd = g.dims.size();
    for (int64_t r = rb; r < re; ++r) {
      int64_t oa = 0, ob = 0, rem = r;
      for (size_t d = nd - 1; d-- > 0;) {
        const int64_t idx = rem % g.dims[d];
        rem /= g.dims[d];
        oa += idx * g.sa[d];
        ob += idx * g.sb[d];
      }
      inner(pa + oa, pb + ob, po + r * g.inner);
    }
  }

  void inner(const T* x, const T* y, T* z) const {
    const int64_t n = g.inner;
    if constexpr (std::is_same_v<T, float>) {
      if (g.sa_inner == 1 && g.sb_inner == 1) {
        switch (kind) {
          case BinaryKind::kAdd: kernels::hwy::add_f32(x, y, z, static_cast<size_t>(n)); return;
          case BinaryKind::kSub: kernels::hwy::sub_f32(x, y, z, static_cast<size_t>(n)); return;
          case BinaryKind::kMul: kernels::hwy::mul_f32(x, y, z, static_cast<size_t>(n)); return;
          case BinaryKind::kDiv: kernels::hwy::div_f32(x, y, z, static_cast<size_t>(n)); return;
          case BinaryKind::kMin:
          case BinaryKind::kMax: break;  // the loop below (not on a hot path of the models we serve)
        }
      }
    }
    const int64_t sa = g.sa_inner, sb = g.sb_inner;
    for (int64_t i = 0; i < n; ++i) z[i] = apply_binary<T>(kind, x[i * sa], y[i * sb]);
  }
};

// NHWC copy of a constant broadcast operand, padded to rank 4: physical shape [n, h, w, c].
Tensor constant_to_nhwc(const Tensor& t) {
  Shape p(4, 1);
  for (size_t i = 0; i < t.shape().size(); ++i) p[4 - t.shape().size() + i] = t.shape()[i];
  Tensor r(t.dtype(), Shape{p[0], p[2], p[3], p[1]});
  convert_layout_range(t.raw(), r.raw(), p[0], p[1], p[2] * p[3], dtype_size(t.dtype()), true, 0, p[0] * p[2] * p[3]);
  return r;
}

Shape to_nhwc_shape(const Shape& s) {
  Shape p(4, 1);
  for (size_t i = 0; i < s.size(); ++i) p[4 - s.size() + i] = s[i];
  return {p[0], p[2], p[3], p[1]};
}

void compile_binary(Builder& b, BinaryKind kind) {
  const Value& va = b.input(0);
  const Value& vb = b.input(1);
  if (va.dtype != vb.dtype) b.invalid("inputs have different dtypes");
  const DType dt = va.dtype;
  const Shape out_shape = broadcast_shapes(va.shape, vb.shape, b);

  // Channels-last when a rank-4 operand already is and every other operand can follow.
  bool nhwc = out_shape.size() == 4 && b.channels_last() &&
              ((!va.is_constant() && va.layout == Layout::kNHWC) || (!vb.is_constant() && vb.layout == Layout::kNHWC));
  for (const Value* v : {&va, &vb})
    if (!v->is_constant() && v->shape.size() != 4) nhwc = false;

  bool ok = dispatch_numeric(dt, [&]<typename T>() {
    auto k = std::make_unique<BinaryKernel<T>>();
    k->kind = kind;
    if (nhwc) {
      int32_t slots[2];
      Shape phys[2];
      for (size_t i = 0; i < 2; ++i) {
        const Value& v = b.input(i);
        if (v.is_constant()) {
          Slot s;
          s.kind = Slot::Kind::kConstant;
          s.constant = constant_to_nhwc(*v.constant);
          s.bytes = s.constant.nbytes();
          slots[i] = b.new_slot(std::move(s));
        } else {
          slots[i] = b.input_nhwc(i);
        }
        phys[i] = to_nhwc_shape(v.shape);
      }
      k->a = slots[0];
      k->b = slots[1];
      k->g = make_geometry(to_nhwc_shape(out_shape), phys[0], phys[1]);
      k->out = b.output(0, dt, out_shape, Layout::kNHWC);
    } else {
      k->a = b.input_plain(0);
      k->b = b.input_plain(1);
      k->g = make_geometry(out_shape, va.shape, vb.shape);
      k->out = b.output(0, dt, out_shape);
    }
    k->label = b.node().label() + (nhwc ? " [nhwc]" : "");
    b.emit(std::move(k));
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

}  // namespace

std::vector<int64_t> strides_of(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

void compile_relu(Builder& b) { compile_unary(b, UnaryKind::kRelu); }
void compile_leaky_relu(Builder& b) { compile_unary(b, UnaryKind::kLeakyRelu); }
void compile_clip(Builder& b) { compile_unary(b, UnaryKind::kClip); }
void compile_sigmoid(Builder& b) { compile_unary(b, UnaryKind::kSigmoid); }
void compile_hard_sigmoid(Builder& b) { compile_unary(b, UnaryKind::kHardSigmoid); }
void compile_hard_swish(Builder& b) { compile_unary(b, UnaryKind::kHardSwish); }
void compile_tanh(Builder& b) { compile_unary(b, UnaryKind::kTanh); }
void compile_abs(Builder& b) { compile_unary(b, UnaryKind::kAbs); }
void compile_neg(Builder& b) { compile_unary(b, UnaryKind::kNeg); }
void compile_exp(Builder& b) { compile_unary(b, UnaryKind::kExp); }
void compile_log(Builder& b) { compile_unary(b, UnaryKind::kLog); }
void compile_sqrt(Builder& b) { compile_unary(b, UnaryKind::kSqrt); }
void compile_reciprocal(Builder& b) { compile_unary(b, UnaryKind::kReciprocal); }
void compile_floor(Builder& b) { compile_unary(b, UnaryKind::kFloor); }
void compile_ceil(Builder& b) { compile_unary(b, UnaryKind::kCeil); }
void compile_round(Builder& b) { compile_unary(b, UnaryKind::kRound); }

void compile_add(Builder& b) { compile_binary(b, BinaryKind::kAdd); }
void compile_sub(Builder& b) { compile_binary(b, BinaryKind::kSub); }
void compile_mul(Builder& b) { compile_binary(b, BinaryKind::kMul); }
void compile_div(Builder& b) { compile_binary(b, BinaryKind::kDiv); }

void compile_variadic_max(Builder& b);  // math.cpp
void compile_variadic_min(Builder& b);

// Min / Max are variadic in ONNX: one input is the identity, two broadcast like Add, more fold.
void compile_min_max(Builder& b, BinaryKind kind) {
  if (b.num_inputs() == 1) {
    b.output_view(0, 0, b.input(0).shape);
    return;
  }
  // More than two inputs, and float16 (compared as float, kept as bits): the reference fold.
  if (b.num_inputs() > 2 || b.input(0).dtype == DType::kF16) return kind == BinaryKind::kMax ? compile_variadic_max(b) : compile_variadic_min(b);
  compile_binary(b, kind);
}
void compile_min(Builder& b) { compile_min_max(b, BinaryKind::kMin); }
void compile_max(Builder& b) { compile_min_max(b, BinaryKind::kMax); }

}  // namespace edgeq::runtime::detail
