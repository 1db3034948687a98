// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool. A 2-D pool whose input is already
// channels-last (it follows a Conv) runs on the kernels module in NHWC; other pools run a plain
// NCHW loop over up to 3 spatial dims.
#include <cfloat>
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ops/generic.h"
#include "runtime/ops/window.h"

namespace edgeq::runtime::detail {

namespace {

class Pool2dNhwcKernel final : public Kernel {
 public:
  kernels::Pool2dParams params;
  bool is_max = true;
  bool u8 = false;  // uint8 max pooling (the int8 path)
  int32_t in = -1, out = -1;
  bool as_max_pool2(MaxPool2* pool) const override {
    const auto& p = params;
    if (!u8 || !is_max || p.kernel_h != 2 || p.kernel_w != 2 || p.stride_h != 2 || p.stride_w != 2 || p.dilation_h != 1 ||
        p.dilation_w != 1 || p.pad_top != 0 || p.pad_left != 0 || p.pad_bottom != 0 || p.pad_right != 0)
      return false;
    *pool = MaxPool2{in, out, p.batch, p.channels, p.in_h, p.in_w, p.out_h, p.out_w};
    return true;
  }
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    auto body = [&](int64_t b, int64_t e) {
      if (u8)
        kernels::hwy::max_pool2d_u8_nhwc(params, ctx.at<const uint8_t>(in), ctx.at<uint8_t>(out), b, e);
      else if (is_max)
        kernels::hwy::max_pool2d_f32_nhwc(params, x, y, b, e);
      else
        kernels::hwy::avg_pool2d_f32_nhwc(params, x, y, b, e);
    };
    const int64_t rows = params.total_rows();
    if (rows * params.out_w * params.channels < kParallelGrain)
      body(0, rows);
    else
      ctx.parallel(rows, body);
  }
};

class PoolPlainBase : public Kernel {
 public:
  bool is_max = true, count_include_pad = false;
  int32_t in = -1, out = -1;
  int64_t nc = 0;
  Window3 w;
};

template <typename T>
class PoolPlainKernel final : public PoolPlainBase {
 public:
  void run(const ExecContext& ctx) const override {
    const T* X = ctx.at<const T>(in);
    T* Y = ctx.at<T>(out);
    const int64_t isz = w.in[0] * w.in[1] * w.in[2], osz = w.out[0] * w.out[1] * w.out[2];
    constexpr T lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::lowest();
    ctx.parallel(nc, [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const T* xp = X + plane * isz;
        T* yp = Y + plane * osz;
        for (int64_t o0 = 0; o0 < w.out[0]; ++o0)
          for (int64_t o1 = 0; o1 < w.out[1]; ++o1)
            for (int64_t o2 = 0; o2 < w.out[2]; ++o2) {
              T acc = is_max ? lowest : T{0};
              int64_t count = 0, padded_count = 1;
              int64_t idx[3] = {o0, o1, o2};
              // Window positions inside the padded input, for count_include_pad.
              for (int dd = 0; dd < 3; ++dd) {
                int64_t cnt = 0;
                for (int64_t kk = 0; kk < w.k[dd]; ++kk) {
                  const int64_t p = idx[dd] * w.s[dd] - w.p[dd] + kk * w.d[dd];
                  if (p >= -w.p[dd] && p < w.in[dd] + w.pe[dd]) ++cnt;
                }
                padded_count *= cnt;
              }
              for (int64_t k0 = 0; k0 < w.k[0]; ++k0) {
                const int64_t i0 = o0 * w.s[0] - w.p[0] + k0 * w.d[0];
                if (i0 < 0 || i0 >= w.in[0]) continue;
                for (int64_t k1 = 0; k1 < w.k[1]; ++k1) {
                  const int64_t i1 = o1 * w.s[1] - w.p[1] + k1 * w.d[1];
                  if (i1 < 0 || i1 >= w.in[1]) continue;
                  for (int64_t k2 = 0; k2 < w.k[2]; ++k2) {
                    const int64_t i2 = o2 * w.s[2] - w.p[2] + k2 * w.d[2];
                    if (i2 < 0 || i2 >= w.in[2]) continue;
                    const T v = xp[(i0 * w.in[1] + i1) * w.in[2] + i2];
                    if (is_max)
                      acc = std::max(acc, v);
                    else
                      acc += v;
                    ++count;
                  }
                }
              }
              if constexpr (std::is_floating_point_v<T>)
                if (!is_max) acc /= static_cast<T>(count_include_pad ? padded_count : std::max<int64_t>(count, 1));
              yp[(o0 * w.out[1] + o1) * w.out[2] + o2] = acc;
            }
      }
    });
  }
};

template <typename T>
std::unique_ptr<PoolPlainBase> make_plain_pool(const Window& w, const Value& x, bool is_max, bool count_include_pad) {
  auto k = std::make_unique<PoolPlainKernel<T>>();
  k->is_max = is_max;
  k->count_include_pad = count_include_pad;
  k->nc = x.shape[0] * x.shape[1];
  k->w = Window3(w);
  return k;
}

// MaxPool with its Indices output (reference loops, float32, any spatial rank): each index is the
// flat position of the maximum in X, spatial dims row-major (storage_order 0) or column-major (1).
void compile_max_pool_with_indices(Builder& b, const Window& w) {
  b.check_dtype(0, {DType::kF32});
  const Shape xs = b.input(0).shape;
  const bool column_major = b.node().attr_int("storage_order", 0) != 0;
  Shape out{xs[0], xs[1]};
  out.insert(out.end(), w.out.begin(), w.out.end());
  const int32_t in = b.input_plain(0), values = b.output(0, DType::kF32, out), indices = b.output(1, DType::kI64, out);
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(values);
    int64_t* ix = ctx.at<int64_t>(indices);
    const size_t r = w.rank();
    const int64_t planes = xs[0] * xs[1], in_n = numel(w.in), out_n = numel(w.out), k_n = numel(w.kernel);
    std::vector<int64_t> o(r), k(r);
    for (int64_t p = 0; p < planes; ++p)
      for (int64_t oi = 0; oi < out_n; ++oi) {
        for (int64_t rem = oi, d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
          o[d] = rem % w.out[d];
          rem /= w.out[d];
        }
        float best = -INFINITY;
        int64_t best_at = -1;
        for (int64_t ki = 0; ki < k_n; ++ki) {
          for (int64_t rem = ki, d = static_cast<int64_t>(r) - 1; d >= 0; --d) {
            k[d] = rem % w.kernel[d];
            rem /= w.kernel[d];
          }
          int64_t row = 0, col = 0;  // the position, row-major and column-major
          bool inside = true;
          for (size_t d = 0; d < r && inside; ++d) {
            const int64_t pos = o[d] * w.strides[d] + k[d] * w.dilations[d] - w.pad_begin[d];
            inside = pos >= 0 && pos < w.in[d];
            row = row * w.in[d] + pos;
          }
          for (size_t d = r; d-- > 0 && inside;) {
            const int64_t pos = o[d] * w.strides[d] + k[d] * w.dilations[d] - w.pad_begin[d];
            col = col * w.in[d] + pos;
          }
          if (inside && (best_at < 0 || x[p * in_n + row] > best)) {
            best = x[p * in_n + row];
            best_at = p * in_n + (column_major ? col : row);
          }
        }
        y[p * out_n + oi] = best;
        ix[p * out_n + oi] = best_at;
      }
  });
}

void compile_pool(Builder& b, bool is_max) {
  const auto& node = b.node();
  if (is_max)  // max commutes with quantization: the int8 path pools uint8 values
    b.check_dtype(0, {DType::kF32, DType::kU8, DType::kI8});
  else
    b.check_dtype(0, {DType::kF32});
  const DType dt = b.input(0).dtype;
  const Value& x = b.input(0);
  if (x.shape.size() < 3 || x.shape.size() > 5) b.unsupported("input rank " + std::to_string(x.shape.size()));
  const auto kernel = node.attr_ints("kernel_shape");
  if (kernel.empty()) b.invalid("kernel_shape is required");
  std::vector<int64_t> spatial(x.shape.begin() + 2, x.shape.end());
  if (!is_max && node.find_attr("dilations") && b.opset() < 19) {
    for (int64_t dl : node.attr_ints("dilations"))
      if (dl != 1) b.unsupported("AveragePool dilations");
  }
  const Window w = make_window(b, spatial, kernel, true);
  if (is_max && b.has_output(1)) return compile_max_pool_with_indices(b, w);
  const bool count_include_pad = node.attr_int("count_include_pad", 0) != 0;
  Shape out_shape{x.shape[0], x.shape[1]};
  for (int64_t o : w.out) out_shape.push_back(o);
  if (x.shape.size() == 4 && !x.is_constant() && x.layout == Layout::kNHWC && dt != DType::kI8) {
    auto k = std::make_unique<Pool2dNhwcKernel>();
    k->u8 = dt == DType::kU8;
    auto& p = k->params;
    p.batch = x.shape[0];
    p.channels = x.shape[1];
    fill_window2d(p, w);
    p.kernel_h = w.kernel[0];
    p.kernel_w = w.kernel[1];
    p.count_include_pad = count_include_pad;
    k->is_max = is_max;
    k->in = b.input_nhwc(0);
    k->out = b.output(0, dt, out_shape, Layout::kNHWC);
    k->label = node.label() + (k->u8 ? " [nhwc u8]" : " [nhwc]");
    b.emit(std::move(k));
    return;
  }
  std::unique_ptr<PoolPlainBase> k = dt == DType::kU8   ? make_plain_pool<uint8_t>(w, x, is_max, count_include_pad)
                              : dt == DType::kI8 ? make_plain_pool<int8_t>(w, x, is_max, count_include_pad)
                                                 : make_plain_pool<float>(w, x, is_max, count_include_pad);
  k->in = b.input_plain(0);
  k->out = b.output(0, dt, out_shape);
  k->label = node.label() + " [plain]";
  b.emit(std::move(k));
}

class GlobalPoolKernel final : public Kernel {
 public:
  bool is_max = false, nhwc = false;
  int32_t in = -1, out = -1;
  int64_t n = 0, c = 0, spatial = 0;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    if (nhwc) {  // only average pools take this path
      kernels::hwy::global_avg_pool_f32_nhwc(x, y, spatial, c, 0, n);
      return;
    }
    ctx.parallel(n * c, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const float* xp = x + p * spatial;
        float acc = is_max ? -INFINITY : 0.f;
        for (int64_t i = 0; i < spatial; ++i) acc = is_max ? std::max(acc, xp[i]) : acc + xp[i];
        y[p] = is_max ? acc : acc / static_cast<float>(spatial);
      }
    });
  }
};

void compile_global_pool(Builder& b, bool is_max) {
  b.check_dtype(0, {DType::kF32});
  const Value& x = b.input(0);
  if (x.shape.size() < 3) b.invalid("input rank must be >= 3");
  auto k = std::make_unique<GlobalPoolKernel>();
  k->is_max = is_max;
  k->n = x.shape[0];
  k->c = x.shape[1];
  k->spatial = 1;
  for (size_t i = 2; i < x.shape.size(); ++i) k->spatial *= x.shape[i];
  Shape out_shape(x.shape.size(), 1);
  out_shape[0] = x.shape[0];
  out_shape[1] = x.shape[1];
  if (!is_max && x.shape.size() == 4 && !x.is_constant() && x.layout == Layout::kNHWC) {
    emit_spatial_mean_nhwc(b, out_shape);
    return;
  }
  k->in = b.input_plain(0);
  k->out = b.output(0, DType::kF32, out_shape);
  k->label = b.node().label() + " [plain]";
  b.emit(std::move(k));
}

}  // namespace

void emit_spatial_mean_nhwc(Builder& b, const Shape& out_shape) {
  const Value& x = b.input(0);
  auto k = std::make_unique<GlobalPoolKernel>();
  k->n = x.shape[0];
  k->c = x.shape[1];
  k->spatial = x.shape[2] * x.shape[3];
  // [N, C, 1, 1] (or [N, C]) is the same bytes in NCHW and NHWC, so the output needs no conversion.
  k->nhwc = true;
  k->in = b.input_nhwc(0);
  k->out = b.output(0, DType::kF32, out_shape);
  k->label = b.node().label() + " [nhwc]";
  b.emit(std::move(k));
}

void compile_max_pool(Builder& b) { compile_pool(b, true); }

// MaxUnpool: zeros of the unpooled shape (or output_shape) with X's values at their flat Indices.
void compile_max_unpool(Builder& b) {
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kI64});
  const Shape xs = b.input(0).shape;
  if (xs.size() < 3 || b.input(1).shape != xs) b.invalid("X must have rank >= 3 and I its shape");
  const auto kernel = b.node().attr_ints("kernel_shape");
  if (kernel.size() != xs.size() - 2) b.invalid("kernel_shape must have one value per spatial dim");
  auto strides = b.node().attr_ints("strides"), pads = b.node().attr_ints("pads");
  if (strides.empty()) strides.assign(kernel.size(), 1);
  if (pads.empty()) pads.assign(2 * kernel.size(), 0);
  if (strides.size() != kernel.size() || pads.size() != 2 * kernel.size()) b.invalid("strides and pads must match kernel_shape");
  Shape out{xs[0], xs[1]};
  for (size_t d = 0; d < kernel.size(); ++d) {
    if (strides[d] < 1 || kernel[d] < 1) b.invalid("kernel_shape and strides must be positive");
    out.push_back((xs[d + 2] - 1) * strides[d] + kernel[d] - pads[d] - pads[d + kernel.size()]);
  }
  // Indices address the unpooled shape; a larger output_shape keeps each value at its coordinates.
  const Shape unpooled = out;
  if (b.has_input(2)) {
    const auto given = tensor_to_i64(b.require_constant(2, "output_shape"));
    if (given.size() != xs.size()) b.invalid("output_shape must have one value per dim");
    out.assign(given.begin(), given.end());
  }
  for (size_t d = 0; d < out.size(); ++d)
    if (unpooled[d] < 0 || out[d] < unpooled[d]) b.invalid("the output would be smaller than the unpooled " + shape_str(unpooled));
  const int64_t n_in = numel(xs), n_out = numel(out), n_unpooled = numel(unpooled);
  const auto out_strides = strides_of(out);
  const int32_t in = b.input_plain(0), idx = b.input_plain(1), o = b.output(0, DType::kF32, out);
  const std::string where = b.node().label();
  emit_closure(b, [=](const ExecContext& ctx) {
    const float* x = ctx.at<const float>(in);
    const int64_t* ix = ctx.at<const int64_t>(idx);
    float* y = ctx.at<float>(o);
    std::fill(y, y + n_out, 0.f);
    for (int64_t i = 0; i < n_in; ++i) {
      if (ix[i] < 0 || ix[i] >= n_unpooled) throw Error(ErrorCode::kInvalidArgument, where + ": index " + std::to_string(ix[i]) + " outside the output");
      int64_t at = 0;
      for (int64_t rem = ix[i], d = static_cast<int64_t>(unpooled.size()) - 1; d >= 0; --d) {
        at += (rem % unpooled[d]) * out_strides[d];
        rem /= unpooled[d];
      }
      y[at] = x[i];
    }
  });
}
void compile_average_pool(Builder& b) { compile_pool(b, false); }
void compile_global_average_pool(Builder& b) { compile_global_pool(b, false); }
void compile_global_max_pool(Builder& b) { compile_global_pool(b, true); }

}  // namespace edgeq::runtime::detail
