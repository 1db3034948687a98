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
  int64_t row_align = 1;

  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    float* s = scratch >= 0 ? ctx.at<float>(scratch) : nullptr;
    run_row_tasks(ctx, params.total_rows(), row_align, [&](int64_t b, int64_t e, int64_t task) {
      kernels::hwy::conv2d_f32_nhwc(packed, params, x, y, b, e, s ? s + task * scratch_floats : nullptr);
    });
  }
};

// Plain NCHW direct convolution, up to 3 spatial dims.
class ConvPlainKernel final : public Kernel {
 public:
  int32_t x = -1, w = -1, bias = -1, y = -1;
  ConvGeometry geo;
  kernels::Activation act;

  void run(const ExecContext& ctx) const override {
    const float* X = ctx.at<const float>(x);
    const float* W = ctx.at<const float>(w);
    const float* B = bias >= 0 ? ctx.at<const float>(bias) : nullptr;
    float* Y = ctx.at<float>(y);
    ctx.parallel(geo.n * geo.m, [&](int64_t b, int64_t e) {
      for (int64_t nm = b; nm < e; ++nm) {
        float* yo = Y + nm * geo.out_size();
        geo.plane<float>(X, W, nm, B ? B[nm % geo.m] : 0.f, 0.f, 0.f,
                         [&](int64_t pos, float acc) { yo[pos] = kernels::apply_activation(act, acc); });
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
  const ConvSetup cs = conv_setup(b, x, w);
  const Window& win = cs.win;
  const int64_t n = cs.n, c = cs.c, m = cs.m, groups = cs.groups;
  const std::vector<int64_t>& kernel = win.kernel;
  if (b.has_input(2)) {
    b.check_dtype(2, {DType::kF32});
    if (numel(b.input(2).shape) != m) b.invalid("bias must have " + std::to_string(m) + " values");
  }
  const kernels::Activation act = fused_activation(node);
  const Shape& out_shape = cs.out_shape;

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
    k->packed = b.packed<kernels::PackedConv2dF32>("conv2d_f32", {wc, bc}, [&] {
      return kernels::hwy::pack_conv2d_f32(f, wc->data<float>(), bc ? bc->data<float>() : nullptr);
    });
    const kernels::Conv2dParams& p = k->params = conv2d_params(win, f, n, act);
    k->row_align = std::max<int64_t>(1, kernels::hwy::conv2d_f32_row_alignment(k->packed, p));
    k->in = b.input_nhwc(0);
    k->scratch_floats = (kernels::hwy::conv2d_f32_scratch_floats(k->packed, p) + 15) / 16 * 16;
    if (k->scratch_floats > 0) k->scratch = b.scratch(k->scratch_floats * sizeof(float) * static_cast<size_t>(row_tasks(b.threads(), p.total_rows())));
    k->out = b.output(0, DType::kF32, out_shape, Layout::kNHWC);
    k->label = node.label() + " [nhwc " + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) +
               (groups > 1 ? " g" + std::to_string(groups) : "") + activation_note(act) + "]";
    b.emit(std::move(k));
    return;
  }
  auto k = std::make_unique<ConvPlainKernel>();
  k->geo = ConvGeometry(win, n, c, m, groups);
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
  if (kind == "Silu") return kernels::Activation::silu();
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
    case kernels::ActivationKind::kSilu: return ", silu";
  }
  return "";
}

}  // namespace edgeq::runtime::detail
