// Reference element-wise math: the float unary functions and activations ONNX defines beyond the
// fast ones in elementwise.cpp (trigonometry, Erf, Sign, Elu family, Softplus, ...), Pow, Mod, PRelu,
// BitShift, Det, and the variadic Sum / Mean / Max / Min over any number of broadcast inputs.
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

struct MathParams {
  double alpha = 0, beta = 0, gamma = 0;
};
using MathFn = double (*)(double, const MathParams&);

// y = f(x) for float32/float64 x, computed in double.
void compile_float_math(Builder& b, MathFn f, MathParams p = {}) {
  require_float(b, 0);
  const DType dt = b.input(0).dtype;
  auto emit = [&]<typename T>() { emit_map<T, T>(b, dt, [f, p](T x) { return static_cast<T>(f(x, p)); }); };
  if (dt == DType::kF32)
    emit.template operator()<float>();
  else
    emit.template operator()<double>();
}

MathParams attrs(const Builder& b, const char* a, double a_def, const char* g = nullptr, double g_def = 0) {
  MathParams p;
  p.alpha = b.node().attr_float(a, static_cast<float>(a_def));
  if (g) p.gamma = b.node().attr_float(g, static_cast<float>(g_def));
  return p;
}

// Integer Mod takes the divisor's sign (Python's %) unless fmod=1 (C's %, the dividend's sign).
// Division by zero is undefined in ONNX: 0 here, never a trap.
template <typename T>
T mod_of(T a, T b, bool fmod) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::fmod(a, b);
  } else {
    if (b == 0) return 0;
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return 0;  // also keeps INT_MIN % -1 defined
      const T r = static_cast<T>(a % b);
      return !fmod && r != 0 && ((r < 0) != (b < 0)) ? static_cast<T>(r + b) : r;
    } else {
      return static_cast<T>(a % b);
    }
  }
}

template <typename T>
T shift_of(T x, T s, bool left) {
  if (s >= static_cast<T>(std::numeric_limits<T>::digits)) return 0;  // a full-width shift is UB in C++
  return static_cast<T>(left ? x << s : x >> s);
}

// double -> T without undefined behaviour: integers saturate, NaN becomes 0.
template <typename T>
T saturate_cast(double v) {
  if constexpr (std::is_floating_point_v<T>) {
    return static_cast<T>(v);
  } else {
    if (std::isnan(v)) return 0;
    if (v <= static_cast<double>(std::numeric_limits<T>::min())) return std::numeric_limits<T>::min();
    if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    return static_cast<T>(v);
  }
}

// A float16 element for the folds that only compare (Max / Min): its bits are kept, never rounded.
struct Half {
  uint16_t bits;
  explicit operator double() const { return f16_to_f32(bits); }
  bool operator<(const Half& o) const { return f16_to_f32(bits) < f16_to_f32(o.bits); }
};

enum class Fold { kSum, kMean, kMax, kMin };

// Sum / Mean / Max / Min over n broadcast inputs of one type.
void compile_fold(Builder& b, Fold kind) {
  const size_t n = b.num_inputs();
  const DType dt = b.input(0).dtype;
  for (size_t i = 1; i < n; ++i)
    if (b.input(i).dtype != dt) b.invalid("inputs have different dtypes");
  if (kind == Fold::kSum || kind == Fold::kMean) require_float(b, 0);
  const Shape shape = broadcast_inputs(b);
  std::vector<Shape> shapes;
  std::vector<int32_t> ins;
  for (size_t i = 0; i < n; ++i) {
    shapes.push_back(b.input(i).shape);
    ins.push_back(b.input_plain(i));
  }
  const BroadcastIndexer ix(shape, shapes);
  const bool sums = kind == Fold::kSum || kind == Fold::kMean;
  auto emit = [&]<typename T>() {
    const int32_t out = b.output(0, dt, shape);
    emit_closure(b, [=](const ExecContext& ctx) {
      T* y = ctx.at<T>(out);
      ix.for_each([&](int64_t i, const int64_t* o) {
        T acc = ctx.at<const T>(ins[0])[o[0]];
        for (size_t k = 1; k < ins.size(); ++k) {
          const T v = ctx.at<const T>(ins[k])[o[k]];
          if constexpr (std::is_arithmetic_v<T>) {
            if (sums) {
              acc = static_cast<T>(acc + v);
              continue;
            }
          }
          // NaN propagates, as in the two-input Min / Max.
          if (std::isnan(static_cast<double>(v)) || (kind == Fold::kMax ? acc < v : v < acc)) acc = v;
        }
        if constexpr (std::is_arithmetic_v<T>) {
          if (kind == Fold::kMean) acc = static_cast<T>(acc / static_cast<T>(ins.size()));
        }
        y[i] = acc;
      });
    });
  };
  bool ok = dispatch_numeric(dt, emit);
  if (!ok && dt == DType::kF16 && !sums) {
    emit.template operator()<Half>();
    ok = true;
  }
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

}  // namespace

void compile_acos(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::acos(x); }); }
void compile_acosh(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::acosh(x); }); }
void compile_asin(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::asin(x); }); }
void compile_asinh(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::asinh(x); }); }
void compile_atan(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::atan(x); }); }
void compile_atanh(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::atanh(x); }); }
void compile_cos(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::cos(x); }); }
void compile_cosh(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::cosh(x); }); }
void compile_sin(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::sin(x); }); }
void compile_sinh(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::sinh(x); }); }
void compile_tan(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::tan(x); }); }
void compile_erf(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::erf(x); }); }
void compile_sign(Builder& b) {
  compile_float_math(b, [](double x, const MathParams&) { return x > 0 ? 1.0 : x < 0 ? -1.0 : x; });
}
void compile_softsign(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return x / (1 + std::fabs(x)); }); }
void compile_softplus(Builder& b) { compile_float_math(b, [](double x, const MathParams&) { return std::log1p(std::exp(x)); }); }
void compile_elu(Builder& b) {
  compile_float_math(b, [](double x, const MathParams& p) { return x < 0 ? p.alpha * std::expm1(x) : x; }, attrs(b, "alpha", 1.0));
}
void compile_celu(Builder& b) {
  const MathParams p = attrs(b, "alpha", 1.0);
  if (p.alpha == 0) b.invalid("alpha must not be 0");
  compile_float_math(b, [](double x, const MathParams& q) { return std::max(0.0, x) + std::min(0.0, q.alpha * std::expm1(x / q.alpha)); }, p);
}
void compile_selu(Builder& b) {
  compile_float_math(b, [](double x, const MathParams& p) { return p.gamma * (x <= 0 ? p.alpha * std::expm1(x) : x); },
                     attrs(b, "alpha", 1.67326319217681884765625, "gamma", 1.05070102214813232421875));
}
void compile_thresholded_relu(Builder& b) {
  compile_float_math(b, [](double x, const MathParams& p) { return x > p.alpha ? x : 0.0; }, attrs(b, "alpha", 1.0));
}
void compile_shrink(Builder& b) {
  const MathParams p = attrs(b, "lambd", 0.5, "bias", 0.0);
  compile_float_math(b, [](double x, const MathParams& q) { return x < -q.alpha ? x + q.gamma : x > q.alpha ? x - q.gamma : 0.0; }, p);
}

// Pow: the result has the base's type; any numeric exponent type. Computed in double.
void compile_pow(Builder& b) {
  const DType base = b.input(0).dtype, exponent = b.input(1).dtype;
  bool ok = false;
  auto with_base = [&]<typename A>() {
    ok = dispatch_numeric(exponent, [&]<typename B>() {
      emit_zip<A, B, A>(b, base, [](A x, B y) { return saturate_cast<A>(std::pow(static_cast<double>(x), static_cast<double>(y))); });
    });
  };
  switch (base) {
    case DType::kF32: with_base.template operator()<float>(); break;
    case DType::kF64: with_base.template operator()<double>(); break;
    case DType::kI32: with_base.template operator()<int32_t>(); break;
    case DType::kI64: with_base.template operator()<int64_t>(); break;
    default: break;
  }
  if (!ok) b.unsupported(std::string("Pow of ") + dtype_name(base) + " by " + dtype_name(exponent));
}

void compile_mod(Builder& b) {
  const DType dt = b.input(0).dtype;
  if (b.input(1).dtype != dt) b.invalid("inputs have different dtypes");
  const bool fmod = b.node().attr_int("fmod", 0) != 0;
  if (!fmod && (dt == DType::kF32 || dt == DType::kF64)) b.invalid("fmod must be 1 for floating-point inputs");
  if (dt == DType::kF16) {  // fmod is exact: the float result is a float16 value
    if (!fmod) b.invalid("fmod must be 1 for floating-point inputs");
    return emit_zip<uint16_t, uint16_t, uint16_t>(b, dt, [](uint16_t x, uint16_t y) { return f32_to_f16(std::fmod(f16_to_f32(x), f16_to_f32(y))); });
  }
  const bool ok = dispatch_numeric(dt, [&]<typename T>() { emit_zip<T, T, T>(b, dt, [fmod](T x, T y) { return mod_of<T>(x, y, fmod); }); });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(dt) + " not supported");
}

void compile_bit_shift(Builder& b) {
  const DType dt = b.input(0).dtype;
  b.check_dtype(0, {DType::kU8, DType::kU16, DType::kU32, DType::kU64});
  if (b.input(1).dtype != dt) b.invalid("inputs have different dtypes");
  const std::string dir = b.node().attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT") b.invalid("direction must be LEFT or RIGHT, not '" + dir + "'");
  const bool left = dir == "LEFT";
  dispatch_numeric(dt, [&]<typename T>() {
    if constexpr (std::is_unsigned_v<T>) emit_zip<T, T, T>(b, dt, [left](T x, T s) { return shift_of<T>(x, s, left); });
  });
}

void compile_p_relu(Builder& b) {
  require_float(b, 0);
  const DType dt = b.input(0).dtype;
  if (b.input(1).dtype != dt) b.invalid("inputs have different dtypes");
  if (broadcast_inputs(b) != b.input(0).shape) b.invalid("slope must broadcast to X's shape");
  auto emit = [&]<typename T>() { emit_zip<T, T, T>(b, dt, [](T x, T s) { return x < 0 ? s * x : x; }); };
  if (dt == DType::kF32)
    emit.template operator()<float>();
  else
    emit.template operator()<double>();
}

// Det of the last two (square) dims, by Gaussian elimination with partial pivoting in double.
void compile_det(Builder& b) {
  require_float(b, 0);
  const Shape shape = b.input(0).shape;
  const size_t r = shape.size();
  if (r < 2 || shape[r - 1] != shape[r - 2]) b.invalid("input must be [..., M, M]");
  const int64_t m = shape[r - 1];
  const Shape out(shape.begin(), shape.end() - 2);
  const DType dt = b.input(0).dtype;
  auto emit = [&]<typename T>() {
    const int32_t in = b.input_plain(0), o = b.output(0, dt, out);
    emit_closure(b, [=](const ExecContext& ctx) {
      const T* x = ctx.at<const T>(in);
      T* y = ctx.at<T>(o);
      std::vector<double> a(static_cast<size_t>(m * m));
      for (int64_t k = 0; k < numel(out); ++k) {
        std::copy(x + k * m * m, x + (k + 1) * m * m, a.begin());
        double det = 1;
        for (int64_t c = 0; c < m && det != 0; ++c) {
          int64_t piv = c;
          for (int64_t i = c + 1; i < m; ++i)
            if (std::fabs(a[i * m + c]) > std::fabs(a[piv * m + c])) piv = i;
          if (a[piv * m + c] == 0) {
            det = 0;
            break;
          }
          if (piv != c) {
            for (int64_t j = 0; j < m; ++j) std::swap(a[c * m + j], a[piv * m + j]);
            det = -det;
          }
          det *= a[c * m + c];
          for (int64_t i = c + 1; i < m; ++i) {
            const double f = a[i * m + c] / a[c * m + c];
            for (int64_t j = c; j < m; ++j) a[i * m + j] -= f * a[c * m + j];
          }
        }
        y[k] = static_cast<T>(det);
      }
    });
  };
  if (dt == DType::kF32)
    emit.template operator()<float>();
  else
    emit.template operator()<double>();
}

void compile_sum(Builder& b) { compile_fold(b, Fold::kSum); }
void compile_mean(Builder& b) { compile_fold(b, Fold::kMean); }
// Min / Max of more than two inputs (two go through the fast binary kernel in elementwise.cpp).
void compile_variadic_max(Builder& b) { compile_fold(b, Fold::kMax); }
void compile_variadic_min(Builder& b) { compile_fold(b, Fold::kMin); }

}  // namespace edgeq::runtime::detail
