// Conv. 2-D convolutions with constant weights run channels-last on the kernels module (weights
// packed once here, bias and a fused activation in the epilogue, output rows split across threads).
// Other convolutions (1-D, 3-D, weights computed at run time, channels_last off) run a plain NCHW
// direct loop: correct for every attribute combination, not fast.
#include <cmath>
#include <cstring>

#include "runtime/ops/common.h"
#include "runtime/ops/window.h"

namespace edgeq::runtime::detail {

namespace {

class Conv2dNhwcKernel final : public Kernel {
 public:
  kernels::PackedConv2dF32 packed;
  kernels::Conv2dParams params;
  int32_t in = -1, out = -1, scratch = -1;
  size_t scratch_floats = 0;  // per task

  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    float* s = scratch >= 0 ? ctx.at<float>(scratch) : nullptr;
    const int64_t rows = params.total_rows();
    const int64_t tasks = std::min<int64_t>(ctx.threads(), rows);
    if (tasks <= 1) {
      kernels::hwy::conv2d_f32_nhwc(packed, params, x, y, 0, rows, s);
      return;
    }
    // One task per thread, each with its own scratch: a task runs on exactly one thread.
    ctx.parallel(tasks, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t)
        kernels::hwy::conv2d_f32_nhwc(packed, params, x, y, rows * t / tasks, rows * (t + 1) / tasks,
                                      s ? s + t * scratch_floats : nullptr);
    });
  }
};

// Plain NCHW direct convolution, up to 3 spatial dims (missing dims are 1).
class ConvPlainKernel final : public Kernel {
 public:
  int32_t x = -1, w = -1, bias = -1, y = -1;
  int64_t n = 0, c = 0, m = 0, groups = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0};
  kernels::Activation act;

  void run(const ExecContext& ctx) const override {
    const float* X = ctx.at<const float>(x);
    const float* W = ctx.at<const float>(w);
    const float* B = bias >= 0 ? ctx.at<const float>(bias) : nullptr;
    float* Y = ctx.at<float>(y);
    const int64_t cg = c / groups, mg = m / groups;
    const int64_t in_sz = in[0] * in[1] * in[2], out_sz = out[0] * out[1] * out[2], k_sz = k[0] * k[1] * k[2];
    ctx.parallel(n * m, [&](int64_t b, int64_t e) {
      for (int64_t nm = b; nm < e; ++nm) {
        const int64_t img = nm / m, oc = nm % m, g = oc / mg;
        float* yo = Y + nm * out_sz;
        for (int64_t o0 = 0; o0 < out[0]; ++o0)
          for (int64_t o1 = 0; o1 < out[1]; ++o1)
            for (int64_t o2 = 0; o2 < out[2]; ++o2) {
              float acc = B ? B[oc] : 0.f;
              for (int64_t ic = 0; ic < cg; ++ic) {
                const float* xc = X + (img * c + g * cg + ic) * in_sz;
                const float* wc = W + (oc * cg + ic) * k_sz;
                for (int64_t k0 = 0; k0 < k[0]; ++k0) {
                  const int64_t i0 = o0 * s[0] - p[0] + k0 * d[0];
                  if (i0 < 0 || i0 >= in[0]) continue;
                  for (int64_t k1 = 0; k1 < k[1]; ++k1) {
                    const int64_t i1 = o1 * s[1] - p[1] + k1 * d[1];
                    if (i1 < 0 || i1 >= in[1]) continue;
                    for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                      const int64_t i2 = o2 * s[2] - p[2] + k2 * d[2];
                      if (i2 < 0 || i2 >= in[2]) continue;
                      acc += xc[(i0 * in[1] + i1) * in[2] + i2] * wc[(k0 * k[1] + k1) * k[2] + k2];
                    }
                  }
                }
              }
              yo[(o0 * out[1] + o1) * out[2] + o2] = kernels::apply_activation(act, acc);
            }
      }
    });
  }
};

}  // namespace

void compile_conv(Builder& b) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kF32});
  b.check_dtype(1, {DType::kF32});
  const Value& x = b.input(0);
  const Value& w = b.input(1);
  if (x.shape.size() < 3 || x.shape.size() > 5) b.unsupported("input rank " + std::to_string(x.shape.size()) + " (1-D to 3-D convolutions only)");
  if (w.shape.size() != x.shape.size()) b.invalid("weight rank differs from input rank");
  const int64_t groups = node.attr_int("group", 1);
  const int64_t n = x.shape[0], c = x.shape[1], m = w.shape[0];
  if (groups < 1 || c % groups != 0 || m % groups != 0 || w.shape[1] * groups != c)
    b.invalid("channels " + std::to_string(c) + " / group " + std::to_string(groups) + " do not match weight " + shape_str(w.shape));
  std::vector<int64_t> spatial(x.shape.begin() + 2, x.shape.end());
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  if (auto ks = node.attr_ints("kernel_shape"); !ks.empty() && ks != kernel) b.invalid("kernel_shape does not match the weight");
  const Window win = make_window(b, spatial, kernel, false);
  if (b.has_input(2)) {
    b.check_dtype(2, {DType::kF32});
    if (numel(b.input(2).shape) != m) b.invalid("bias must have " + std::to_string(m) + " values");
  }
  const kernels::Activation act = fused_activation(node);
  Shape out_shape{n, m};
  for (int64_t o : win.out) out_shape.push_back(o);

  const Tensor* wc = b.constant(1);
  const Tensor* bc = b.has_input(2) ? b.constant(2) : nullptr;
  const bool bias_ok = !b.has_input(2) || bc != nullptr;
  if (x.shape.size() == 4 && b.channels_last() && wc && bias_ok) {
    auto k = std::make_unique<Conv2dNhwcKernel>();
    kernels::Conv2dFilter f;
    f.out_channels = m;
    f.in_channels = c;
    f.kernel_h = kernel[0];
    f.kernel_w = kernel[1];
    f.groups = groups;
    k->packed = kernels::hwy::pack_conv2d_f32(f, wc->data<float>(), bc ? bc->data<float>() : nullptr);
    auto& p = k->params;
    p.filter = f;
    p.batch = n;
    p.in_h = spatial[0];
    p.in_w = spatial[1];
    p.out_h = win.out[0];
    p.out_w = win.out[1];
    p.stride_h = win.strides[0];
    p.stride_w = win.strides[1];
    p.pad_top = win.pad_begin[0];
    p.pad_left = win.pad_begin[1];
    p.pad_bottom = win.pad_end[0];
    p.pad_right = win.pad_end[1];
    p.dilation_h = win.dilations[0];
    p.dilation_w = win.dilations[1];
    p.activation = act;
    k->in = b.input_nhwc(0);
    const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(b.threads(), p.total_rows()));
    k->scratch_floats = (kernels::hwy::conv2d_f32_scratch_floats(k->packed, p) + 15) / 16 * 16;
    if (k->scratch_floats > 0) k->scratch = b.scratch(k->scratch_floats * sizeof(float) * static_cast<size_t>(tasks));
    k->out = b.output(0, DType::kF32, out_shape, Layout::kNHWC);
    k->label = node.label() + " [nhwc " + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) +
               (groups > 1 ? " g" + std::to_string(groups) : "") + activation_note(act) + "]";
    b.emit(std::move(k));
    return;
  }
  auto k = std::make_unique<ConvPlainKernel>();
  k->n = n;
  k->c = c;
  k->m = m;
  k->groups = groups;
  const size_t off = 3 - win.rank();
  for (size_t i = 0; i < win.rank(); ++i) {
    k->in[off + i] = win.in[i];
    k->out[off + i] = win.out[i];
    k->k[off + i] = win.kernel[i];
    k->s[off + i] = win.strides[i];
    k->d[off + i] = win.dilations[i];
    k->p[off + i] = win.pad_begin[i];
  }
  k->act = act;
  k->x = b.input_plain(0);
  k->w = b.input_plain(1);
  if (b.has_input(2)) k->bias = b.input_plain(2);
  k->y = b.output(0, DType::kF32, out_shape);
  k->label = node.label() + " [plain" + activation_note(act) + "]";
  b.emit(std::move(k));
}

kernels::Activation fused_activation(const onnx::Node& node) {
  const std::string kind = node.attr_string("edgeq.activation", "");
  if (kind.empty()) return kernels::Activation::none();
  if (kind == "Relu") return kernels::Activation::relu();
  if (kind == "LeakyRelu") return kernels::Activation::leaky_relu(node.attr_float("edgeq.alpha", 0.01f));
  if (kind == "Clip")
    return kernels::Activation::clip(node.attr_float("edgeq.clip_min", -INFINITY), node.attr_float("edgeq.clip_max", INFINITY));
  throw Error(ErrorCode::kInternal, node.label() + ": unknown fused activation '" + kind + "'");
}

std::string activation_note(const kernels::Activation& act) {
  switch (act.kind) {
    case kernels::ActivationKind::kNone: return "";
    case kernels::ActivationKind::kRelu: return ", relu";
    case kernels::ActivationKind::kClip: return ", clip";
    case kernels::ActivationKind::kLeakyRelu: return ", leaky_relu";
  }
  return "";
}

}  // namespace edgeq::runtime::detail
