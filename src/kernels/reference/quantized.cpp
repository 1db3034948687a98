// Reference int8 kernels (the oracle for the hwy ones): plain loops, int32 accumulation of
// (x - input_zero_point) * w, requantize_u8() epilogue.
#include <cstring>

#include "edgeq/kernels.h"
#include "kernels/validate.h"

namespace edgeq::kernels::ref {

namespace {
// The shared int8 storage with its weights viewed as the int16 the ref kernels multiply.
struct Q8Storage {
  detail::Q8Buffers buffers;
  int16_t* weights;
};
Q8Storage alloc_q8(size_t weight_count, size_t channels) {
  detail::Q8Buffers b = detail::alloc_q8(weight_count * sizeof(int16_t), channels);
  return {b, reinterpret_cast<int16_t*>(b.weights)};
}
}  // namespace

PackedConv2dQ8 pack_conv2d_qu8_qc8w(const Conv2dParams& conv, const int8_t* weight_oihw, const int32_t* bias,
                                    const float* multipliers) {
  const Conv2dFilter& f = conv.filter;  // one method, one layout: the stride does not matter
  detail::check_filter(f);
  if (weight_oihw == nullptr || multipliers == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 conv2d needs weights and multipliers");
  const int64_t k = (f.in_channels / f.groups) * f.kernel_h * f.kernel_w;
  Q8Storage s = alloc_q8(static_cast<size_t>(f.out_channels * k), static_cast<size_t>(f.out_channels));
  for (int64_t i = 0; i < f.out_channels * k; ++i) s.weights[i] = weight_oihw[i];
  for (int64_t c = 0; c < f.out_channels; ++c) {
    s.buffers.bias[c] = bias ? bias[c] : 0;
    s.buffers.multipliers[c] = multipliers[c];
  }
  PackedConv2dQ8 packed;
  packed.family = Family::kRef;
  packed.filter = f;
  packed.storage = s.buffers.storage;
  packed.storage_bytes = s.buffers.bytes;
  packed.weights = s.weights;
  packed.bias = s.buffers.bias;
  packed.multipliers = s.buffers.multipliers;
  packed.k_padded = k;
  return packed;
}

size_t conv2d_qu8_qc8w_scratch_bytes(const PackedConv2dQ8&, const Conv2dParams&) { return 0; }

int64_t conv2d_qu8_qc8w_row_alignment(const PackedConv2dQ8&, const Conv2dParams&) { return 1; }

void conv2d_qu8_qc8w_nhwc(const PackedConv2dQ8& packed, const Conv2dParams& p, const QuantU8Params& q,
                          const uint8_t* input, uint8_t* output, int64_t row_begin, int64_t row_end, void*) {
  detail::check_conv2d_q8(packed, p, Family::kRef, row_begin, row_end);
  detail::check_quant(q);
  const Conv2dFilter& f = packed.filter;
  const int64_t cin_g = f.in_channels / f.groups, cout_g = f.out_channels / f.groups;
  for (int64_t row = row_begin; row < row_end; ++row) {
    const int64_t n = row / p.out_h, oh = row % p.out_h;
    for (int64_t ow = 0; ow < p.out_w; ++ow) {
      uint8_t* out = output + (row * p.out_w + ow) * f.out_channels;
      for (int64_t co = 0; co < f.out_channels; ++co) {
        const int64_t g = co / cout_g;
        int32_t acc = packed.bias[co];
        for (int64_t kh = 0; kh < f.kernel_h; ++kh) {
          const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
          if (ih < 0 || ih >= p.in_h) continue;  // padding: (zero_point - zero_point) * w = 0
          for (int64_t kw = 0; kw < f.kernel_w; ++kw) {
            const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
            if (iw < 0 || iw >= p.in_w) continue;
            const uint8_t* in = input + ((n * p.in_h + ih) * p.in_w + iw) * f.in_channels + g * cin_g;
            const int16_t* w = packed.weights + ((co * cin_g) * f.kernel_h + kh) * f.kernel_w + kw;
            for (int64_t ci = 0; ci < cin_g; ++ci)
              acc += (static_cast<int32_t>(in[ci]) - q.input_zero_point) * w[ci * f.kernel_h * f.kernel_w];
          }
        }
        out[co] = requantize_u8(acc, packed.multipliers[co], q.output_zero_point, q.output_min, q.output_max);
      }
    }
  }
}

PackedGemmQ8 pack_gemm_qu8_qc8w(const int8_t* b, int64_t k, int64_t n, BLayout layout, const int32_t* bias,
                                const float* multipliers) {
  if (k < 1 || n < 1 || b == nullptr || multipliers == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: int8 gemm pack needs K, N >= 1, B and multipliers");
  Q8Storage s = alloc_q8(static_cast<size_t>(k * n), static_cast<size_t>(n));
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t j = 0; j < n; ++j) s.weights[kk * n + j] = detail::gemm_b_at(b, layout, k, n, kk, j);
  for (int64_t j = 0; j < n; ++j) {
    s.buffers.bias[j] = bias ? bias[j] : 0;
    s.buffers.multipliers[j] = multipliers[j];
  }
  PackedGemmQ8 packed;
  packed.family = Family::kRef;
  packed.k = k;
  packed.n = n;
  packed.k_padded = k;
  packed.storage = s.buffers.storage;
  packed.storage_bytes = s.buffers.bytes;
  packed.weights = s.weights;
  packed.bias = s.buffers.bias;
  packed.multipliers = s.buffers.multipliers;
  return packed;
}

size_t gemm_qu8_qc8w_scratch_bytes(const PackedGemmQ8&) { return 0; }

namespace {
// c[i][j] = store(bias[j] + sum over k of (a[i][k] - a_zero_point) * b[k][j]) over the range.
template <class Store>
void gemm_q8_sums(const PackedGemmQ8& packed, int32_t a_zero_point, const uint8_t* a, int64_t lda, const GemmRange& r,
                  const Store& store) {
  for (int64_t i = r.m_begin; i < r.m_end; ++i) {
    for (int64_t j = r.n_begin; j < r.n_end; ++j) {
      int32_t acc = packed.bias[j];
      for (int64_t kk = 0; kk < packed.k; ++kk)
        acc += (static_cast<int32_t>(a[i * lda + kk]) - a_zero_point) * packed.weights[kk * packed.n + j];
      store(i, j, acc);
    }
  }
}
}  // namespace

void gemm_qu8_qc8w(const PackedGemmQ8& packed, const QuantU8Params& q, const uint8_t* a, int64_t lda, uint8_t* c,
                   int64_t ldc, const GemmRange& r, void*) {
  detail::check_gemm_q8(packed, Family::kRef, lda, ldc, r);
  detail::check_quant(q);
  gemm_q8_sums(packed, q.input_zero_point, a, lda, r, [&](int64_t i, int64_t j, int32_t acc) {
    c[i * ldc + j] = requantize_u8(acc, packed.multipliers[j], q.output_zero_point, q.output_min, q.output_max);
  });
}

void gemm_qu8_qc8w_s32(const PackedGemmQ8& packed, int32_t a_zero_point, const uint8_t* a, int64_t lda, int32_t* c,
                       int64_t ldc, const GemmRange& r, void*) {
  detail::check_gemm_q8(packed, Family::kRef, lda, ldc, r);
  QuantU8Params q;
  q.input_zero_point = a_zero_point;
  detail::check_quant(q);
  gemm_q8_sums(packed, a_zero_point, a, lda, r, [&](int64_t i, int64_t j, int32_t acc) { c[i * ldc + j] = acc; });
}

}  // namespace edgeq::kernels::ref
