// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool. A 2-D pool whose input is already
// channels-last (it follows a Conv) runs on the kernels module in NHWC; other pools run a plain
// NCHW loop over up to 3 spatial dims.
#include <cfloat>
#include <cmath>

#include "runtime/ops/common.h"
#include "runtime/ops/window.h"

namespace edgeq::runtime::detail {

namespace {

class Pool2dNhwcKernel final : public Kernel {
 public:
  kernels::Pool2dParams params;
  bool is_max = true;
  int32_t in = -1, out = -1;
  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    auto body = [&](int64_t b, int64_t e) {
      if (is_max)
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

class PoolPlainKernel final : public Kernel {
 public:
  bool is_max = true, count_include_pad = false;
  int32_t in = -1, out = -1;
  int64_t nc = 0;
  int64_t i[3] = {1, 1, 1}, o[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, pb[3] = {0, 0, 0},
          pe[3] = {0, 0, 0};
  void run(const ExecContext& ctx) const override {
    const float* X = ctx.at<const float>(in);
    float* Y = ctx.at<float>(out);
    const int64_t isz = i[0] * i[1] * i[2], osz = o[0] * o[1] * o[2];
    ctx.parallel(nc, [&](int64_t b, int64_t e) {
      for (int64_t plane = b; plane < e; ++plane) {
        const float* xp = X + plane * isz;
        float* yp = Y + plane * osz;
        for (int64_t o0 = 0; o0 < o[0]; ++o0)
          for (int64_t o1 = 0; o1 < o[1]; ++o1)
            for (int64_t o2 = 0; o2 < o[2]; ++o2) {
              float acc = is_max ? -INFINITY : 0.f;
              int64_t count = 0, padded_count = 1;
              int64_t idx[3] = {o0, o1, o2};
              // Window positions inside the padded input, for count_include_pad.
              for (int dd = 0; dd < 3; ++dd) {
                int64_t cnt = 0;
                for (int64_t kk = 0; kk < k[dd]; ++kk) {
                  const int64_t p = idx[dd] * s[dd] - pb[dd] + kk * d[dd];
                  if (p >= -pb[dd] && p < i[dd] + pe[dd]) ++cnt;
                }
                padded_count *= cnt;
              }
              for (int64_t k0 = 0; k0 < k[0]; ++k0) {
                const int64_t i0 = o0 * s[0] - pb[0] + k0 * d[0];
                if (i0 < 0 || i0 >= i[0]) continue;
                for (int64_t k1 = 0; k1 < k[1]; ++k1) {
                  const int64_t i1 = o1 * s[1] - pb[1] + k1 * d[1];
                  if (i1 < 0 || i1 >= i[1]) continue;
                  for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const int64_t i2 = o2 * s[2] - pb[2] + k2 * d[2];
                    if (i2 < 0 || i2 >= i[2]) continue;
                    const float v = xp[(i0 * i[1] + i1) * i[2] + i2];
                    if (is_max)
                      acc = std::max(acc, v);
                    else
                      acc += v;
                    ++count;
                  }
                }
              }
              if (!is_max) acc /= static_cast<float>(count_include_pad ? padded_count : std::max<int64_t>(count, 1));
              yp[(o0 * o[1] + o1) * o[2] + o2] = acc;
            }
      }
    });
  }
};

void compile_pool(Builder& b, bool is_max) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kF32});
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
  if (x.shape.size() == 4 && !x.is_constant() && x.layout == Layout::kNHWC) {
    auto k = std::make_unique<Pool2dNhwcKernel>();
    auto& p = k->params;
    p.batch = x.shape[0];
    p.channels = x.shape[1];
    p.in_h = spatial[0];
    p.in_w = spatial[1];
    p.out_h = w.out[0];
    p.out_w = w.out[1];
    p.kernel_h = w.kernel[0];
    p.kernel_w = w.kernel[1];
    p.stride_h = w.strides[0];
    p.stride_w = w.strides[1];
    p.pad_top = w.pad_begin[0];
    p.pad_left = w.pad_begin[1];
    p.pad_bottom = w.pad_end[0];
    p.pad_right = w.pad_end[1];
    p.dilation_h = w.dilations[0];
    p.dilation_w = w.dilations[1];
    p.count_include_pad = count_include_pad;
    k->is_max = is_max;
    k->in = b.input_nhwc(0);
    k->out = b.output(0, DType::kF32, out_shape, Layout::kNHWC);
    k->label = node.label() + " [nhwc]";
    b.emit(std::move(k));
    return;
  }
  auto k = std::make_unique<PoolPlainKernel>();
  k->is_max = is_max;
  k->count_include_pad = count_include_pad;
  k->nc = x.shape[0] * x.shape[1];
  const size_t off = 3 - w.rank();
  for (size_t i = 0; i < w.rank(); ++i) {
    k->i[off + i] = w.in[i];
    k->o[off + i] = w.out[i];
    k->k[off + i] = w.kernel[i];
    k->s[off + i] = w.strides[i];
    k->d[off + i] = w.dilations[i];
    k->pb[off + i] = w.pad_begin[i];
    k->pe[off + i] = w.pad_end[i];
  }
  k->in = b.input_plain(0);
  k->out = b.output(0, DType::kF32, out_shape);
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
