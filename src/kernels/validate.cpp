// Shared parameter validation and the window-extent helper.
#include "kernels/validate.h"

#include <cstring>
#include <string>

namespace edgeq::kernels {

namespace {
[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::kInvalidArgument, "kernels: " + what); }

const char* family_name(Family f) { return f == Family::kRef ? "ref" : "hwy"; }

void check_range(const char* kernel, int64_t begin, int64_t end, int64_t total) {
  if (begin < 0 || begin > end || end > total)
    invalid(std::string(kernel) + ": row range [" + std::to_string(begin) + ", " + std::to_string(end) +
            ") outside [0, " + std::to_string(total) + ")");
}
}  // namespace

int64_t window_output_extent(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                             int64_t dilation) {
  if (in < 0 || kernel < 1 || stride < 1 || dilation < 1 || pad_begin < 0 || pad_end < 0)
    invalid("window: in=" + std::to_string(in) + " kernel=" + std::to_string(kernel) + " stride=" +
            std::to_string(stride) + " dilation=" + std::to_string(dilation) + " pads must be positive");
  const int64_t span = (kernel - 1) * dilation + 1;
  const int64_t padded = in + pad_begin + pad_end;
  if (padded < span)
    invalid("window: kernel span " + std::to_string(span) + " exceeds padded input " + std::to_string(padded));
  return (padded - span) / stride + 1;
}

namespace detail {

void check_filter(const Conv2dFilter& f) {
  if (f.out_channels < 1 || f.in_channels < 1 || f.kernel_h < 1 || f.kernel_w < 1 || f.groups < 1)
    invalid("conv2d filter: out_channels, in_channels, kernel_h, kernel_w, groups must be >= 1");
  if (f.in_channels % f.groups != 0 || f.out_channels % f.groups != 0)
    invalid("conv2d filter: in_channels " + std::to_string(f.in_channels) + " and out_channels " +
            std::to_string(f.out_channels) + " must be divisible by groups " + std::to_string(f.groups));
}

namespace {
void check_conv_common(Family packed_family, bool has_weights, const Conv2dFilter& a, const Conv2dParams& p,
                       Family family, int64_t row_begin, int64_t row_end) {
  if (packed_family != family || !has_weights)
    invalid(std::string("conv2d: filter packed by the ") + family_name(packed_family) + " family run by " +
            family_name(family));
  const Conv2dFilter& b = p.filter;
  if (a.out_channels != b.out_channels || a.in_channels != b.in_channels || a.kernel_h != b.kernel_h ||
      a.kernel_w != b.kernel_w || a.groups != b.groups)
    invalid("conv2d: params.filter differs from the packed filter");
  if (p.batch < 0 || p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1)
    invalid("conv2d: batch >= 0, strides and dilations >= 1 required");
  if (p.out_h != window_output_extent(p.in_h, a.kernel_h, p.stride_h, p.pad_top, p.pad_bottom, p.dilation_h) ||
      p.out_w != window_output_extent(p.in_w, a.kernel_w, p.stride_w, p.pad_left, p.pad_right, p.dilation_w))
    invalid("conv2d: out_h/out_w " + std::to_string(p.out_h) + "x" + std::to_string(p.out_w) +
            " do not match input, kernel, stride, pads and dilation");
  check_range("conv2d", row_begin, row_end, p.total_rows());
}

void check_gemm_common(Family packed_family, bool has_weights, int64_t k, int64_t n, Family family, int64_t lda,
                       int64_t ldc, const GemmRange& r) {
  if (packed_family != family || !has_weights)
    invalid(std::string("gemm: B packed by the ") + family_name(packed_family) + " family run by " +
            family_name(family));
  if (lda < k || ldc < n)
    invalid("gemm: lda " + std::to_string(lda) + " < K " + std::to_string(k) + " or ldc " + std::to_string(ldc) +
            " < N " + std::to_string(n));
  if (r.m_begin < 0 || r.m_begin > r.m_end || r.n_begin < 0 || r.n_begin > r.n_end || r.n_end > n)
    invalid("gemm: bad range rows [" + std::to_string(r.m_begin) + ", " + std::to_string(r.m_end) + ") columns [" +
            std::to_string(r.n_begin) + ", " + std::to_string(r.n_end) + ") for N " + std::to_string(n));
}
}  // namespace

void check_conv2d(const PackedConv2dF32& packed, const Conv2dParams& p, Family family, int64_t row_begin,
                  int64_t row_end) {
  check_conv_common(packed.family, packed.weights != nullptr, packed.filter, p, family, row_begin, row_end);
}

void check_conv2d_q8(const PackedConv2dQ8& packed, const Conv2dParams& p, Family family, int64_t row_begin,
                     int64_t row_end) {
  check_conv_common(packed.family, packed.weights != nullptr || packed.winograd_weights != nullptr || packed.quad_weights != nullptr ||
                        packed.depthwise_weights != nullptr,
                    packed.filter, p, family, row_begin, row_end);
}

void check_gemm(const PackedGemmF32& packed, Family family, int64_t lda, int64_t ldc, const GemmRange& r) {
  check_gemm_common(packed.family, packed.weights != nullptr, packed.k, packed.n, family, lda, ldc, r);
}

void check_gemm_q8(const PackedGemmQ8& packed, Family family, int64_t lda, int64_t ldc, const GemmRange& r) {
  check_gemm_common(packed.family, packed.weights != nullptr || packed.weights_s8 != nullptr || packed.quad_weights != nullptr, packed.k, packed.n, family,
                    lda, ldc, r);
}

void check_quant(const QuantU8Params& q) {
  if (q.input_zero_point < 0 || q.input_zero_point > 255 || q.output_zero_point < 0 || q.output_zero_point > 255 ||
      q.output_min < 0 || q.output_min > q.output_max || q.output_max > 255)
    invalid("int8: zero points must be in [0, 255] and 0 <= output_min <= output_max <= 255");
}

void check_pool2d(const Pool2dParams& p, int64_t row_begin, int64_t row_end) {
  if (p.batch < 0 || p.channels < 1 || p.in_h < 1 || p.in_w < 1 || p.out_h < 0 || p.out_w < 0 || p.kernel_h < 1 ||
      p.kernel_w < 1 || p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 ||
      p.pad_top < 0 || p.pad_left < 0 || p.pad_bottom < 0 || p.pad_right < 0)
    invalid("pool2d: dims, kernel, strides and dilations must be >= 1, pads >= 0");
  check_range("pool2d", row_begin, row_end, p.total_rows());
}

Q8Buffers alloc_q8(size_t weight_bytes, size_t channels) {
  const size_t w_bytes = static_cast<size_t>(round_up(static_cast<int64_t>(weight_bytes), 64));
  const size_t b_bytes = static_cast<size_t>(round_up(static_cast<int64_t>(channels * sizeof(int32_t)), 64));
  const size_t m_bytes = static_cast<size_t>(round_up(static_cast<int64_t>(channels * sizeof(float)), 64));
  Q8Buffers b;
  b.bytes = w_bytes + b_bytes + m_bytes;
  b.storage = aligned_alloc_shared(b.bytes);
  std::memset(b.storage.get(), 0, w_bytes + b_bytes + m_bytes);
  b.weights = b.storage.get();
  b.bias = reinterpret_cast<int32_t*>(b.storage.get() + w_bytes);
  b.multipliers = reinterpret_cast<float*>(b.storage.get() + w_bytes + b_bytes);
  return b;
}

void check_qlinear_global_avg_pool(int64_t spatial, int64_t channels, int64_t n_begin, int64_t n_end) {
  if (spatial < 1 || spatial >= (int64_t{1} << 23) || channels < 1 || n_begin < 0 || n_begin > n_end)
    throw Error(ErrorCode::kInvalidArgument, "kernels: qlinear_global_avg_pool needs 1 <= spatial < 2^23, channels >= 1, 0 <= n_begin <= n_end");
}

}  // namespace detail

}  // namespace edgeq::kernels
