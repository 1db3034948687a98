// Conv. 2-D convolutions with constant weights run channels-last on the kernels module (weights
// packed once here, bias and a fused activation in the epilogue, output rows split across threads).
// Other convolutions (1-D, 3-D, weights computed at run time, channels_last off) run a plain NCHW
// direct loop: correct for every attribute combination, not fast. Once a plan is compiled, a depthwise
// conv with the convs around it may become one depth-first step (fuse_depth_first_convs, below).
#include <cmath>
#include <cstring>
#include <optional>
#include <tuple>

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

// Padded input rows that `out_rows` consecutive output rows of a conv read (the window's extent for one).
int64_t window_rows(const kernels::Conv2dParams& p, int64_t out_rows) {
  return (out_rows - 1) * p.stride_h + (p.filter.kernel_h - 1) * p.dilation_h + 1;
}

// Output rows [o0, o1) of one image of a conv as a call of its own: the input rows [lo, hi) they read
// and one-image params over just those rows (pad_top / pad_bottom say where they sit in the image).
// Needs pads smaller than the window's extent (every output row then reads a row of the image).
struct StripCall {
  int64_t lo = 0, hi = 0;
  kernels::Conv2dParams params;
};
StripCall strip_call(const kernels::Conv2dParams& p, int64_t o0, int64_t o1) {
  const int64_t span = window_rows(p, o1 - o0);
  StripCall s;
  s.lo = std::max<int64_t>(0, o0 * p.stride_h - p.pad_top);
  s.hi = std::min(p.in_h, o0 * p.stride_h - p.pad_top + span);
  s.params = p;
  s.params.batch = 1;
  s.params.in_h = s.hi - s.lo;
  s.params.out_h = o1 - o0;
  s.params.pad_top = p.pad_top + s.lo - o0 * p.stride_h;
  s.params.pad_bottom = span - s.params.in_h - s.params.pad_top;
  return s;
}

// A depthwise conv with the convs around it (MobileNet's inverted residual: 1x1 expand -> depthwise ->
// 1x1 project; the stem -> depthwise -> project of its first block; or two of them), run strip by strip
// (fuse_depth_first_convs): per strip of `strip_rows` depthwise output rows, the first conv computes only
// the depthwise input rows the strip reads that the last strip did not (the overlap is moved to the front
// of `rows`), the depthwise writes the strip, and the projection reads it back while it is in L2. The two
// intermediate maps never go to memory: at 112x112 with 96 channels each is 4.8 MB, written once and read
// once by the layer-at-a-time plan. Each stage is the kernel the plan would run anyway, called on its rows
// as a one-image conv of their own (strip_call): the same bits.
class DepthFirstConvKernel final : public Kernel {
 public:
  struct Stage {
    kernels::PackedConv2dF32 packed;
    kernels::Conv2dParams params;
  };
  std::optional<Stage> expand, project;  // expand: any direct conv; project: 1x1, stride 1, unpadded
  Stage depthwise;
  int32_t in = -1, out = -1, work = -1;
  int64_t strip_rows = 1;
  size_t rows_floats = 0, strip_floats = 0, work_floats = 0;  // per task; work = rows + strip + stage scratch
  size_t stage_scratch_floats = 0;

  // Runs one stage's strip call, its scratch checked against what the plan gave it: an undersized slice
  // overwrites the next task's rows or another value of the arena (a wrong answer, not a crash).
  void call(const Stage& stage, const kernels::Conv2dParams& p, const float* in, float* out, float* scratch) const {
    if (kernels::hwy::conv2d_f32_scratch_floats(stage.packed, p) > stage_scratch_floats)
      throw Error(ErrorCode::kInternal, label + ": a strip needs more scratch than the plan holds");
    kernels::hwy::conv2d_f32_nhwc(stage.packed, p, in, out, 0, p.out_h, scratch);
  }

  void run(const ExecContext& ctx) const override {
    const kernels::Conv2dParams& d = depthwise.params;
    const float* x = ctx.at<const float>(in);
    float* y = ctx.at<float>(out);
    const int64_t in_row = d.in_w * d.filter.in_channels;  // floats per depthwise input row
    const int64_t x_row = expand ? expand->params.in_w * expand->params.filter.in_channels : in_row;
    const int64_t x_rows = expand ? expand->params.in_h : d.in_h;  // per image
    const int64_t y_row = d.out_w * (project ? project->params.filter.out_channels : d.filter.out_channels);
    run_row_tasks(ctx, d.total_rows(), 1, [&](int64_t b, int64_t e, int64_t task) {
      float* rows = ctx.at<float>(work) + static_cast<size_t>(task) * work_floats;
      float* strip = rows + rows_floats;
      float* scratch = strip + strip_floats;
      int64_t held_n = -1, held_lo = 0, held_hi = 0;  // the expanded input rows `rows` holds
      for (int64_t r = b; r < e;) {
        const int64_t n = r / d.out_h, o0 = r % d.out_h;
        const int64_t o1 = std::min({o0 + strip_rows, d.out_h, o0 + (e - r)});
        const StripCall dw = strip_call(d, o0, o1);
        const float* dw_in = x + (n * x_rows + dw.lo) * in_row;
        if (expand) {
          int64_t kept = 0;
          if (held_n == n && held_lo <= dw.lo && dw.lo < held_hi) {
            kept = std::min(held_hi, dw.hi) - dw.lo;
            std::memmove(rows, rows + (dw.lo - held_lo) * in_row, static_cast<size_t>(kept * in_row) * sizeof(float));
          }
          if (dw.lo + kept < dw.hi) {
            const StripCall ex = strip_call(expand->params, dw.lo + kept, dw.hi);
            call(*expand, ex.params, x + (n * x_rows + ex.lo) * x_row, rows + kept * in_row, scratch);
          }
          held_n = n;
          held_lo = dw.lo;
          held_hi = dw.hi;
          dw_in = rows;
        }
        float* y_strip = y + (n * d.out_h + o0) * y_row;
        call(depthwise, dw.params, dw_in, project ? strip : y_strip, scratch);
        if (project) call(*project, strip_call(project->params, o0, o1).params, strip, y_strip, scratch);
        r += o1 - o0;
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

namespace {

bool is_pointwise(const Conv2dNhwcKernel& k) {
  const kernels::Conv2dParams& p = k.params;
  return p.filter.kernel_h == 1 && p.filter.kernel_w == 1 && p.filter.groups == 1 && p.stride_h == 1 && p.stride_w == 1 &&
         p.pad_top == 0 && p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0 && !k.scale.active();
}

// A conv strip_call can split into row ranges: direct (no Winograd tiles spanning rows), unscaled, pads
// smaller than the window.
bool runs_by_rows(const Conv2dNhwcKernel& k) {
  const kernels::Conv2dParams& p = k.params;
  const int64_t extent = window_rows(p, 1);
  return k.row_align == 1 && !k.scale.active() && p.pad_top < extent && p.pad_bottom < extent;
}

bool is_depthwise(const Conv2dNhwcKernel& k) {
  const kernels::Conv2dFilter& f = k.params.filter;
  return f.groups > 1 && f.groups == f.in_channels && f.groups == f.out_channels && runs_by_rows(k);
}

// Slot s is written by kernel `producer` and read by kernel `consumer` alone. Its first use may come
// before the producer: a node's output slots live from the node's first kernel, a layout conversion of
// its input maybe.
bool passes_only_between(const Plan& plan, int32_t s, size_t producer, size_t consumer) {
  return plan.slots[static_cast<size_t>(s)].first_use <= static_cast<int32_t>(producer) &&
         plan.last_read_by(s, static_cast<int32_t>(consumer));
}

}  // namespace

// When a chain runs depth-first: an intermediate map (one image) of at least kDepthFirstMinMapBytes (about
// half the 1 MB L2 of the Zen 4/5 machines measured: smaller maps come back from L2 anyway, and MobileNetV2's
// 14x14x384 blocks ran slower split into strips), 1x1 weights of at most kDepthFirstMaxWeightBytes (every strip
// reads them again: EfficientNet-B0's 14x14 112->672 blocks, 300 KB of weights, ran 3 % slower fused), and
// strips whose buffers take kDepthFirstStripBytes (in `inspect --profile` totals of MobileNetV2-224, 256 KB
// strips ran 3.95 ms, 384 KB 3.91, 512 KB 3.94, 768 KB 3.93, none 4.2-4.5).
constexpr size_t kDepthFirstMinMapBytes = size_t{512} << 10;
constexpr size_t kDepthFirstMaxWeightBytes = size_t{128} << 10;
constexpr size_t kDepthFirstStripBytes = size_t{384} << 10;

void fuse_depth_first_convs(Plan& plan, int threads) {
  auto conv_at = [&](size_t i) {
    return i < plan.kernels.size() ? dynamic_cast<Conv2dNhwcKernel*>(plan.kernels[i].get()) : nullptr;
  };
  for (size_t i = 0; i < plan.kernels.size(); ++i) {
    Conv2dNhwcKernel* first = conv_at(i);
    if (!first) continue;
    Conv2dNhwcKernel* exp = first->params.filter.groups == 1 && runs_by_rows(*first) ? first : nullptr;
    const size_t dw_at = exp ? i + 1 : i;
    Conv2dNhwcKernel* dw = conv_at(dw_at);
    if (!dw || !is_depthwise(*dw)) continue;
    if (exp && (dw->in != exp->out || !passes_only_between(plan, exp->out, i, dw_at) ||
                exp->params.filter.out_channels != dw->params.filter.in_channels))
      continue;
    Conv2dNhwcKernel* proj = conv_at(dw_at + 1);
    if (proj && (!is_pointwise(*proj) || proj->in != dw->out || !passes_only_between(plan, dw->out, dw_at, dw_at + 1))) proj = nullptr;
    if (!exp && !proj) continue;
    const kernels::Conv2dParams& d = dw->params;
    const size_t in_image = static_cast<size_t>(d.in_h * d.in_w * d.filter.in_channels) * sizeof(float);
    const size_t out_image = static_cast<size_t>(d.out_h * d.out_w * d.filter.out_channels) * sizeof(float);
    if (std::max(exp ? in_image : 0, proj ? out_image : 0) < kDepthFirstMinMapBytes) continue;
    const size_t weight_bytes = ((exp ? exp->packed.weight_floats : 0) + (proj ? proj->packed.weight_floats : 0)) * sizeof(float);
    if (weight_bytes > kDepthFirstMaxWeightBytes) continue;

    auto k = std::make_unique<DepthFirstConvKernel>();
    if (exp) k->expand = DepthFirstConvKernel::Stage{exp->packed, exp->params};
    k->depthwise = {dw->packed, dw->params};
    if (proj) k->project = DepthFirstConvKernel::Stage{proj->packed, proj->params};
    const int64_t in_row = d.in_w * d.filter.in_channels, out_row = d.out_w * d.filter.out_channels;
    // The most rows whose buffers fit the budget (the expanded input rows and the depthwise strip).
    auto floats_for = [&](int64_t r) {
      return std::pair<size_t, size_t>{exp ? static_cast<size_t>(window_rows(d, r) * in_row) : 0, proj ? static_cast<size_t>(r * out_row) : 0};
    };
    int64_t rows = 1;
    while (rows < d.out_h) {
      const auto [a, bb] = floats_for(rows + 1);
      if ((a + bb) * sizeof(float) > kDepthFirstStripBytes) break;
      ++rows;
    }
    k->strip_rows = rows;
    std::tie(k->rows_floats, k->strip_floats) = floats_for(rows);
    // Stage scratch for the largest strip calls (a padded first conv's padded rows; none for the 1x1s): the
    // first conv computes up to every depthwise input row of a strip, (rows - 1) * stride + extent of them
    // where a task starts inside the image (a strip at the image's top reads fewer).
    size_t stage_scratch = 0;
    if (exp) stage_scratch = kernels::hwy::conv2d_f32_scratch_floats(exp->packed, strip_call(exp->params, 0, window_rows(d, rows)).params);
    if (proj) stage_scratch = std::max(stage_scratch, kernels::hwy::conv2d_f32_scratch_floats(proj->packed, strip_call(proj->params, 0, rows).params));
    k->stage_scratch_floats = stage_scratch;
    auto round16 = [](size_t f) { return (f + 15) / 16 * 16; };  // keeps each buffer 64-byte aligned
    k->rows_floats = round16(k->rows_floats);
    k->strip_floats = round16(k->strip_floats);
    k->work_floats = k->rows_floats + k->strip_floats + round16(stage_scratch);
    k->in = exp ? exp->in : dw->in;
    k->out = proj ? proj->out : dw->out;
    k->label = (exp ? exp->label + " + " : "") + dw->label + (proj ? " + " + proj->label : "") + " [depth-first, " +
               std::to_string(rows) + "-row strips]";

    // The plan: kernels [i, last] become k; the first intermediate slot becomes its work buffer.
    const size_t last = proj ? dw_at + 1 : dw_at;
    const int32_t work = exp ? exp->out : dw->out;
    std::vector<int32_t> dead;
    if (exp && proj) dead.push_back(dw->out);
    for (size_t j = i; j <= last; ++j)
      if (auto* c = conv_at(j); c->scratch >= 0) dead.push_back(c->scratch);
    k->work = work;
    const size_t work_bytes = k->work_floats * sizeof(float) * static_cast<size_t>(row_tasks(threads, d.total_rows()));
    plan.kernels[i] = std::move(k);  // `d` and the stage kernels are gone from here on
    plan.merge_steps(i, last);
    for (int32_t s : dead) plan.slots[static_cast<size_t>(s)].kind = Slot::Kind::kDead;
    Slot& w = plan.slots[static_cast<size_t>(work)];
    w.bytes = work_bytes;
    w.first_use = w.last_use = static_cast<int32_t>(i);
  }
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
