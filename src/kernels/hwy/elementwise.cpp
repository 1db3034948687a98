// hwy element-wise kernels (one TU, compiled once per Highway target). Tails go through a lane buffer
// so nothing is read or written past n.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/hwy/elementwise.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "kernels/hwy/tile-inl.h"

#ifndef EDGEQ_KERNELS_HWY_ELEMENTWISE_ONCE_
#define EDGEQ_KERNELS_HWY_ELEMENTWISE_ONCE_
#include <algorithm>

#include "edgeq/kernels.h"
#endif

HWY_BEFORE_NAMESPACE();
namespace edgeq_kernels_hwy {
namespace HWY_NAMESPACE {

using edgeq::kernels::Activation;
using edgeq::kernels::QLinearAddParams;

// out[i] = op(x[i]) over full vectors, then the tail.
template <class Op>
HWY_INLINE void Unary(const float* x, float* out, size_t n, const Op& op) {
  const DF d;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) hn::StoreU(op(hn::LoadU(d, x + i)), d, out + i);
  if (i < n) StorePartial(op(LoadPartial(x + i, n - i)), out + i, n - i);
}

template <class Op>
HWY_INLINE void Binary(const float* a, const float* b, float* out, size_t n, const Op& op) {
  const DF d;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) hn::StoreU(op(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  if (i < n) StorePartial(op(LoadPartial(a + i, n - i), LoadPartial(b + i, n - i)), out + i, n - i);
}

void Add(const float* a, const float* b, float* out, size_t n) { Binary(a, b, out, n, [](VF x, VF y) { return hn::Add(x, y); }); }
void Sub(const float* a, const float* b, float* out, size_t n) { Binary(a, b, out, n, [](VF x, VF y) { return hn::Sub(x, y); }); }
void Mul(const float* a, const float* b, float* out, size_t n) { Binary(a, b, out, n, [](VF x, VF y) { return hn::Mul(x, y); }); }
// The tail's zero-filled lanes divide by zero harmlessly: they are never stored.
void Div(const float* a, const float* b, float* out, size_t n) { Binary(a, b, out, n, [](VF x, VF y) { return hn::Div(x, y); }); }

void ActivationKernel(const float* x, float* out, size_t n, const Activation& activation) {
  const EpilogueVecs e(activation);
  Unary(x, out, n, [&e](VF v) { return Activate(e, v); });
}

void BiasActivation(const float* x, const float* bias, float* out, size_t n, size_t channels,
                    const Activation& activation) {
  const DF d;
  const EpilogueVecs e(activation);
  // Rows of `channels`; vectors run along the channels of one row.
  for (size_t row = 0; row < n / channels; ++row) {
    const float* xr = x + row * channels;
    float* yr = out + row * channels;
    size_t c = 0;
    for (; c + kLanes <= channels; c += kLanes)
      hn::StoreU(Activate(e, hn::Add(hn::LoadU(d, xr + c), hn::LoadU(d, bias + c))), d, yr + c);
    if (c < channels) {
      const size_t rest = channels - c;
      StorePartial(Activate(e, hn::Add(LoadPartial(xr + c, rest), LoadPartial(bias + c, rest))), yr + c, rest);
    }
  }
  for (size_t i = n / channels * channels; i < n; ++i)
    out[i] = edgeq::kernels::apply_activation(activation, x[i] + bias[i % channels]);
}

void Sigmoid(const float* x, float* out, size_t n) {
  Unary(x, out, n, [](VF v) { return SigmoidOf(v); });
}

void Tanh(const float* x, float* out, size_t n) {
  const DF d;
  Unary(x, out, n, [&](VF v) { return hn::Tanh(d, v); });
}

void SoftmaxRow(const float* x, float* out, size_t n) {
  if (n == 0) return;
  const DF d;
  float max = x[0];
  for (size_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  const VF vmax = hn::Set(d, max);
  Unary(x, out, n, [&](VF v) { return hn::Exp(d, hn::Sub(v, vmax)); });
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += out[i];
  const VF scale = hn::Set(d, static_cast<float>(1.0 / sum));
  Unary(out, out, n, [&](VF v) { return hn::Mul(v, scale); });
}

// Division (not a reciprocal multiply) and Round (half to even) are the IEEE operations of ref's loop,
// so both give the same bytes.
HWY_NOINLINE void QuantizeU8(const float* x, uint8_t* out, size_t n, float scale, int32_t zero_point) {
  const DF d;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint8_t, DF> du8;
  const VF vs = hn::Set(d, scale), vz = hn::Set(d, static_cast<float>(zero_point));
  const VF lo = hn::Zero(d), hi = hn::Set(d, 255.f);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const VF r = hn::Min(hn::Max(hn::Add(hn::Round(hn::Div(hn::LoadU(d, x + i), vs)), vz), lo), hi);
    hn::StoreU(hn::DemoteTo(du8, hn::ConvertTo(di, r)), du8, out + i);
  }
  if (i < n) edgeq::kernels::ref::quantize_f32_u8(x + i, out + i, n - i, scale, zero_point);
}

// onnxruntime's QLinearAdd: the two fused multiply-adds of qlinear_add_u8_one per lane. Targets without a
// native FMA (SSE4, scalar) would round the product separately: they run ref's loop (std::fma) instead.
HWY_NOINLINE void QLinearAddU8(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t n, const QLinearAddParams& p) {
  size_t i = 0;
#if HWY_NATIVE_FMA
  const DF d;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint8_t, DF> du8;
  const VF ra = hn::Set(d, p.ratio_a), rb = hn::Set(d, p.ratio_b), fixed = hn::Set(d, p.fixed);
  for (; i + kLanes <= n; i += kLanes) {
    const VF va = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(du8, a + i)));
    const VF vb = hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(du8, b + i)));
    const VF t = hn::MulAdd(va, ra, hn::MulAdd(vb, rb, fixed));
    // NearestInt rounds half to even; DemoteTo saturates to 0..255.
    hn::StoreU(hn::DemoteTo(du8, hn::NearestInt(t)), du8, out + i);
  }
#endif
  if (i < n) edgeq::kernels::ref::qlinear_add_u8(a + i, b + i, out + i, n - i, p);
}

// A 256-entry table: AVX3_DL (AVX512-VBMI) looks up 64 bytes at once, two vpermi2b over the table's
// halves (index bits 0-6) and a blend on bit 7; the other targets index byte by byte (ref's loop).
HWY_NOINLINE void LookupU8(const uint8_t* x, uint8_t* out, size_t n, const uint8_t* table) {
  size_t i = 0;
#if HWY_TARGET == HWY_AVX3_DL
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  auto lookup = [&](__m512i v) {
    const __m512i lo = _mm512_permutex2var_epi8(t0, v, t1), hi = _mm512_permutex2var_epi8(t2, v, t3);
    return _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), lo, hi);
  };
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(out + i, lookup(_mm512_loadu_si512(x + i)));
  if (i < n) {
    const __mmask64 m = (uint64_t{1} << (n - i)) - 1;  // n - i < 64
    _mm512_mask_storeu_epi8(out + i, m, lookup(_mm512_maskz_loadu_epi8(m, x + i)));
    return;
  }
#endif
  if (i < n) edgeq::kernels::ref::lookup_u8(x + i, out + i, n - i, table);
}

// Three planes into pixels, a vector of each plane per step (StoreInterleaved3's shuffles), the tail by
// ref's loop: the plain loop ran MobileNetV2-224's input conversion at 45 us (f32) and 36 us (u8) of a
// 4 / 1.3 ms run. Returns the pixels done.
template <typename T>
HWY_INLINE size_t Interleave3Vectors(const T* x, int64_t plane, T* out, size_t n) {
  const hn::ScalableTag<T> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes)
    hn::StoreInterleaved3(hn::LoadU(d, x + i), hn::LoadU(d, x + plane + i), hn::LoadU(d, x + 2 * plane + i), d, out + 3 * i);
  return i;
}
HWY_NOINLINE void Interleave3F32(const float* x, int64_t plane, float* out, size_t n) {
  const size_t i = Interleave3Vectors(x, plane, out, n);
  if (i < n) edgeq::kernels::ref::interleave3_f32(x + i, plane, out + 3 * i, n - i);
}
HWY_NOINLINE void Interleave3U8(const uint8_t* x, int64_t plane, uint8_t* out, size_t n) {
  const size_t i = Interleave3Vectors(x, plane, out, n);
  if (i < n) edgeq::kernels::ref::interleave3_u8(x + i, plane, out + 3 * i, n - i);
}

}  // namespace HWY_NAMESPACE
}  // namespace edgeq_kernels_hwy
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace edgeq_kernels_hwy {
using edgeq::kernels::Activation;
using edgeq::kernels::QLinearAddParams;
HWY_EXPORT(Add);
HWY_EXPORT(Sub);
HWY_EXPORT(Mul);
HWY_EXPORT(Div);
HWY_EXPORT(ActivationKernel);
HWY_EXPORT(BiasActivation);
HWY_EXPORT(Sigmoid);
HWY_EXPORT(Tanh);
HWY_EXPORT(SoftmaxRow);
HWY_EXPORT(QuantizeU8);
HWY_EXPORT(QLinearAddU8);
HWY_EXPORT(LookupU8);
HWY_EXPORT(Interleave3F32);
HWY_EXPORT(Interleave3U8);
// Dispatch from here: inside edgeq::kernels::hwy, the macro's `hwy::` would name that namespace.
#define EDGEQ_DISPATCH(NAME, PARAMS, ARGS) \
  void Dispatch##NAME PARAMS { HWY_DYNAMIC_DISPATCH(NAME) ARGS; }
EDGEQ_DISPATCH(Add, (const float* a, const float* b, float* o, size_t n), (a, b, o, n))
EDGEQ_DISPATCH(Sub, (const float* a, const float* b, float* o, size_t n), (a, b, o, n))
EDGEQ_DISPATCH(Mul, (const float* a, const float* b, float* o, size_t n), (a, b, o, n))
EDGEQ_DISPATCH(Div, (const float* a, const float* b, float* o, size_t n), (a, b, o, n))
EDGEQ_DISPATCH(ActivationKernel, (const float* x, float* o, size_t n, const Activation& act), (x, o, n, act))
EDGEQ_DISPATCH(BiasActivation,
               (const float* x, const float* b, float* o, size_t n, size_t c, const Activation& act),
               (x, b, o, n, c, act))
EDGEQ_DISPATCH(Sigmoid, (const float* x, float* o, size_t n), (x, o, n))
EDGEQ_DISPATCH(Tanh, (const float* x, float* o, size_t n), (x, o, n))
EDGEQ_DISPATCH(SoftmaxRow, (const float* x, float* o, size_t n), (x, o, n))
EDGEQ_DISPATCH(QuantizeU8, (const float* x, uint8_t* o, size_t n, float s, int32_t z), (x, o, n, s, z))
EDGEQ_DISPATCH(QLinearAddU8, (const uint8_t* a, const uint8_t* b, uint8_t* o, size_t n, const QLinearAddParams& p), (a, b, o, n, p))
EDGEQ_DISPATCH(LookupU8, (const uint8_t* x, uint8_t* o, size_t n, const uint8_t* t), (x, o, n, t))
EDGEQ_DISPATCH(Interleave3F32, (const float* x, int64_t p, float* o, size_t n), (x, p, o, n))
EDGEQ_DISPATCH(Interleave3U8, (const uint8_t* x, int64_t p, uint8_t* o, size_t n), (x, p, o, n))
#undef EDGEQ_DISPATCH
}  // namespace edgeq_kernels_hwy

namespace edgeq::kernels::hwy {
namespace impl = ::edgeq_kernels_hwy;
void add_f32(const float* a, const float* b, float* out, size_t n) { impl::DispatchAdd(a, b, out, n); }
void sub_f32(const float* a, const float* b, float* out, size_t n) { impl::DispatchSub(a, b, out, n); }
void mul_f32(const float* a, const float* b, float* out, size_t n) { impl::DispatchMul(a, b, out, n); }
void div_f32(const float* a, const float* b, float* out, size_t n) { impl::DispatchDiv(a, b, out, n); }
void activation_f32(const float* x, float* out, size_t n, const Activation& activation) {
  impl::DispatchActivationKernel(x, out, n, activation);
}
void bias_activation_f32(const float* x, const float* bias, float* out, size_t n, size_t channels,
                         const Activation& activation) {
  if (channels == 0) throw Error(ErrorCode::kInvalidArgument, "kernels: bias_activation needs channels >= 1");
  impl::DispatchBiasActivation(x, bias, out, n, channels, activation);
}
void sigmoid_f32(const float* x, float* out, size_t n) { impl::DispatchSigmoid(x, out, n); }
void tanh_f32(const float* x, float* out, size_t n) { impl::DispatchTanh(x, out, n); }
void softmax_row_f32(const float* x, float* out, size_t n) { impl::DispatchSoftmaxRow(x, out, n); }
void quantize_f32_u8(const float* x, uint8_t* out, size_t n, float scale, int32_t zero_point) {
  impl::DispatchQuantizeU8(x, out, n, scale, zero_point);
}
void qlinear_add_u8(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t n, const QLinearAddParams& params) {
  impl::DispatchQLinearAddU8(a, b, out, n, params);
}
void lookup_u8(const uint8_t* x, uint8_t* out, size_t n, const uint8_t* table) { impl::DispatchLookupU8(x, out, n, table); }
void interleave3_f32(const float* x, int64_t plane, float* out, size_t n) { impl::DispatchInterleave3F32(x, plane, out, n); }
void interleave3_u8(const uint8_t* x, int64_t plane, uint8_t* out, size_t n) { impl::DispatchInterleave3U8(x, plane, out, n); }
}  // namespace edgeq::kernels::hwy
#endif  // HWY_ONCE
