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

// The channel scale of a fused Mul(x, s) ("edgeq.input_scale", passes.cpp): s holds `images` x
// `channels` values (each 1 or the conv's N / C: broadcast). Per image, the scale goes onto a copy
// of the packed weights when they are smaller than the input image (the squeeze-excitation's early,
// large maps) and onto a copy of the image otherwise (late maps, wide layers, Winograd weights).
struct InputScale {
  int32_t slot = -1, work = -1;  // s; scratch: the C-value scale, then the weights or image copy
  int64_t images = 1, channels = 1;
  bool onto_weights = false;
  bool active() const { return slot >= 0; }
  // The work floats: the scale padded to 16 (keeps the copy 64-byte aligned for the kernels' loads).
  static size_t scale_floats(int64_t c) { return static_cast<size_t>((c + 15) / 16 * 16); }
  // Expands image n's scale to `c` values in work.
  float* expand(const ExecContext& ctx, int64_t n, int64_t c) const {
    const float* s = ctx.at<const float>(slot) + (n % images) * channels;
    float* w = ctx.at<float>(work);
    for (int64_t i = 0; i < c; ++i) w[i] = s[channels == 1 ? 0 : i];
    return w;
  }
};

class Conv2dNhwcKernel final : public Kernel {
 public:
  kernels::PackedConv2dF32 packed;
  kernels::Conv2dParams params;
  int32_t in = -1, out = -1, scratch = -1;
  size_t scratch_floats = 0;  // per task
  int64_t row_align = 1;
  InputScale scale;

  void run(const ExecContext& ctx) const override {
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    if (scale.active()) return run_scaled(ctx, x, y);
    conv(ctx, packed, params, x, y);
  }

 private:
  void conv(const ExecContext& ctx, const kernels::PackedConv2dF32& pk, const kernels::Conv2dParams& p, const float* x,
            float* y) const {
    float* s = scratch >= 0 ? ctx.at<float>(scratch) : nullptr;
    run_row_tasks(ctx, p.total_rows(), row_align, [&](int64_t b, int64_t e, int64_t task) {
      kernels::hwy::conv2d_f32_nhwc(pk, p, x, y, b, e, s ? s + task * scratch_floats : nullptr);
    });
  }

  void run_scaled(const ExecContext& ctx, const float* x, float* y) const {
    const int64_t c = params.filter.in_channels;
    const int64_t in_image = params.in_h * params.in_w * c;
    const int64_t out_image = params.out_h * params.out_w * params.filter.out_channels;
    kernels::Conv2dParams one = params;
    one.batch = 1;
    for (int64_t n = 0; n < params.batch; ++n) {
      const float* sc = scale.expand(ctx, n, c);
      float* copy = ctx.at<float>(scale.work) + InputScale::scale_floats(c);
      const float* xn = x + n * in_image;
      if (scale.onto_weights) {
        conv(ctx, kernels::hwy::scale_conv2d_f32_input_channels(packed, sc, copy), one, xn, y + n * out_image);
        continue;
      }
      for (int64_t px = 0; px < in_image; px += c)
        for (int64_t i = 0; i < c; ++i) copy[px + i] = xn[px + i] * sc[i];
      conv(ctx, packed, one, copy, y + n * out_image);
    }
  }
};

// Plain NCHW direct convolution, up to 3 spatial dims.
class ConvPlainKernel final : public Kernel {
 public:
  int32_t x = -1, w = -1, bias = -1, y = -1;
  ConvGeometry geo;
  kernels::Activation act;
  InputScale scale;  // work: the scale, then the scaled input (NCHW)

  void run(const ExecContext& ctx) const override {
    const float* X = ctx.at<const float>(x);
    if (scale.active()) {
      float* copy = ctx.at<float>(scale.work) + InputScale::scale_floats(geo.c);
      const int64_t plane = geo.in_size();
      for (int64_t n = 0; n < geo.n; ++n) {
        const float* sc = scale.expand(ctx, n, geo.c);
        for (int64_t ch = 0; ch < geo.c; ++ch)
          for (int64_t i = 0; i < plane; ++i) copy[(n * geo.c + ch) * plane + i] = X[(n * geo.c + ch) * plane + i] * sc[ch];
      }
      X = copy;
    }
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
  // A fused Mul(x, s) (passes.cpp, ChannelScaleFusion): s must broadcast onto x as [N or 1, C or 1, 1...].
  InputScale scale;
  if (node.attr_int("edgeq.input_scale", 0) != 0) {
    if (!b.has_input(3)) b.invalid("the fused channel scale is missing");
    b.check_dtype(3, {DType::kF32});
    const Shape& ss = b.input(3).shape;
    bool fits = ss.size() == x.shape.size() && (ss[0] == 1 || ss[0] == n) && (ss[1] == 1 || ss[1] == c);
    for (size_t i = 2; fits && i < ss.size(); ++i) fits = ss[i] == 1;
    if (!fits) b.unsupported("the channel scale multiplied into its input must be [N, C, 1, 1], not " + shape_str(ss));
    scale.images = ss[0];
    scale.channels = ss[1];
  }

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
    const kernels::Conv2dParams& p = k->params = conv2d_params(win, f, n, act);
    // Packed for this call's shape (which Winograd transform, if any); the key keeps a filter shared by
    // convs of different map sizes packed once per choice.
    k->packed = b.packed<kernels::PackedConv2dF32>("conv2d_f32/" + std::to_string(kernels::hwy::conv2d_f32_packing(f, p)), {wc, bc}, [&] {
      return kernels::hwy::pack_conv2d_f32(f, wc->data<float>(), bc ? bc->data<float>() : nullptr, &p);
    });
    k->row_align = std::max<int64_t>(1, kernels::hwy::conv2d_f32_row_alignment(k->packed, p));
    k->in = b.input_nhwc(0);
    k->scratch_floats = (kernels::hwy::conv2d_f32_scratch_floats(k->packed, p) + 15) / 16 * 16;
    if (k->scratch_floats > 0) k->scratch = b.scratch(k->scratch_floats * sizeof(float) * static_cast<size_t>(row_tasks(b.threads(), p.total_rows())));
    if (b.has_input(3)) {
      Layout layout;  // [N, C, 1, 1]: the same bytes in either layout
      scale.slot = b.input_any(3, &layout);
      const int64_t in_image = p.in_h * p.in_w * c;
      scale.onto_weights = !k->packed.winograd_weights && static_cast<int64_t>(k->packed.weight_floats) <= in_image;
      scale.work = b.scratch((InputScale::scale_floats(c) + static_cast<size_t>(scale.onto_weights ? static_cast<int64_t>(k->packed.weight_floats) : in_image)) * sizeof(float));
      k->scale = scale;
    }
    k->out = b.output(0, DType::kF32, out_shape, Layout::kNHWC);
    k->label = node.label() + " [nhwc " + std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) +
               (groups > 1 ? " g" + std::to_string(groups) : "") + activation_note(act) +
               // conv2d_f32_row_alignment is the Winograd output tile when the call runs one, else 1
               (k->row_align > 1 ? ", winograd " + std::to_string(k->row_align) + "x" + std::to_string(k->row_align) : "") +
               (scale.active() ? (scale.onto_weights ? ", scaled weights" : ", scaled input") : "") + "]";
    b.emit(std::move(k));
    return;
  }
  auto k = std::make_unique<ConvPlainKernel>();
  k->geo = ConvGeometry(win, n, c, m, groups);
  k->act = act;
  k->x = b.input_plain(0);
  k->w = b.input_plain(1);
  if (b.has_input(2)) k->bias = b.input_plain(2);
  if (b.has_input(3)) {
    scale.slot = b.input_plain(3);
    scale.work = b.scratch((InputScale::scale_floats(c) + static_cast<size_t>(numel(x.shape))) * sizeof(float));
    k->scale = scale;
  }
  k->y = b.output(0, DType::kF32, out_shape);
  k->label = node.label() + " [plain" + activation_note(act) + (scale.active() ? ", scaled input" : "") + "]";
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
