// Reference gemm: B kept as row-major [K, N] (alpha applied), double accumulation.
#include "edgeq/kernels.h"
#include "kernels/validate.h"

namespace edgeq::kernels::ref {

size_t packed_gemm_f32_floats(int64_t k, int64_t n) { return static_cast<size_t>(k * n + n); }

PackedGemmF32 pack_gemm_f32_into(float* dst, const float* b, int64_t k, int64_t n, BLayout layout,
                                 const float* bias, float alpha) {
  if (k < 1 || n < 1 || dst == nullptr || b == nullptr)
    throw Error(ErrorCode::kInvalidArgument, "kernels: gemm pack needs K, N >= 1 and non-null B");
  for (int64_t kk = 0; kk < k; ++kk)
    for (int64_t j = 0; j < n; ++j)
      dst[kk * n + j] = alpha * detail::gemm_b_at(b, layout, k, n, kk, j);
  float* packed_bias = dst + k * n;
  for (int64_t j = 0; j < n; ++j) packed_bias[j] = bias ? bias[j] : 0.0f;
  PackedGemmF32 packed;
  packed.family = Family::kRef;
  packed.k = k;
  packed.n = n;
  packed.weights = dst;
  packed.bias = packed_bias;
  return packed;
}

PackedGemmF32 pack_gemm_f32(const float* b, int64_t k, int64_t n, BLayout layout, const float* bias, float alpha) {
  if (k < 1 || n < 1) throw Error(ErrorCode::kInvalidArgument, "kernels: gemm pack needs K, N >= 1");
  const size_t bytes = packed_gemm_f32_floats(k, n) * sizeof(float);
  auto storage = aligned_alloc_shared(bytes);
  PackedGemmF32 packed =
      pack_gemm_f32_into(reinterpret_cast<float*>(storage.get()), b, k, n, layout, bias, alpha);
  packed.storage = std::move(storage);
  packed.storage_bytes = bytes;
  return packed;
}

void gemm_f32(const PackedGemmF32& packed, const float* a, int64_t lda, float* c, int64_t ldc, const GemmRange& r,
              const Activation& activation) {
  detail::check_gemm(packed, Family::kRef, lda, ldc, r);
  for (int64_t i = r.m_begin; i < r.m_end; ++i) {
    for (int64_t j = r.n_begin; j < r.n_end; ++j) {
      double acc = packed.bias[j];
      for (int64_t kk = 0; kk < packed.k; ++kk)
        acc += static_cast<double>(a[i * lda + kk]) * packed.weights[kk * packed.n + j];
      c[i * ldc + j] = apply_activation(activation, static_cast<float>(acc));
    }
  }
}

}  // namespace edgeq::kernels::ref
