// Quantization-parameter math with ONNX QuantizeLinear semantics:
// q = saturate(round_half_even(x / scale) + zero_point), x' = (q - zero_point) * scale.
// The division (not a multiply by 1/scale) and float32 arithmetic match the ONNX reference and
// onnxruntime bit for bit, so the simulator and the int8 kernels can be compared without epsilon.
#include <algorithm>
#include <cmath>
#include <limits>

#include "edgeq/quant.h"

namespace edgeq::quant {

namespace {

struct IntRange {
  int64_t lo, hi;
};

IntRange int_range(DType t) {
  switch (t) {
    case DType::kU8: return {0, 255};
    case DType::kI8: return {-128, 127};
    case DType::kI32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
    default: throw Error(ErrorCode::kUnsupported, std::string("quantized dtype ") + dtype_name(t) + " is not u8/i8/i32");
  }
}

// Splits a shape around `axis` into outer x channels x inner (axis -1: one channel).
struct ChannelLayout {
  int64_t outer = 1, channels = 1, inner = 1;
};

ChannelLayout channel_layout(const Shape& shape, int64_t axis, size_t params) {
  ChannelLayout l;
  if (axis < 0) {
    l.inner = shape_numel(shape);
    if (params != 1) throw Error(ErrorCode::kInvalidArgument, "per-tensor quantization needs one scale, got " + std::to_string(params));
    return l;
  }
  if (axis >= static_cast<int64_t>(shape.size()))
    throw Error(ErrorCode::kInvalidArgument, "quantization axis " + std::to_string(axis) + " out of range for " + shape_str(shape));
  for (int64_t i = 0; i < axis; ++i) l.outer *= shape[i];
  l.channels = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) l.inner *= shape[i];
  if (static_cast<size_t>(l.channels) != params)
    throw Error(ErrorCode::kInvalidArgument, "axis " + std::to_string(axis) + " of " + shape_str(shape) + " has " +
                                                 std::to_string(l.channels) + " channels but " + std::to_string(params) + " scales");
  return l;
}

template <typename Q>
void quantize_loop(const float* x, Q* q, const QParams& qp, const ChannelLayout& l, IntRange r) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c) {
      const float s = qp.scale[c];
      const int64_t zp = qp.zero_point[c];
      const int64_t base = (o * l.channels + c) * l.inner;
      for (int64_t i = 0; i < l.inner; ++i) {
        const double v = std::nearbyint(static_cast<double>(x[base + i] / s)) + static_cast<double>(zp);
        q[base + i] = static_cast<Q>(std::clamp<double>(v, static_cast<double>(r.lo), static_cast<double>(r.hi)));
      }
    }
}

template <typename Q>
void dequantize_loop(const Q* q, float* x, const QParams& qp, const ChannelLayout& l) {
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c) {
      const float s = qp.scale[c];
      const int64_t zp = qp.zero_point[c];
      const int64_t base = (o * l.channels + c) * l.inner;
      for (int64_t i = 0; i < l.inner; ++i) x[base + i] = static_cast<float>(static_cast<int64_t>(q[base + i]) - zp) * s;
    }
}

}  // namespace

int32_t round_half_even(float x) {
  // nearbyint follows the current rounding mode, which is round-to-nearest-even unless someone changed it.
  const double r = std::nearbyint(static_cast<double>(x));
  return static_cast<int32_t>(std::clamp<double>(r, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
}

QParams activation_qparams(Range range, DType dtype) {
  if (dtype != DType::kU8 && dtype != DType::kI8)
    throw Error(ErrorCode::kInvalidArgument, std::string("activation type must be uint8 or int8, not ") + dtype_name(dtype));
  if (!std::isfinite(range.min) || !std::isfinite(range.max))
    throw Error(ErrorCode::kInvalidArgument, "calibrated range is not finite (NaN or Inf in the activations)");
  const IntRange r = int_range(dtype);
  const double rmin = std::min(0.f, range.min), rmax = std::max(0.f, range.max);
  QParams qp;
  qp.dtype = dtype;
  if (rmax == rmin) {  // an all-zero tensor: any scale represents it; 1 keeps the arithmetic finite
    qp.scale = {1.f};
    qp.zero_point = {0};
    return qp;
  }
  const float scale = static_cast<float>((rmax - rmin) / static_cast<double>(r.hi - r.lo));
  // zero_point = qmin - rmin / scale, rounded: an integer, so real 0 maps to it exactly.
  const double zp = std::nearbyint(static_cast<double>(r.lo) - rmin / scale);
  qp.scale = {scale};
  qp.zero_point = {static_cast<int32_t>(std::clamp<double>(zp, static_cast<double>(r.lo), static_cast<double>(r.hi)))};
  return qp;
}

QParams weight_qparams(const Tensor& weight, int64_t axis) {
  if (weight.dtype() != DType::kF32) throw Error(ErrorCode::kInvalidArgument, "weight to quantize is not float32");
  QParams qp;
  qp.dtype = DType::kI8;
  qp.axis = axis;
  const size_t channels = axis < 0 ? 1 : static_cast<size_t>(weight.shape().at(static_cast<size_t>(axis)));
  const ChannelLayout l = channel_layout(weight.shape(), axis, channels);
  std::vector<float> amax(channels, 0.f);
  const float* w = weight.data<float>();
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t c = 0; c < l.channels; ++c)
      for (int64_t i = 0; i < l.inner; ++i) {
        const float v = w[(o * l.channels + c) * l.inner + i];
        if (!std::isfinite(v)) throw Error(ErrorCode::kInvalidArgument, "weight holds NaN or Inf");
        amax[c] = std::max(amax[c], std::fabs(v));
      }
  // Symmetric over [-127, 127] (not -128): the range is symmetric and int8 x int8 products stay in int16.
  for (float a : amax) {
    qp.scale.push_back(a > 0.f ? a / 127.f : 1.f);
    qp.zero_point.push_back(0);
  }
  return qp;
}

QParams bias_qparams(float input_scale, const QParams& weight) {
  QParams qp;
  qp.dtype = DType::kI32;
  qp.axis = weight.scale.size() > 1 ? 0 : -1;
  for (float ws : weight.scale) {
    qp.scale.push_back(input_scale * ws);
    qp.zero_point.push_back(0);
  }
  return qp;
}

Tensor quantize_tensor(const Tensor& x, const QParams& qp) {
  if (x.dtype() != DType::kF32) throw Error(ErrorCode::kInvalidArgument, "quantize_tensor: input is not float32");
  if (qp.scale.empty() || qp.scale.size() != qp.zero_point.size())
    throw Error(ErrorCode::kInvalidArgument, "quantize_tensor: scale/zero_point sizes differ");
  const ChannelLayout l = channel_layout(x.shape(), qp.axis, qp.scale.size());
  const IntRange r = int_range(qp.dtype);
  Tensor q(qp.dtype, x.shape());
  switch (qp.dtype) {
    case DType::kU8: quantize_loop(x.data<float>(), q.data<uint8_t>(), qp, l, r); break;
    case DType::kI8: quantize_loop(x.data<float>(), q.data<int8_t>(), qp, l, r); break;
    default: quantize_loop(x.data<float>(), q.data<int32_t>(), qp, l, r); break;
  }
  return q;
}

Tensor dequantize_tensor(const Tensor& q, const QParams& qp) {
  if (q.dtype() != qp.dtype)
    throw Error(ErrorCode::kInvalidArgument, std::string("dequantize_tensor: tensor is ") + dtype_name(q.dtype()) + ", params say " +
                                                 dtype_name(qp.dtype));
  const ChannelLayout l = channel_layout(q.shape(), qp.axis, qp.scale.size());
  Tensor x(DType::kF32, q.shape());
  switch (qp.dtype) {
    case DType::kU8: dequantize_loop(q.data<uint8_t>(), x.data<float>(), qp, l); break;
    case DType::kI8: dequantize_loop(q.data<int8_t>(), x.data<float>(), qp, l); break;
    case DType::kI32: dequantize_loop(q.data<int32_t>(), x.data<float>(), qp, l); break;
    default: throw Error(ErrorCode::kUnsupported, std::string("dequantize_tensor: dtype ") + dtype_name(qp.dtype));
  }
  return x;
}

double sqnr_db(std::span<const float> x, std::span<const float> y) {
  if (x.size() != y.size()) throw Error(ErrorCode::kInvalidArgument, "sqnr_db: sizes differ");
  double signal = 0, noise = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    signal += static_cast<double>(x[i]) * x[i];
    const double d = static_cast<double>(x[i]) - y[i];
    noise += d * d;
  }
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (signal == 0) return 0;
  return 10.0 * std::log10(signal / noise);  // = 20 log10(|x| / |x - y|)
}

}  // namespace edgeq::quant
