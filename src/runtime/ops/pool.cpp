// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool. A 2-D pool whose input is already
// channels-last (it follows a Conv) runs on the kernels module in NHWC; other pools run a plain
// NCHW loop over up to 3 spatial dims.
#include <cfloat>
#include <cmath>
#include <limits>
#include <type_traits>

#include "runtime/ops/common.h"
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

void compile_pool(Builder& b, bool is_max) {
  const auto& node = b.node();
  if (is_max)  // max commutes with quantization: the int8 path pools uint8 values
    b.check_dtype(0, {DType::kF32, DType::kU8, DType::kI8});
  else
    b.check_dtype(0, {DType::kF32});
  const DType dt = b.input(0).dtype;
  const Value& x = b.input(0);
  if (x.shape.size() < 3 || x.shape.size() > 5) b.unsupported("input rank " + std::to_string(x.shape.size()));
  if (is_max && b.has_output(1)) b.unsupported("the Indices output");
  if (is_max && node.attr_int("storage_order", 0) != 0) b.unsupported("storage_order=1");
  const auto kernel = node.attr_ints("kernel_shape");
  if (kernel.empty()) b.invalid("kernel_shape is required");
  std::vector<int64_t> spatial(x.shape.begin() + 2, x.shape.end());
  if (!is_max && node.find_attr("dilations") && b.opset() < 19) {
    for (int64_t dl : node.attr_ints("dilations"))
      if (dl != 1) b.unsupported("AveragePool dilations");
  }
  const Window w = make_window(b, spatial, kernel, true);
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
  // [N, C, 1, 1] is the same bytes in NCHW and NHWC, so the NHWC kernel's output needs no conversion.
  k->nhwc = !is_max && x.shape.size() == 4 && !x.is_constant() && x.layout == Layout::kNHWC;
  k->in = k->nhwc ? b.input_nhwc(0) : b.input_plain(0);
  k->out = b.output(0, DType::kF32, out_shape);
  k->label = b.node().label() + (k->nhwc ? " [nhwc]" : " [plain]");
  b.emit(std::move(k));
}

}  // namespace

void compile_max_pool(Builder& b) { compile_pool(b, true); }
void compile_average_pool(Builder& b) { compile_pool(b, false); }
void compile_global_average_pool(Builder& b) { compile_global_pool(b, false); }
void compile_global_max_pool(Builder& b) { compile_global_pool(b, true); }

}  // namespace edgeq::runtime::detail
