// com.microsoft QLinearAdd and QLinearGlobalAveragePool: what onnxruntime's quantizer writes in QOperator
// form, and what the QDQ fusion pass (qdq_fusion.cpp) turns DequantizeLinear -> Add / GlobalAveragePool ->
// QuantizeLinear groups into, so a residual block's sum and a classifier's pooling stay uint8 between the
// integer convolutions. The arithmetic is onnxruntime's (kernels.h: qlinear_add_params,
// qlinear_global_avg_pool_multiplier), so edgeq and onnxruntime give the same bytes on a QDQ file.
// uint8 with constant per-tensor scales and zero points; anything else is refused (and the fusion, which
// only builds these nodes from uint8 per-tensor groups, leaves such groups in float).
#include <array>
#include <cmath>
#include <cstring>

#include "runtime/ops/common.h"

namespace edgeq::runtime::detail {

namespace {

// A constant per-tensor scale (input si) and uint8 zero point (input zi, optional: 0).
struct ConstQParams {
  float scale = 1;
  int32_t zero_point = 0;
};

ConstQParams const_qparams(Builder& b, size_t si, size_t zi, const char* what) {
  ConstQParams q;
  const Value& s = b.input(si);
  if (!s.is_constant()) b.unsupported(std::string(what) + " scale computed at run time");
  if (s.dtype != DType::kF32 || numel(s.shape) != 1) b.invalid(std::string(what) + " scale must be one float");
  q.scale = s.constant->data<float>()[0];
  if (!(q.scale > 0.f) || !std::isfinite(q.scale)) b.invalid(std::string(what) + " scale must be finite and > 0");
  if (b.has_input(zi)) {
    const Value& z = b.input(zi);
    if (!z.is_constant()) b.unsupported(std::string(what) + " zero point computed at run time");
    if (z.dtype != DType::kU8) b.unsupported(std::string(what) + " zero point of type " + dtype_name(z.dtype) + " (uint8 supported)");
    if (numel(z.shape) != 1) b.invalid(std::string(what) + " zero point must be one value");
    q.zero_point = z.constant->data<uint8_t>()[0];
  }
  return q;
}

// Same shapes, same layout: one pass over the bytes, split across threads.
class QLinearAddFlatKernel final : public Kernel {
 public:
  kernels::QLinearAddParams params;
  int32_t a = -1, b = -1, y = -1;
  int64_t n = 0;
  void run(const ExecContext& ctx) const override {
    const uint8_t* A = ctx.at<const uint8_t>(a);
    const uint8_t* B = ctx.at<const uint8_t>(b);
    uint8_t* Y = ctx.at<uint8_t>(y);
    run_elements(ctx, n, [&](int64_t first, int64_t last) {
      kernels::hwy::qlinear_add_u8(A + first, B + first, Y + first, static_cast<size_t>(last - first), params);
    });
  }
};

// Numpy broadcasting in plain layout: element offsets of A and B from the output index.
class QLinearAddBroadcastKernel final : public Kernel {
 public:
  kernels::QLinearAddParams params;
  int32_t a = -1, b = -1, y = -1;
  Shape out;
  std::vector<int64_t> a_strides, b_strides;  // 0 along broadcast dims
  void run(const ExecContext& ctx) const override {
    const uint8_t* A = ctx.at<const uint8_t>(a);
    const uint8_t* B = ctx.at<const uint8_t>(b);
    uint8_t* Y = ctx.at<uint8_t>(y);
    const int64_t total = numel(out);
    const auto out_strides = strides_of(out);
    ctx.parallel(total, [&](int64_t first, int64_t last) {
      for (int64_t i = first; i < last; ++i) {
        int64_t ia = 0, ib = 0, rest = i;
        for (size_t d = 0; d < out.size(); ++d) {
          const int64_t idx = rest / out_strides[d];
          rest %= out_strides[d];
          ia += idx * a_strides[d];
          ib += idx * b_strides[d];
        }
        Y[i] = kernels::qlinear_add_u8_one(A[ia], B[ib], params);
      }
    });
  }
};

// Strides of `s` right-aligned to `rank` dims, 0 where s broadcasts.
std::vector<int64_t> broadcast_strides(const Shape& s, size_t rank) {
  std::vector<int64_t> st(rank, 0);
  const auto own = strides_of(s);
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] != 1) st[rank - s.size() + i] = own[i];
  return st;
}

// y = table[x], element by element: any layout, split across threads.
class QLinearLookupKernel final : public Kernel {
 public:
  int32_t x = -1, y = -1;
  int64_t n = 0;
  std::array<uint8_t, 256> table{};
  void run(const ExecContext& ctx) const override {
    const uint8_t* X = ctx.at<const uint8_t>(x);
    uint8_t* Y = ctx.at<uint8_t>(y);
    run_elements(ctx, n, [&](int64_t first, int64_t last) {
      kernels::hwy::lookup_u8(X + first, Y + first, static_cast<size_t>(last - first), table.data());
    });
  }
};

class QLinearGlobalAvgPoolKernel final : public Kernel {
 public:
  int32_t x = -1, y = -1;
  int64_t images = 0, spatial = 0, channels = 0;  // [images, spatial, channels]
  int32_t x_zero = 0, y_zero = 0;
  float multiplier = 1;
  void run(const ExecContext& ctx) const override {
    const uint8_t* X = ctx.at<const uint8_t>(x);
    uint8_t* Y = ctx.at<uint8_t>(y);
    auto body = [&](int64_t first, int64_t last) {
      kernels::hwy::qlinear_global_avg_pool_u8_nhwc(X, Y, spatial, channels, x_zero, multiplier, y_zero, first, last);
    };
    if (images * spatial * channels < kParallelGrain)
      body(0, images);
    else
      ctx.parallel(images, body);
  }
};

}  // namespace

// Inputs: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point.
void compile_qlinear_add(Builder& b) {
  b.check_dtype(0, {DType::kU8});
  b.check_dtype(3, {DType::kU8});
  const ConstQParams qa = const_qparams(b, 1, 2, "A"), qb = const_qparams(b, 4, 5, "B"), qc = const_qparams(b, 6, 7, "C");
  const auto params = kernels::qlinear_add_params(qa.scale, qa.zero_point, qb.scale, qb.zero_point, qc.scale, qc.zero_point);
  const Value &va = b.input(0), &vb = b.input(3);
  const Shape out = broadcast_shapes(va.shape, vb.shape, b);
  if (va.shape == vb.shape) {
    // Both in the layout they have when it is the same one (NHWC between integer convolutions), else plain.
    Layout la = Layout::kPlain, lb = Layout::kPlain;
    const int32_t sa = b.input_any(0, &la);
    const int32_t sb = b.input_any(3, &lb);
    auto k = std::make_unique<QLinearAddFlatKernel>();
    k->params = params;
    k->n = numel(out);
    const bool nhwc = la == Layout::kNHWC && lb == Layout::kNHWC;
    k->a = nhwc ? sa : b.input_plain(0);
    k->b = nhwc ? sb : b.input_plain(3);
    k->y = b.output(0, DType::kU8, out, nhwc ? Layout::kNHWC : Layout::kPlain);
    k->label = b.node().label() + (nhwc ? " [int8 nhwc]" : " [int8]");
    b.emit(std::move(k));
    return;
  }
  auto k = std::make_unique<QLinearAddBroadcastKernel>();
  k->params = params;
  k->out = out;
  k->a_strides = broadcast_strides(va.shape, out.size());
  k->b_strides = broadcast_strides(vb.shape, out.size());
  k->a = b.input_plain(0);
  k->b = b.input_plain(3);
  k->y = b.output(0, DType::kU8, out);
  k->label = b.node().label() + " [int8 broadcast]";
  b.emit(std::move(k));
}

// Inputs: X (uint8), table (256 uint8 constants). Output table[X], in X's layout (NHWC between integer
// convolutions stays NHWC).
void compile_qlinear_lookup(Builder& b) {
  b.check_dtype(0, {DType::kU8});
  b.check_dtype(1, {DType::kU8});
  const Value& t = b.input(1);
  if (!t.is_constant()) b.unsupported("lookup table computed at run time");
  if (numel(t.shape) != 256) b.invalid("lookup table of " + std::to_string(numel(t.shape)) + " values (256)");
  auto k = std::make_unique<QLinearLookupKernel>();
  std::memcpy(k->table.data(), t.constant->data<uint8_t>(), 256);
  Layout layout = Layout::kPlain;
  k->x = b.input_any(0, &layout);
  k->n = numel(b.input(0).shape);
  k->y = b.output(0, DType::kU8, b.input(0).shape, layout);
  k->label = b.node().label() + (layout == Layout::kNHWC ? " [int8 nhwc]" : " [int8]");
  b.emit(std::move(k));
}

// Inputs: X, x_scale, x_zero_point, y_scale, y_zero_point; attribute channels_last (X is [N, ..., C]).
void compile_qlinear_global_average_pool(Builder& b) {
  b.check_dtype(0, {DType::kU8});
  const ConstQParams qx = const_qparams(b, 1, 2, "x"), qy = const_qparams(b, 3, 4, "y");
  const Value& x = b.input(0);
  if (x.shape.size() < 3) b.invalid("input rank " + std::to_string(x.shape.size()) + " (at least 3)");
  const bool channels_last = b.node().attr_int("channels_last", 0) != 0;
  const int64_t n = x.shape[0], c = channels_last ? x.shape.back() : x.shape[1];
  const int64_t spatial = numel(x.shape) / std::max<int64_t>(1, n * c);
  Shape out = x.shape;
  for (size_t d = channels_last ? 1 : 2; d < out.size() - (channels_last ? 1 : 0); ++d) out[d] = 1;
  auto k = std::make_unique<QLinearGlobalAvgPoolKernel>();
  if (spatial < 1 || spatial >= (int64_t{1} << 23)) b.unsupported("images of " + std::to_string(spatial) + " pixels (1 to 2^23)");
  k->multiplier = kernels::qlinear_global_avg_pool_multiplier(qx.scale, qy.scale, spatial);
  k->x_zero = qx.zero_point;
  k->y_zero = qy.zero_point;
  k->spatial = spatial;
  Layout layout = Layout::kPlain;
  const int32_t slot = channels_last || x.shape.size() != 4 ? b.input_plain(0) : b.input_any(0, &layout);
  if (channels_last || layout == Layout::kNHWC) {
    // [N, pixels, C]: vectors along the channels. The [N, C] result is the bytes of [N, C, 1, 1].
    k->images = n;
    k->channels = c;
  } else {
    // NCHW planes: each (n, c) is an image of one channel.
    k->images = n * c;
    k->channels = 1;
  }
  k->x = slot;
  k->y = b.output(0, DType::kU8, out);
  k->label = b.node().label() + (k->channels > 1 ? " [int8 nhwc]" : " [int8]");
  b.emit(std::move(k));
}

}  // namespace edgeq::runtime::detail
