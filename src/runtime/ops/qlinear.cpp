// Integer operators: QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger and com.microsoft QGemm
// (what onnxruntime's quantizer writes in QOperator form, and what the runtime's QDQ fusion pass turns
// DequantizeLinear -> Conv/Gemm -> QuantizeLinear groups into).
//
// Fast paths: a 2-D QLinearConv and a QGemm with uint8 activations, constant int8 weights (zero point 0),
// constant scales and a uint8 output run the kernels module's exact u8 x s8 kernels (channels-last conv,
// packed gemm; a fused Relu/Clip becomes the output clamp range). Everything else runs plain loops that
// follow the ONNX definitions: int32 sums of (x - x_zero_point) * (w - w_zero_point), then
// saturate(round_half_to_even(acc * x_scale * w_scale / y_scale) + y_zero_point).
#include <cmath>
#include <limits>
#include <optional>

#include "runtime/ops/common.h"
#include "runtime/ops/window.h"

namespace edgeq::runtime::detail {

namespace {

// The requantization of one int32 sum; for uint8 the same arithmetic as kernels::requantize_u8.
template <typename TY>
TY requantize_to(int32_t acc, float multiplier, int32_t zero_point, int32_t lo, int32_t hi) {
  float r = std::nearbyint(static_cast<float>(acc) * multiplier);
  const float flo = static_cast<float>(lo - zero_point), fhi = static_cast<float>(hi - zero_point);
  r = r < flo ? flo : (r > fhi ? fhi : r);
  return static_cast<TY>(static_cast<int32_t>(r) + zero_point);
}

int32_t read_int(const void* p, DType d, int64_t i) {
  switch (d) {
    case DType::kU8: return static_cast<const uint8_t*>(p)[i];
    case DType::kI8: return static_cast<const int8_t*>(p)[i];
    default: return static_cast<const int32_t*>(p)[i];
  }
}

// A quantization parameter pair read at run time: scale[i] and zero_point[i] (i = 0 when per-tensor).
struct QParamSlots {
  int32_t scale = -1, zero_point = -1;
  DType zero_dtype = DType::kU8;
  bool per_element = false;  // one value per row / column / channel
  float scale_at(const ExecContext& ctx, int64_t i) const { return ctx.at<const float>(scale)[per_element ? i : 0]; }
  int32_t zero_at(const ExecContext& ctx, int64_t i) const {
    return zero_point < 0 ? 0 : read_int(ctx.ptrs[zero_point], zero_dtype, per_element ? i : 0);
  }
};

// scale input si (may be -1 for none), zero point input zi (optional); `count` = values allowed per element.
QParamSlots qparam_slots(Builder& b, int si, size_t zi, int64_t count, const char* what) {
  QParamSlots q;
  if (si >= 0) {
    b.check_dtype(static_cast<size_t>(si), {DType::kF32});
    const int64_t ns = numel(b.input(static_cast<size_t>(si)).shape);
    if (ns != 1 && ns != count) b.invalid(std::string(what) + " scale has " + std::to_string(ns) + " values (1 or " + std::to_string(count) + " allowed)");
    q.per_element = ns != 1;
    q.scale = b.input_plain(static_cast<size_t>(si));
  }
  if (b.has_input(zi)) {
    const int64_t nz = numel(b.input(zi).shape);
    if (nz != 1 && nz != count) b.invalid(std::string(what) + " zero point has " + std::to_string(nz) + " values (1 or " + std::to_string(count) + " allowed)");
    if (si >= 0 && nz != numel(b.input(static_cast<size_t>(si)).shape)) b.invalid(std::string(what) + " zero point and scale differ in size");
    if (si < 0) q.per_element = nz != 1;
    q.zero_dtype = b.input(zi).dtype;
    q.zero_point = b.input_plain(zi);
  }
  return q;
}

// The clamp range a fused activation (internal attributes from the QDQ fusion pass) gives the output.
template <typename TY>
void activation_range(const kernels::Activation& act, float y_scale, int32_t y_zero, int32_t* lo, int32_t* hi) {
  *lo = std::numeric_limits<TY>::min();
  *hi = std::numeric_limits<TY>::max();
  auto q = [&](float v) {  // QuantizeLinear of a bound; monotonic, so clamping commutes with it
    const float r = std::nearbyint(v / y_scale) + static_cast<float>(y_zero);
    return static_cast<int32_t>(std::clamp(r, static_cast<float>(*lo), static_cast<float>(*hi)));
  };
  if (act.kind == kernels::ActivationKind::kRelu) *lo = std::max(*lo, q(0.f));
  if (act.kind == kernels::ActivationKind::kClip) {
    if (std::isfinite(act.clip_min)) *lo = std::max(*lo, q(act.clip_min));
    if (std::isfinite(act.clip_max)) *hi = std::min(*hi, q(act.clip_max));
  }
}

// Output stage of the plain kernels: int32 as it is (ConvInteger, MatMulInteger) or requantized.
template <typename TY>
struct OutputStage {
  QParamSlots y;  // unused for int32
  kernels::Activation act;
  TY apply(int32_t acc, float in_scale_product, const ExecContext& ctx) const {
    if constexpr (std::is_same_v<TY, int32_t>) {
      return acc;
    } else {
      const float ys = y.scale_at(ctx, 0);
      const int32_t yz = y.zero_at(ctx, 0);
      int32_t lo, hi;
      activation_range<TY>(act, ys, yz, &lo, &hi);
      return requantize_to<TY>(acc, in_scale_product / ys, yz, lo, hi);
    }
  }
};

// ---- convolution

template <typename TX, typename TW, typename TY>
class IntConvPlainKernel final : public Kernel {
 public:
  ConvGeometry geo;
  int32_t x = -1, w = -1, bias = -1, y = -1;
  QParamSlots xq, wq;  // wq per output channel
  OutputStage<TY> out;
  void run(const ExecContext& ctx) const override {
    const TX* X = ctx.at<const TX>(x);
    const TW* W = ctx.at<const TW>(w);
    const int32_t* B = bias >= 0 ? ctx.at<const int32_t>(bias) : nullptr;
    TY* Y = ctx.at<TY>(y);
    ctx.parallel(geo.n * geo.m, [&](int64_t b, int64_t e) {
      for (int64_t nm = b; nm < e; ++nm) {
        const int64_t oc = nm % geo.m;
        TY* yo = Y + nm * geo.out_size();
        const float in_scale = xq.scale < 0 ? 0.f : xq.scale_at(ctx, 0) * wq.scale_at(ctx, oc);
        geo.plane<int32_t>(X, W, nm, B ? B[oc] : 0, xq.zero_at(ctx, 0), wq.zero_at(ctx, oc),
                           [&](int64_t pos, int32_t acc) { yo[pos] = out.apply(acc, in_scale, ctx); });
      }
    });
  }
};

// QLinearConv on the int8 kernels: u8 NHWC in and out, s8 weights packed once.
class QConv2dNhwcKernel final : public Kernel {
 public:
  kernels::PackedConv2dQ8 packed;
  kernels::Conv2dParams params;
  kernels::QuantU8Params quant;
  int32_t in = -1, out = -1, scratch = -1;
  size_t scratch_bytes = 0;  // per task
  int64_t row_align = 1;
  bool max_pool2 = false;  // absorbed the 2x2 max pool after it: `out` is the pooled image
  void run(const ExecContext& ctx) const override {
    const uint8_t* x = ctx.at<const uint8_t>(in);
    uint8_t* y = ctx.at<uint8_t>(out);
    auto* s = scratch >= 0 ? ctx.at<std::byte>(scratch) : nullptr;
    // Pooled rows are fewer than conv rows, so their tasks fit the scratch sized for the conv's.
    const int64_t rows = max_pool2 ? params.batch * (params.out_h / 2) : params.total_rows();
    run_row_tasks(ctx, rows, max_pool2 ? 1 : row_align, [&](int64_t b, int64_t e, int64_t task) {
      std::byte* scratch_at = s ? s + task * scratch_bytes : nullptr;
      if (max_pool2)
        kernels::hwy::conv2d_qu8_qc8w_maxpool2_nhwc(packed, params, quant, x, y, b, e, scratch_at);
      else
        kernels::hwy::conv2d_qu8_qc8w_nhwc(packed, params, quant, x, y, b, e, scratch_at);
    });
  }
  // The max commutes with the requantization only while it is monotone: every multiplier > 0.
  bool absorb_max_pool2(const MaxPool2& pool, const std::string& pool_label) override {
    const auto& p = params;
    if (max_pool2 || pool.in != out || pool.batch != p.batch || pool.channels != p.filter.out_channels ||
        pool.in_h != p.out_h || pool.in_w != p.out_w || pool.out_h != p.out_h / 2 || pool.out_w != p.out_w / 2)
      return false;
    for (int64_t c = 0; c < p.filter.out_channels; ++c)
      if (!(packed.multipliers[c] > 0.f)) return false;
    if (!kernels::hwy::conv2d_qu8_qc8w_maxpool2_supported(packed, p)) return false;
    max_pool2 = true;
    out = pool.out;
    label += " + " + pool_label;
    return true;
  }
};

// fill(new K<TX, TW, TY>) for the output type: int32 (the *Integer ops), uint8 or int8.
template <template <typename, typename, typename> class K, typename TX, typename TW, typename Fill>
void with_output_type(DType ydt, Fill&& fill) {
  if (ydt == DType::kI32)
    fill(std::make_unique<K<TX, TW, int32_t>>());
  else if (ydt == DType::kU8)
    fill(std::make_unique<K<TX, TW, uint8_t>>());
  else
    fill(std::make_unique<K<TX, TW, int8_t>>());
}

// Calls f.template operator()<TX, TW>() for the (u8|s8) x (u8|s8) input types.
template <typename F>
void dispatch_int8_pair(Builder& b, DType x, DType w, F&& f) {
  auto with_w = [&]<typename TX>() {
    if (w == DType::kU8)
      f.template operator()<TX, uint8_t>();
    else
      f.template operator()<TX, int8_t>();
  };
  if (x == DType::kU8)
    with_w.template operator()<uint8_t>();
  else
    with_w.template operator()<int8_t>();
}

bool all_zero(const Tensor& t) {
  for (float v : tensor_to_f32(t))
    if (v != 0.f) return false;
  return true;
}

// The fast QLinearConv: false when its conditions do not hold (the plain kernel runs instead).
bool try_qconv_nhwc(Builder& b, const Window& win, int64_t groups, const kernels::Activation& act, const Shape& out_shape) {
  const Value& x = b.input(0);
  const Tensor* w = b.constant(3);
  if (x.shape.size() != 4 || !b.channels_last() || x.dtype != DType::kU8 || !w || w->dtype() != DType::kI8) return false;
  if (!b.has_input(7) || b.input(7).dtype != DType::kU8) return false;
  for (size_t i : {1, 2, 4, 5, 6, 7})
    if (!b.constant(i)) return false;
  if (!all_zero(*b.constant(5))) return false;
  if (b.has_input(8) && !b.constant(8)) return false;
  const float xs = tensor_to_f32(*b.constant(1))[0], ys = tensor_to_f32(*b.constant(6))[0];
  const int32_t xz = static_cast<int32_t>(tensor_to_f32(*b.constant(2))[0]);
  const int32_t yz = static_cast<int32_t>(tensor_to_f32(*b.constant(7))[0]);
  const std::vector<float> ws = tensor_to_f32(*b.constant(4));
  const int64_t m = w->shape()[0];
  std::vector<float> mult(static_cast<size_t>(m));
  for (int64_t c = 0; c < m; ++c) mult[c] = xs * ws[ws.size() == 1 ? 0 : c] / ys;
  kernels::Conv2dFilter f;
  f.out_channels = m;
  f.in_channels = x.shape[1];
  f.kernel_h = w->shape()[2];
  f.kernel_w = w->shape()[3];
  f.groups = groups;
  auto k = std::make_unique<QConv2dNhwcKernel>();
  const Tensor* bias = b.has_input(8) ? b.constant(8) : nullptr;
  k->params = conv2d_params(win, f, x.shape[0], kernels::Activation::none());
  // The pack decides the method (target, layout, tile) from the node's stride and dilation, once per
  // session: every plan's kernel runs the one stored in k->packed.method.
  k->packed = b.packed<kernels::PackedConv2dQ8>("conv2d_qu8", {w, bias, b.constant(1), b.constant(4), b.constant(6)}, [&] {
    return kernels::hwy::pack_conv2d_qu8_qc8w(k->params, w->data<int8_t>(), bias ? bias->data<int32_t>() : nullptr, mult.data());
  });
  k->quant.input_zero_point = xz;
  k->quant.output_zero_point = yz;
  activation_range<uint8_t>(act, ys, yz, &k->quant.output_min, &k->quant.output_max);
  k->row_align = std::max<int64_t>(1, kernels::hwy::conv2d_qu8_qc8w_row_alignment(k->packed, k->params));
  k->in = b.input_nhwc(0);
  k->scratch_bytes = (kernels::hwy::conv2d_qu8_qc8w_scratch_bytes(k->packed, k->params) + 63) / 64 * 64;
  if (k->scratch_bytes > 0)
    k->scratch = b.scratch(k->scratch_bytes * static_cast<size_t>(row_tasks(b.threads(), k->params.total_rows())));
  k->out = b.output(0, DType::kU8, out_shape, Layout::kNHWC);
  k->label = b.node().label() + " [int8 nhwc " + std::to_string(f.kernel_h) + "x" + std::to_string(f.kernel_w) +
             (groups > 1 ? " g" + std::to_string(groups) : "") +
             (kernels::hwy::conv2d_qu8_qc8w_depthwise(k->packed) ? " depthwise" : "") + activation_note(act) + "]";
  b.emit(std::move(k));
  return true;
}

// Shared by QLinearConv (quantized = true: inputs x, xs, xz, w, ws, wz, ys, yz, B) and ConvInteger
// (inputs x, w, xz, wz; int32 output).
void compile_int_conv(Builder& b, bool quantized) {
  const auto& node = b.node();
  const size_t xi = 0, wi = quantized ? 3 : 1;
  b.check_dtype(xi, {DType::kU8, DType::kI8});
  b.check_dtype(wi, {DType::kU8, DType::kI8});
  const Value& x = b.input(xi);
  const Value& w = b.input(wi);
  const ConvSetup cs = conv_setup(b, x, w);
  const Window& win = cs.win;
  const int64_t n = cs.n, c = cs.c, m = cs.m, groups = cs.groups;
  const Shape& out_shape = cs.out_shape;
  const kernels::Activation act = fused_activation(node);
  if (quantized) {
    if (b.has_input(8)) {
      b.check_dtype(8, {DType::kI32});
      if (numel(b.input(8).shape) != m) b.invalid("bias must have " + std::to_string(m) + " values");
    }
    if (!b.has_input(7) && !b.has_input(6)) b.invalid("y_scale is required");
    if (try_qconv_nhwc(b, win, groups, act, out_shape)) return;
  }
  const DType ydt = quantized ? (b.has_input(7) ? b.input(7).dtype : DType::kU8) : DType::kI32;
  if (quantized && ydt != DType::kU8 && ydt != DType::kI8) b.unsupported(std::string("output type ") + dtype_name(ydt));
  auto build = [&]<typename TX, typename TW>() {
    auto fill = [&](auto k) {
      k->geo = ConvGeometry(win, n, c, m, groups);
      k->x = b.input_plain(xi);
      k->w = b.input_plain(wi);
      if (quantized) {
        k->xq = qparam_slots(b, 1, 2, 1, "x");
        k->wq = qparam_slots(b, 4, 5, m, "w");
        k->out.y = qparam_slots(b, 6, 7, 1, "y");
        k->out.act = act;
        if (b.has_input(8)) k->bias = b.input_plain(8);
      } else {
        k->xq = qparam_slots(b, -1, 2, 1, "x");
        k->wq = qparam_slots(b, -1, 3, m, "w");
      }
      k->y = b.output(0, ydt, out_shape);
      k->label = node.label() + " [plain]";
      b.emit(std::move(k));
    };
    with_output_type<IntConvPlainKernel, TX, TW>(ydt, fill);
  };
  dispatch_int8_pair(b, x.dtype, w.dtype, build);
}

// ---- matrix products

template <typename TA, typename TB, typename TY>
class IntMatMulPlainKernel final : public Kernel {
 public:
  MatMulGeometry g;
  bool trans_a = false, trans_b = false;
  int32_t a = -1, bm = -1, bias = -1, y = -1;
  QParamSlots aq, bq;  // aq per row of A, bq per column of B
  OutputStage<TY> out;
  bool has_scales = false;
  // A constant 2-D B with its zero points subtracted, [K][N] int16 (dynamic int8's MatMulInteger with
  // int8 weights): the inner loop is then a plain widening multiply-add the compiler vectorizes.
  std::vector<int16_t> b_centered;

  void run(const ExecContext& ctx) const override {
    const TA* A = ctx.at<const TA>(a);
    const TB* B = ctx.at<const TB>(bm);
    const int32_t* C = bias >= 0 ? ctx.at<const int32_t>(bias) : nullptr;
    TY* Y = ctx.at<TY>(y);
    const int64_t m = g.m, k = g.k, n = g.n;
    ctx.parallel(g.batch * m, [&](int64_t rb, int64_t re) {
      std::vector<int32_t> acc(static_cast<size_t>(n)), bz(static_cast<size_t>(n));
      for (int64_t j = 0; j < n; ++j) bz[j] = bq.zero_at(ctx, j);
      for (int64_t r = rb; r < re; ++r) {
        const int64_t bi = r / m, i = r % m;
        const TA* Ab = A + g.a_offset[bi];
        const TB* Bb = B + g.b_offset[bi];
        const int32_t az = aq.zero_at(ctx, i);
        for (int64_t j = 0; j < n; ++j) acc[j] = C ? C[j] : 0;
        for (int64_t p = 0; p < k; ++p) {
          const int32_t av = static_cast<int32_t>(trans_a ? Ab[p * m + i] : Ab[i * k + p]) - az;
          if (!b_centered.empty()) {
            accumulate_row(acc.data(), static_cast<int16_t>(av), b_centered.data() + p * n, n);
          } else if (trans_b) {
            for (int64_t j = 0; j < n; ++j) acc[j] += av * (static_cast<int32_t>(Bb[j * k + p]) - bz[j]);
          } else {
            const TB* brow = Bb + p * n;
            for (int64_t j = 0; j < n; ++j) acc[j] += av * (static_cast<int32_t>(brow[j]) - bz[j]);
          }
        }
        TY* yr = Y + r * n;
        const float as = has_scales ? aq.scale_at(ctx, i) : 0.f;
        for (int64_t j = 0; j < n; ++j) yr[j] = out.apply(acc[j], has_scales ? as * bq.scale_at(ctx, j) : 0.f, ctx);
      }
    });
  }

  // Done at compile time when B is a constant matrix; |b - zero point| <= 255 fits int16.
  void center_constant_b(const Tensor& b, const Tensor* zero) {
    b_centered.resize(static_cast<size_t>(g.k * g.n));
    for (int64_t p = 0; p < g.k; ++p)
      for (int64_t j = 0; j < g.n; ++j) {
        const int64_t src = trans_b ? j * g.k + p : p * g.n + j;
        const int32_t z = zero ? read_int(zero->raw(), zero->dtype(), zero->numel() == 1 ? 0 : j) : 0;
        b_centered[p * g.n + j] = static_cast<int16_t>(static_cast<int32_t>(b.data<TB>()[src]) - z);
      }
  }

 private:
  // acc[j] += a * b[j]; |a| <= 255 and |b| <= 255, so each product fits int32 and the loop is an
  // int16 x int16 -> int32 multiply-add.
  static void accumulate_row(int32_t* __restrict acc, int16_t a, const int16_t* __restrict b, int64_t n) {
    for (int64_t j = 0; j < n; ++j) acc[j] += static_cast<int32_t>(a) * static_cast<int32_t>(b[j]);
  }
};


struct MatMulInputs {
  size_t a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero, bias;  // SIZE_MAX = none
};
constexpr size_t kNone = SIZE_MAX;

// The plain integer matrix product; `float_out` (QGemm without y_scale) dequantizes instead.
void emit_int_matmul(Builder& b, const MatMulInputs& in, const MatMulGeometry& g, bool trans_a, bool trans_b, DType ydt) {
  const int64_t a_rows = g.m;
  auto build = [&]<typename TA, typename TB>() {
    auto fill = [&](auto k) {
      k->g = g;
      k->trans_a = trans_a;
      k->trans_b = trans_b;
      k->a = b.input_plain(in.a);
      k->bm = b.input_plain(in.b);
      const bool scales = in.a_scale != kNone;
      k->has_scales = scales;
      k->aq = qparam_slots(b, scales ? static_cast<int>(in.a_scale) : -1, in.a_zero, a_rows, "a");
      k->bq = qparam_slots(b, scales ? static_cast<int>(in.b_scale) : -1, in.b_zero, g.n, "b");
      if (in.y_scale != kNone) {
        k->out.y = qparam_slots(b, static_cast<int>(in.y_scale), in.y_zero, 1, "y");
        k->out.act = fused_activation(b.node());
      }
      if (in.bias != kNone && b.has_input(in.bias)) {
        b.check_dtype(in.bias, {DType::kI32});
        if (numel(b.input(in.bias).shape) != g.n) b.unsupported("a bias other than one value per column");
        k->bias = b.input_plain(in.bias);
      }
      const Tensor* bconst = b.constant(in.b);
      const Tensor* bzero = in.b_zero != kNone && b.has_input(in.b_zero) ? b.constant(in.b_zero) : nullptr;
      const bool centered = bconst && g.b_is_matrix && g.batch == 1 && (bzero || in.b_zero == kNone || !b.has_input(in.b_zero));
      if (centered) k->center_constant_b(*bconst, bzero);
      k->y = b.output(0, ydt, g.out);
      k->label = b.node().label() + (centered ? " [plain, int16 B]" : " [plain]");
      b.emit(std::move(k));
    };
    with_output_type<IntMatMulPlainKernel, TA, TB>(ydt, fill);
  };
  dispatch_int8_pair(b, b.input(in.a).dtype, b.input(in.b).dtype, build);
}

// QGemm on the packed int8 gemm kernel: u8 A (plain or a flattened NHWC value), s8 constant B.
// The packed int8 gemm kernel: u8 A (plain or a flattened NHWC value), s8 constant B. Out = uint8_t
// requantizes (QGemm), int32_t gives the sums (MatMulInteger), whose A zero point may be a run-time
// value (DynamicQuantizeLinear's output): a_zero >= 0 names its slot.
template <typename Out>
class GemmPackedKernel final : public Kernel {
 public:
  kernels::PackedGemmQ8 packed;
  kernels::QuantU8Params quant;
  int32_t a = -1, c = -1, scratch = -1;
  QParamSlots a_zero;  // int32 output only: the per-tensor zero point of A when it is not a constant
  int64_t m = 0, k = 0, n = 0;
  size_t scratch_bytes = 0;  // per task
  void run(const ExecContext& ctx) const override {
    const uint8_t* A = ctx.at<const uint8_t>(a);
    Out* C = ctx.at<Out>(c);
    auto* s = scratch >= 0 ? ctx.at<std::byte>(scratch) : nullptr;
    kernels::QuantU8Params q = quant;
    if (a_zero.zero_point >= 0) q.input_zero_point = a_zero.zero_at(ctx, 0);
    auto gemm = [&](const kernels::GemmRange& r, std::byte* task_scratch) {
      if constexpr (std::is_same_v<Out, uint8_t>) {
        kernels::hwy::gemm_qu8_qc8w(packed, q, A, k, C, n, r, task_scratch);
      } else {
        kernels::hwy::gemm_qu8_qc8w_s32(packed, q.input_zero_point, A, k, C, n, r, task_scratch);
      }
    };
    if (ctx.threads() <= 1 || m * n * k < 65536) {
      gemm({0, m, 0, n}, s);
      return;
    }
    const int64_t panels = (n + kernels::kPanelChannels - 1) / kernels::kPanelChannels;
    const int64_t tasks = std::min<int64_t>(ctx.threads(), m >= ctx.threads() ? m : panels);
    ctx.parallel(tasks, [&](int64_t tb, int64_t te) {
      for (int64_t t = tb; t < te; ++t) {
        kernels::GemmRange r{0, m, 0, n};
        if (m >= ctx.threads()) {
          r.m_begin = m * t / tasks;
          r.m_end = m * (t + 1) / tasks;
        } else {
          r.n_begin = panels * t / tasks * kernels::kPanelChannels;
          r.n_end = std::min(n, panels * (t + 1) / tasks * kernels::kPanelChannels);
        }
        gemm(r, s ? s + t * scratch_bytes : nullptr);
      }
    });
  }
};

// Packs constant s8 B (permuted for a flattened NHWC A) and wires A, C and the scratch; the caller sets
// the quantization and the label, then emits.
// `sources`: the constants bias and mult were computed from (keys of the session's pack cache).
template <typename Out>
std::unique_ptr<GemmPackedKernel<Out>> make_gemm_packed(Builder& b, const Tensor& w, int64_t m, int64_t k, int64_t n, bool trans_b,
                                                        const int32_t* bias, const float* mult, const std::vector<const Tensor*>& sources,
                                                        bool* flat_nhwc) {
  const Value& a = b.input(0);
  *flat_nhwc = a.layout == Layout::kFlatNHWC;
  std::vector<const Tensor*> keys = sources;
  keys.push_back(&w);
  const std::string what = "gemm_qu8 " + std::to_string(k) + "x" + std::to_string(n) + (trans_b ? " nk" : " kn") +
                           (*flat_nhwc ? flat_nhwc_key(a.flat_dims) : "");
  auto kern = std::make_unique<GemmPackedKernel<Out>>();
  kern->packed = b.packed<kernels::PackedGemmQ8>(what, keys, [&] {
    const int8_t* wdata = w.data<int8_t>();
    std::vector<int8_t> permuted;
    if (*flat_nhwc) {
      permuted = permute_flat_nhwc_rows(wdata, k, n, trans_b, a.flat_dims);
      wdata = permuted.data();
    }
    return kernels::hwy::pack_gemm_qu8_qc8w(wdata, k, n, trans_b ? kernels::BLayout::kNK : kernels::BLayout::kKN, bias, mult);
  });
  kern->m = m;
  kern->k = k;
  kern->n = n;
  kern->scratch_bytes = (kernels::hwy::gemm_qu8_qc8w_scratch_bytes(kern->packed) + 63) / 64 * 64;
  if (kern->scratch_bytes > 0) kern->scratch = b.scratch(kern->scratch_bytes * static_cast<size_t>(std::max(1, b.threads())));
  kern->a = *flat_nhwc ? b.input_flat_nhwc(0) : b.input_plain(0);
  return kern;
}

// QGemm without y_scale: the int32 sums (bias included) times a_scale * b_scale[n], onnxruntime's float
// output (MLAS's scale output processor: float(sum) * scale, in that order, so the same bits), then the
// fused activation in float.
class DequantizeSumsKernel final : public Kernel {
 public:
  int32_t sums = -1, out = -1;
  int64_t m = 0, n = 0;
  std::vector<float> scale;  // per column, or one
  kernels::Activation act;
  void run(const ExecContext& ctx) const override {
    const int32_t* s = ctx.at<const int32_t>(sums);
    float* y = ctx.at<float>(out);
    const bool per_column = scale.size() > 1;
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j)
        y[i * n + j] = kernels::apply_activation(act, static_cast<float>(s[i * n + j]) * scale[per_column ? j : 0]);
  }
};

bool try_qgemm_packed(Builder& b, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b, float alpha) {
  const Value& a = b.input(0);
  const Tensor* w = b.constant(3);
  if (trans_a || alpha != 1.f || a.dtype != DType::kU8 || !w || w->dtype() != DType::kI8) return false;
  const bool float_out = !b.has_input(7);
  if (!float_out && (!b.has_input(8) || b.input(8).dtype != DType::kU8)) return false;
  for (size_t i : {1, 2, 4, 5})
    if (!b.constant(i)) return false;
  if (!float_out && (!b.constant(7) || !b.constant(8))) return false;
  if (!all_zero(*b.constant(5))) return false;
  if (b.has_input(6) && (!b.constant(6) || numel(b.input(6).shape) != n)) return false;
  if (numel(b.input(1).shape) != 1) return false;
  const float as = tensor_to_f32(*b.constant(1))[0];
  const int32_t az = static_cast<int32_t>(tensor_to_f32(*b.constant(2))[0]);
  const std::vector<float> bs = tensor_to_f32(*b.constant(4));
  const Tensor* bias = b.has_input(6) ? b.constant(6) : nullptr;
  const kernels::Activation act = fused_activation(b.node());
  bool flat_nhwc = false;
  if (float_out) {
    std::vector<float> scale(bs.size());
    for (size_t j = 0; j < bs.size(); ++j) scale[j] = as * bs[j];
    const std::vector<float> ones(static_cast<size_t>(n), 1.f);  // multipliers: unused by the int32 form
    auto kern = make_gemm_packed<int32_t>(b, *w, m, k, n, trans_b, bias ? bias->data<int32_t>() : nullptr, ones.data(),
                                          {bias, b.constant(1), b.constant(4)}, &flat_nhwc);
    kern->quant.input_zero_point = az;
    auto dq = std::make_unique<DequantizeSumsKernel>();
    kern->c = dq->sums = b.scratch(static_cast<size_t>(m * n) * sizeof(int32_t));
    kern->label = b.node().label() + " [int8 packed" + std::string(flat_nhwc ? ", nhwc-permuted" : "") + ", float out]";
    b.emit(std::move(kern));
    dq->m = m;
    dq->n = n;
    dq->scale = std::move(scale);
    dq->act = act;
    dq->out = b.output(0, DType::kF32, Shape{m, n});
    dq->label = b.node().label() + " [dequantize" + activation_note(act) + "]";
    b.emit(std::move(dq));
    return true;
  }
  const float ys = tensor_to_f32(*b.constant(7))[0];
  const int32_t yz = static_cast<int32_t>(tensor_to_f32(*b.constant(8))[0]);
  std::vector<float> mult(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) mult[j] = as * bs[bs.size() == 1 ? 0 : j] / ys;
  auto kern = make_gemm_packed<uint8_t>(b, *w, m, k, n, trans_b, bias ? bias->data<int32_t>() : nullptr, mult.data(),
                                        {bias, b.constant(1), b.constant(4), b.constant(7)}, &flat_nhwc);
  kern->quant.input_zero_point = az;
  kern->quant.output_zero_point = yz;
  activation_range<uint8_t>(act, ys, yz, &kern->quant.output_min, &kern->quant.output_max);
  kern->c = b.output(0, DType::kU8, Shape{m, n});
  kern->label = b.node().label() + " [int8 packed" + std::string(flat_nhwc ? ", nhwc-permuted" : "") + activation_note(act) + "]";
  b.emit(std::move(kern));
  return true;
}

}  // namespace

void compile_qlinear_conv(Builder& b) { compile_int_conv(b, true); }
void compile_conv_integer(Builder& b) { compile_int_conv(b, false); }

namespace {

// MatMulInteger on the packed int8 kernel (dynamic int8's fully-connected layers): u8 A with one zero
// point (constant or run-time), constant 2-D s8 B with zero points 0 (symmetric weights), one batch.
bool try_matmul_integer_packed(Builder& b, const MatMulGeometry& g) {
  const Tensor* w = b.constant(1);
  if (b.input(0).dtype != DType::kU8 || !w || w->dtype() != DType::kI8 || !g.b_is_matrix || g.batch != 1) return false;
  if (b.has_input(3) && (!b.constant(3) || !all_zero(*b.constant(3)))) return false;
  if (b.has_input(2) && numel(b.input(2).shape) != 1) return false;
  bool flat_nhwc = false;
  const std::vector<float> ones(static_cast<size_t>(g.n), 1.f);  // multipliers: unused by the int32 form
  auto kern = make_gemm_packed<int32_t>(b, *w, g.m, g.k, g.n, false, nullptr, ones.data(), {}, &flat_nhwc);
  if (b.has_input(2)) {
    if (const Tensor* z = b.constant(2)) {
      kern->quant.input_zero_point = static_cast<int32_t>(tensor_to_f32(*z)[0]);
    } else {
      kern->a_zero = qparam_slots(b, -1, 2, 1, "a");
    }
  }
  kern->c = b.output(0, DType::kI32, g.out);
  kern->label = b.node().label() + " [int8 packed" + std::string(flat_nhwc ? ", nhwc-permuted" : "") + "]";
  b.emit(std::move(kern));
  return true;
}

}  // namespace

void compile_matmul_integer(Builder& b) {
  b.check_dtype(0, {DType::kU8, DType::kI8});
  b.check_dtype(1, {DType::kU8, DType::kI8});
  const MatMulGeometry g = matmul_geometry(b, b.input(0).shape, b.input(1).shape);
  if (try_matmul_integer_packed(b, g)) return;
  emit_int_matmul(b, {0, kNone, 2, 1, kNone, 3, kNone, kNone, kNone}, g, false, false, DType::kI32);
}

void compile_qlinear_matmul(Builder& b) {
  b.check_dtype(0, {DType::kU8, DType::kI8});
  b.check_dtype(3, {DType::kU8, DType::kI8});
  const MatMulGeometry g = matmul_geometry(b, b.input(0).shape, b.input(3).shape);
  const DType ydt = b.has_input(7) ? b.input(7).dtype : DType::kU8;
  if (ydt != DType::kU8 && ydt != DType::kI8) b.unsupported(std::string("output type ") + dtype_name(ydt));
  emit_int_matmul(b, {0, 1, 2, 3, 4, 5, 6, 7, kNone}, g, false, false, ydt);
}

// com.microsoft QGemm: Y = A' B' (+ C, int32 at scale a_scale * b_scale), quantized to y_scale/y_zero_point,
// or dequantized to float when y_scale is absent.
void compile_qgemm(Builder& b) {
  const auto& node = b.node();
  b.check_dtype(0, {DType::kU8, DType::kI8});
  b.check_dtype(3, {DType::kU8, DType::kI8});
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  const float alpha = node.attr_float("alpha", 1.f);
  const MatMulGeometry g = gemm_geometry(b, b.input(0).shape, b.input(3).shape, ta, tb);
  if (try_qgemm_packed(b, g.m, g.k, g.n, ta, tb, alpha)) return;
  if (alpha != 1.f) b.unsupported("alpha other than 1 outside the packed int8 path");
  if (!b.has_input(7)) b.unsupported("a float output (no y_scale)");
  const DType ydt = b.has_input(8) ? b.input(8).dtype : DType::kU8;
  emit_int_matmul(b, {0, 1, 2, 3, 4, 5, 7, 8, 6}, g, ta, tb, ydt);
}

}  // namespace edgeq::runtime::detail
