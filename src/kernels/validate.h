// Parameter checks (and small helpers) shared by both kernel families: O(1), run before any memory is touched, throwing
// edgeq::Error(kInvalidArgument) that names the offending field.
#pragma once

#include "edgeq/kernels.h"

namespace edgeq::kernels::detail {

void check_filter(const Conv2dFilter& filter);
void check_conv2d(const PackedConv2dF32& packed, const Conv2dParams& params, Family family, int64_t row_begin,
                  int64_t row_end);
void check_gemm(const PackedGemmF32& packed, Family family, int64_t lda, int64_t ldc, const GemmRange& range);
void check_conv2d_q8(const PackedConv2dQ8& packed, const Conv2dParams& params, Family family, int64_t row_begin,
                     int64_t row_end);
void check_gemm_q8(const PackedGemmQ8& packed, Family family, int64_t lda, int64_t ldc, const GemmRange& range);
void check_quant(const QuantU8Params& quant);
void check_pool2d(const Pool2dParams& params, int64_t row_begin, int64_t row_end);
// int32 sums of fewer than 2^23 codes cannot overflow (onnxruntime refuses images of 2^24 pixels).
void check_qlinear_global_avg_pool(int64_t spatial, int64_t channels, int64_t n_begin, int64_t n_end);

inline int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

// A conv that is a plain gemm of its input pixels: 1x1, stride 1, no padding, ungrouped (the hwy
// pointwise paths, fp32 and int8, read the input in place).
inline bool pointwise_conv(const Conv2dFilter& f, const Conv2dParams& p) {
  return f.kernel_h == 1 && f.kernel_w == 1 && f.groups == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 &&
         p.pad_left == 0 && p.pad_bottom == 0 && p.pad_right == 0;
}

// The storage of a packed int8 filter, one 64-byte aligned zeroed allocation: weights (weight_bytes),
// then int32 bias and float multipliers for `channels` (each part starting on a 64-byte boundary).
struct Q8Buffers {
  std::shared_ptr<std::byte> storage;
  size_t bytes;  // all of storage
  std::byte* weights;
  int32_t* bias;
  float* multipliers;
};
Q8Buffers alloc_q8(size_t weight_bytes, size_t channels);

// Element (kk, j) of a gemm B given in either source layout (what every pack_gemm_* reads).
template <typename T>
inline T gemm_b_at(const T* b, BLayout layout, int64_t k, int64_t n, int64_t kk, int64_t j) {
  return layout == BLayout::kKN ? b[kk * n + j] : b[j * k + kk];
}

}  // namespace edgeq::kernels::detail
