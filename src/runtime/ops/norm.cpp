// BatchNormalization (inference; usually folded into the Conv before it by the graph pass),
// Softmax / LogSoftmax / Hardmax, LayerNormalization, the Reduce* family and ArgMax / ArgMin.
#include <cfloat>
#include <cmath>

#include "runtime/ops/generic.h"

namespace edgeq::runtime::detail {

namespace {

// y = x * scale[c] + shift[c], in NHWC (channel fastest) or plain (channel = plane index % C).
class ChannelAffineKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int32_t s_slot = -1, b_slot = -1, m_slot = -1, v_slot = -1;  // run-time parameters, when not constant
  float eps = 1e-5f;
  std::vector<float> scale, shift;  // folded at compile time when the parameters are constant
  int64_t n = 0, c = 0, spatial = 0;
  bool nhwc = false;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const float* sc = scale.data();
    const float* sh = shift.data();
    std::vector<float> rs, rb;  // only for parameters known at run time (tests), not the fast path
    if (s_slot >= 0) {
      rs.resize(static_cast<size_t>(c));
      rb.resize(static_cast<size_t>(c));
      const float *S = ctx.at<const float>(s_slot), *B = ctx.at<const float>(b_slot), *M = ctx.at<const float>(m_slot),
                  *V = ctx.at<const float>(v_slot);
      for (int64_t i = 0; i < c; ++i) {
        rs[i] = S[i] / std::sqrt(V[i] + eps);
        rb[i] = B[i] - M[i] * rs[i];
      }
      sc = rs.data();
      sh = rb.data();
    }
    if (nhwc) {
      const int64_t pixels = n * spatial;
      for (int64_t p = 0; p < pixels; ++p)
        for (int64_t i = 0; i < c; ++i) y[p * c + i] = x[p * c + i] * sc[i] + sh[i];
    } else {
      for (int64_t plane = 0; plane < n * c; ++plane) {
        const float a = sc[plane % c], bb = sh[plane % c];
        for (int64_t i = 0; i < spatial; ++i) y[plane * spatial + i] = x[plane * spatial + i] * a + bb;
      }
    }
  }
};

class SoftmaxKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int64_t outer = 1, len = 1, inner = 1;
  bool log = false;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const float* xr = x + o * len * inner + i;
        float* yr = y + o * len * inner + i;
        if (inner == 1 && !log) {
          kernels::hwy::softmax_row_f32(xr, yr, static_cast<size_t>(len));
          continue;
        }
        float mx = -INFINITY;
        for (int64_t j = 0; j < len; ++j) mx = std::max(mx, xr[j * inner]);
        double sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += std::exp(static_cast<double>(xr[j * inner] - mx));
        if (log) {
          const float ls = static_cast<float>(std::log(sum));
          for (int64_t j = 0; j < len; ++j) yr[j * inner] = xr[j * inner] - mx - ls;
        } else {
          for (int64_t j = 0; j < len; ++j) yr[j * inner] = static_cast<float>(std::exp(static_cast<double>(xr[j * inner] - mx)) / sum);
        }
      }
  }
};

enum class ReduceKind { kMean, kSum, kMax, kMin, kProd, kL1, kL2, kLogSum, kLogSumExp, kSumSquare };

// Accumulates in double; LogSumExp subtracts the running max first so that exp cannot overflow.
template <typename T>
class ReduceKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  ReduceKind kind;
  Shape in_shape;
  std::vector<int64_t> out_stride_of_in;  // per input dim: stride in the output (0 if reduced)
  int64_t out_n = 0, group = 1;           // group = elements reduced into each output
  void run(const ExecContext& ctx) const override {
    const T* x = ctx.at<const T>(in);
    T* y = ctx.at<T>(out);
    const bool extreme = kind == ReduceKind::kMax || kind == ReduceKind::kMin || kind == ReduceKind::kLogSumExp;
    std::vector<double> acc(static_cast<size_t>(out_n), kind == ReduceKind::kProd ? 1.0 : 0.0);
    std::vector<double> top(extreme ? static_cast<size_t>(out_n) : 0, kind == ReduceKind::kMin ? INFINITY : -INFINITY);
    const int64_t total = numel(in_shape);
    const size_t r = in_shape.size();
    auto for_each = [&](auto&& f) {
      for (int64_t i = 0; i < total; ++i) {
        int64_t rem = i, o = 0;
        for (size_t d = r; d-- > 0;) {
          o += (rem % in_shape[d]) * out_stride_of_in[d];
          rem /= in_shape[d];
        }
        f(o, static_cast<double>(x[i]));
      }
    };
    if (extreme) for_each([&](int64_t o, double v) { top[o] = kind == ReduceKind::kMin ? std::min(top[o], v) : std::max(top[o], v); });
    for_each([&](int64_t o, double v) {
      switch (kind) {
        case ReduceKind::kMean:
        case ReduceKind::kSum:
        case ReduceKind::kLogSum: acc[o] += v; break;
        case ReduceKind::kMax:
        case ReduceKind::kMin: break;
        case ReduceKind::kProd: acc[o] *= v; break;
        case ReduceKind::kL1: acc[o] += std::fabs(v); break;
        case ReduceKind::kL2:
        case ReduceKind::kSumSquare: acc[o] += v * v; break;
        case ReduceKind::kLogSumExp: acc[o] += std::exp(v - top[o]); break;
      }
    });
    for (int64_t o = 0; o < out_n; ++o) {
      double v = acc[o];
      switch (kind) {
        case ReduceKind::kMean: v /= static_cast<double>(group); break;
        case ReduceKind::kMax:
        case ReduceKind::kMin: v = top[o]; break;
        case ReduceKind::kL2: v = std::sqrt(v); break;
        case ReduceKind::kLogSum: v = std::log(v); break;
        case ReduceKind::kLogSumExp: v = std::isinf(top[o]) ? top[o] : top[o] + std::log(v); break;
        default: break;
      }
      y[o] = static_cast<T>(v);
    }
  }
};

// ArgMax / ArgMin along one axis: the first (or with select_last_index the last) extreme's index.
template <typename T>
class ArgExtremeKernel final : public Kernel {
 public:
  int32_t in = -1, out = -1;
  int64_t outer = 1, len = 1, inner = 1;
  bool is_max = true, last = false;
  void run(const ExecContext& ctx) const override {
    const T* x = ctx.at<const T>(in);
    int64_t* y = ctx.at<int64_t>(out);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        const T* row = x + o * len * inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < len; ++j) {
          const T v = row[j * inner], b = row[best * inner];
          const bool better = is_max ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
          if (better) best = j;
        }
        y[o * inner + i] = best;
      }
  }
};

void compile_softmax_common(Builder& b, bool log) {
  b.check_dtype(0, {DType::kF32});
  const Value& x = b.input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  auto k = std::make_unique<SoftmaxKernel>();
  k->log = log;
  if (b.opset() < 13) {  // coerced to 2-D at axis: softmax over the flattened tail
    const int64_t axis = normalize_axis(b.node().attr_int("axis", 1), std::max<int64_t>(r, 1), b);
    for (int64_t d = 0; d < r; ++d) (d < axis ? k->outer : k->len) *= x.shape[d];
  } else {
    const int64_t axis = normalize_axis(b.node().attr_int("axis", -1), r, b);
    for (int64_t d = 0; d < r; ++d) {
      if (d < axis) k->outer *= x.shape[d];
      if (d > axis) k->inner *= x.shape[d];
    }
    k->len = x.shape[axis];
  }
  k->in = b.input_plain(0);
  k->out = b.output(0, DType::kF32, x.shape);
  b.emit(std::move(k));
}

void compile_reduce(Builder& b, ReduceKind kind) {
  b.check_dtype(0, {DType::kF32, DType::kF64});
  const Value& x = b.input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> axes;
  const bool axes_as_input = kind == ReduceKind::kSum ? b.opset() >= 13 : b.opset() >= 18;
  if (axes_as_input) {
    if (b.has_input(1)) axes = tensor_to_i64(b.require_constant(1, "axes"));
  } else {
    axes = b.node().attr_ints("axes");
  }
  const bool keep = b.node().attr_int("keepdims", 1) != 0;
  std::vector<bool> reduced(static_cast<size_t>(r), false);
  if (axes.empty()) {
    if (b.node().attr_int("noop_with_empty_axes", 0) != 0) {
      b.output_view(0, 0, x.shape);
      return;
    }
    reduced.assign(static_cast<size_t>(r), true);
  }
  for (int64_t a : axes) reduced[normalize_axis(a, r, b)] = true;
  Shape out, kept;
  int64_t group = 1;
  for (int64_t d = 0; d < r; ++d) {
    if (reduced[d]) {
      group *= x.shape[d];
      if (keep) out.push_back(1);
    } else {
      out.push_back(x.shape[d]);
      kept.push_back(x.shape[d]);
    }
  }
  if (kind == ReduceKind::kMean && x.dtype == DType::kF32 && r == 4 && !reduced[0] && !reduced[1] && reduced[2] && reduced[3] &&
      !x.is_constant() && x.layout == Layout::kNHWC) {
    emit_spatial_mean_nhwc(b, out);
    return;
  }
  auto emit = [&]<typename T>() {
    auto k = std::make_unique<ReduceKernel<T>>();
    k->kind = kind;
    k->in_shape = x.shape;
    k->group = group;
    k->out_n = numel(kept);
    const auto kst = strides_of(kept);
    size_t j = 0;
    for (int64_t d = 0; d < r; ++d) k->out_stride_of_in.push_back(reduced[d] ? 0 : kst[j++]);
    k->in = b.input_plain(0);
    k->out = b.output(0, x.dtype, out);
    b.emit(std::move(k));
  };
  if (x.dtype == DType::kF32)
    emit.template operator()<float>();
  else
    emit.template operator()<double>();
}

void compile_arg_extreme(Builder& b, bool is_max) {
  const Value& x = b.input(0);
  const int64_t r = static_cast<int64_t>(x.shape.size());
  if (r == 0) b.invalid("the input is a scalar (no axis to reduce)");
  const int64_t axis = normalize_axis(b.node().attr_int("axis", 0), r, b);
  if (x.shape[axis] == 0) b.invalid("the reduced axis is empty");
  const bool keep = b.node().attr_int("keepdims", 1) != 0;
  const bool last = b.node().attr_int("select_last_index", 0) != 0;
  Shape out;
  for (int64_t d = 0; d < r; ++d)
    if (d != axis || keep) out.push_back(d == axis ? 1 : x.shape[d]);
  const AxisSplit split = split_around(x.shape, axis);
  const bool ok = dispatch_numeric(x.dtype, [&]<typename T>() {
    auto k = std::make_unique<ArgExtremeKernel<T>>();
    k->outer = split.outer;
    k->len = split.len;
    k->inner = split.inner;
    k->is_max = is_max;
    k->last = last;
    k->in = b.input_plain(0);
    k->out = b.output(0, DType::kI64, out);
    b.emit(std::move(k));
  });
  if (!ok) b.unsupported(std::string("dtype ") + dtype_name(x.dtype) + " not supported");
}

}  // namespace

void compile_batch_normalization(Builder& b) {
  const auto& node = b.node();
  if (node.attr_int("training_mode", 0) != 0 || b.num_outputs() > 1) b.unsupported("training mode (running statistics outputs)");
  for (size_t i = 0; i < 5; ++i) b.check_dtype(i, {DType::kF32});
  const Value& x = b.input(0);
  if (x.shape.size() < 2) b.invalid("input rank must be >= 2");
  const int64_t c = x.shape[1];
  for (size_t i = 1; i < 5; ++i)
    if (numel(b.input(i).shape) != c) b.invalid("parameter " + std::to_string(i) + " must have " + std::to_string(c) + " values");
  auto k = std::make_unique<ChannelAffineKernel>();
  k->eps = node.attr_float("epsilon", 1e-5f);
  k->n = x.shape[0];
  k->c = c;
  k->spatial = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) k->spatial *= x.shape[i];
  const Tensor *S = b.constant(1), *B = b.constant(2), *M = b.constant(3), *V = b.constant(4);
  if (S && B && M && V) {
    for (int64_t i = 0; i < c; ++i) {
      const float s = S->data<float>()[i] / std::sqrt(V->data<float>()[i] + k->eps);
      k->scale.push_back(s);
      k->shift.push_back(B->data<float>()[i] - M->data<float>()[i] * s);
    }
  } else {
    k->s_slot = b.input_plain(1);
    k->b_slot = b.input_plain(2);
    k->m_slot = b.input_plain(3);
    k->v_slot = b.input_plain(4);
  }
  Layout layout;
  k->in = b.input_any(0, &layout);
  k->nhwc = layout == Layout::kNHWC;
  k->out = b.output(0, DType::kF32, x.shape, layout);
  b.emit(std::move(k));
}

void compile_softmax(Builder& b) { compile_softmax_common(b, false); }
void compile_log_softmax(Builder& b) { compile_softmax_common(b, true); }
void compile_reduce_mean(Builder& b) { compile_reduce(b, ReduceKind::kMean); }
void compile_reduce_sum(Builder& b) { compile_reduce(b, ReduceKind::kSum); }
void compile_reduce_max(Builder& b) { compile_reduce(b, ReduceKind::kMax); }
void compile_reduce_min(Builder& b) { compile_reduce(b, ReduceKind::kMin); }
void compile_reduce_prod(Builder& b) { compile_reduce(b, ReduceKind::kProd); }
void compile_reduce_l1(Builder& b) { compile_reduce(b, ReduceKind::kL1); }
void compile_reduce_l2(Builder& b) { compile_reduce(b, ReduceKind::kL2); }
void compile_reduce_log_sum(Builder& b) { compile_reduce(b, ReduceKind::kLogSum); }
void compile_reduce_log_sum_exp(Builder& b) { compile_reduce(b, ReduceKind::kLogSumExp); }
void compile_reduce_sum_square(Builder& b) { compile_reduce(b, ReduceKind::kSumSquare); }
void compile_arg_max(Builder& b) { compile_arg_extreme(b, true); }
void compile_arg_min(Builder& b) { compile_arg_extreme(b, false); }

// ---- LayerNormalization and Hardmax (reference loops)

namespace {

// Rows of the input viewed as [outer, len] around `axis` (len = the product of the dims from axis on).
struct RowSplit {
  int64_t outer = 1, len = 1;
};
RowSplit split_at(const Shape& s, int64_t axis) {
  RowSplit r;
  for (size_t d = 0; d < s.size(); ++d) (static_cast<int64_t>(d) < axis ? r.outer : r.len) *= s[d];
  return r;
}

}  // namespace

// Y = (X - mean) / sqrt(var + epsilon) * Scale + B over the dims from axis on; Mean and InvStdDev
// (optional outputs) keep X's rank with 1s from axis on. Statistics in double (stash_type float or higher).
void compile_layer_normalization(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape shape = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(shape.size());
  const int64_t axis = normalize_axis(b.node().attr_int("axis", -1), r, b);
  const float eps = b.node().attr_float("epsilon", 1e-5f);
  const Shape norm_shape(shape.begin() + axis, shape.end());
  const RowSplit rows = split_at(shape, axis);
  // Scale and B broadcast to the normalized dims: their element for each position, found once here.
  std::vector<std::vector<int64_t>> param_offsets;
  std::vector<int32_t> params;
  for (size_t i = 1; i <= 2; ++i) {
    if (!b.has_input(i)) continue;
    b.check_dtype(i, {DType::kF32});
    if (broadcast_shapes(norm_shape, b.input(i).shape, b) != norm_shape) b.invalid("Scale and B must broadcast to X's normalized dims");
    std::vector<int64_t> offs(static_cast<size_t>(rows.len));
    BroadcastIndexer(norm_shape, {b.input(i).shape}).for_each([&](int64_t k, const int64_t* o) { offs[k] = o[0]; });
    param_offsets.push_back(std::move(offs));
    params.push_back(b.input_plain(i));
  }
  if (params.empty()) b.invalid("Scale is missing");
  Shape stat_shape = shape;
  for (int64_t d = axis; d < r; ++d) stat_shape[d] = 1;
  const int32_t in = b.input_plain(0), out = b.output(0, DType::kF32, shape);
  const int32_t mean_out = b.num_outputs() > 1 ? b.output(1, DType::kF32, stat_shape) : -1;
  const int32_t inv_out = b.num_outputs() > 2 ? b.output(2, DType::kF32, stat_shape) : -1;
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const float* scale = ctx.at<const float>(params[0]);
    const float* bias = params.size() > 1 ? ctx.at<const float>(params[1]) : nullptr;
    for (int64_t o = 0; o < rows.outer; ++o) {
      const float* xr = x + o * rows.len;
      double mean = 0, var = 0;
      for (int64_t j = 0; j < rows.len; ++j) mean += xr[j];
      mean /= static_cast<double>(rows.len);
      for (int64_t j = 0; j < rows.len; ++j) var += (xr[j] - mean) * (xr[j] - mean);
      var /= static_cast<double>(rows.len);
      const double inv = 1.0 / std::sqrt(var + eps);
      for (int64_t j = 0; j < rows.len; ++j) {
        double v = (xr[j] - mean) * inv * scale[param_offsets[0][j]];
        if (bias) v += bias[param_offsets[1][j]];
        y[o * rows.len + j] = static_cast<float>(v);
      }
      if (mean_out >= 0) ctx.at<float>(mean_out)[o] = static_cast<float>(mean);
      if (inv_out >= 0) ctx.at<float>(inv_out)[o] = static_cast<float>(inv);
    }
  });
}

// Hardmax: 1 at the first maximum along the axis (opset < 13: of the input flattened to 2-D at axis).
void compile_hardmax(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  const Shape shape = b.input(0).shape;
  const int64_t r = static_cast<int64_t>(shape.size());
  AxisSplit split;
  if (b.opset() < 13) {
    const RowSplit rows = split_at(shape, normalize_axis(b.node().attr_int("axis", 1), std::max<int64_t>(r, 1), b));
    split.outer = rows.outer;
    split.len = rows.len;
  } else {
    split = split_around(shape, normalize_axis(b.node().attr_int("axis", -1), r, b));
  }
  const int64_t outer = split.outer, len = split.len, inner = split.inner;
  const int32_t in = b.input_plain(0), out = b.output(0, DType::kF32, shape);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    std::fill(y, y + outer * len * inner, 0.f);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner && len > 0; ++i) {
        const int64_t base = o * len * inner + i;
        int64_t best = 0;
        for (int64_t j = 1; j < len; ++j)
          if (x[base + j * inner] > x[base + best * inner]) best = j;
        y[base + best * inner] = 1.f;
      }
  });
}

}  // namespace edgeq::runtime::detail
