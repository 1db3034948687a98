// Reference element-wise kernels.
#include <cmath>

#include "edgeq/kernels.h"

namespace edgeq::kernels::ref {

void add_f32(const float* a, const float* b, float* out, size_t n) { for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i]; }
void sub_f32(const float* a, const float* b, float* out, size_t n) { for (size_t i = 0; i < n; ++i) out[i] = a[i] - b[i]; }
void mul_f32(const float* a, const float* b, float* out, size_t n) { for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i]; }
void div_f32(const float* a, const float* b, float* out, size_t n) { for (size_t i = 0; i < n; ++i) out[i] = a[i] / b[i]; }

void activation_f32(const float* x, float* out, size_t n, const Activation& activation) {
  for (size_t i = 0; i < n; ++i) out[i] = apply_activation(activation, x[i]);
}

void bias_activation_f32(const float* x, const float* bias, float* out, size_t n, size_t channels,
                         const Activation& activation) {
  for (size_t i = 0; i < n; ++i) out[i] = apply_activation(activation, x[i] + bias[i % channels]);
}

void sigmoid_f32(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))));
}

void tanh_f32(const float* x, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(std::tanh(static_cast<double>(x[i])));
}

void softmax_row_f32(const float* x, float* out, size_t n) {
  if (n == 0) return;
  double max = x[0];
  for (size_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(x[i]) - max);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(std::exp(static_cast<double>(x[i]) - max) / sum);
}

void quantize_f32_u8(const float* x, uint8_t* out, size_t n, float scale, int32_t zero_point) {
  for (size_t i = 0; i < n; ++i) {
    const float r = std::nearbyint(x[i] / scale) + static_cast<float>(zero_point);  // division, as ONNX defines it
    out[i] = static_cast<uint8_t>(r < 0.f ? 0.f : (r > 255.f ? 255.f : r));
  }
}

void lookup_u8(const uint8_t* x, uint8_t* out, size_t n, const uint8_t* table) {
  for (size_t i = 0; i < n; ++i) out[i] = table[x[i]];
}

namespace {
template <typename T>
void interleave3(const T* x, int64_t plane, T* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < 3; ++c) out[3 * i + c] = x[static_cast<int64_t>(c) * plane + static_cast<int64_t>(i)];
}
}  // namespace

void interleave3_f32(const float* x, int64_t plane, float* out, size_t n) { interleave3(x, plane, out, n); }
void interleave3_u8(const uint8_t* x, int64_t plane, uint8_t* out, size_t n) { interleave3(x, plane, out, n); }

void qlinear_add_u8(const uint8_t* a, const uint8_t* b, uint8_t* out, size_t n, const QLinearAddParams& params) {
  for (size_t i = 0; i < n; ++i) out[i] = qlinear_add_u8_one(a[i], b[i], params);
}

}  // namespace edgeq::kernels::ref
