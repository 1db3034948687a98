#include "runtime/ops/layout.h"

#include <algorithm>
#include <cstring>

#include "edgeq/kernels.h"

namespace edgeq::runtime::detail {

namespace {
// d[i][0, c) = s[0, c)[i] for i in [0, count): planes hw apart interleaved into pixels. Called with a
// literal channel count for images (3, 4), the inlined copy gets a fixed inner loop the compiler vectorizes.
template <typename T>
inline void interleave_planes(const T* s, int64_t hw, T* d, int64_t count, int64_t c) {
  for (int64_t i = 0; i < count; ++i)
    for (int64_t ch = 0; ch < c; ++ch) d[i * c + ch] = s[ch * hw + i];
}

template <typename T>
void convert_rows(const T* src, T* dst, int64_t c, int64_t hw, bool to_nhwc, int64_t begin, int64_t end) {
  if (to_nhwc) {  // row = b*hw + p: dst[b][p][:] = src[b][:][p]; runs of pixels within one image
    for (int64_t r = begin; r < end;) {
      const int64_t b = r / hw, p = r % hw, count = std::min(end - r, hw - p);
      const T* s = src + b * c * hw + p;
      T* d = dst + r * c;
      if (c == 3 && sizeof(T) == 4) {  // RGB float images: the kernels' SIMD interleave
        kernels::hwy::interleave3_f32(reinterpret_cast<const float*>(s), hw, reinterpret_cast<float*>(d), static_cast<size_t>(count));
      } else if (c == 3 && sizeof(T) == 1) {
        kernels::hwy::interleave3_u8(reinterpret_cast<const uint8_t*>(s), hw, reinterpret_cast<uint8_t*>(d), static_cast<size_t>(count));
      } else if (c == 3) {
        interleave_planes(s, hw, d, count, int64_t{3});
      } else if (c == 4) {
        interleave_planes(s, hw, d, count, int64_t{4});
      } else {
        interleave_planes(s, hw, d, count, c);
      }
      r += count;
    }
  } else {  // row = b*c + ch: dst[b][ch][:] = src[b][:][ch]
    for (int64_t r = begin; r < end; ++r) {
      const int64_t b = r / c, ch = r % c;
      const T* s = src + b * c * hw + ch;
      T* d = dst + r * hw;
      for (int64_t p = 0; p < hw; ++p) d[p] = s[p * c];
    }
  }
}
}  // namespace

void convert_layout_range(const void* src, void* dst, int64_t n, int64_t c, int64_t hw, size_t elem, bool to_nhwc,
                          int64_t row_begin, int64_t row_end) {
  (void)n;
  switch (elem) {
    case 1: convert_rows(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst), c, hw, to_nhwc, row_begin, row_end); break;
    case 2: convert_rows(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst), c, hw, to_nhwc, row_begin, row_end); break;
    case 4: convert_rows(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst), c, hw, to_nhwc, row_begin, row_end); break;
    default: convert_rows(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst), c, hw, to_nhwc, row_begin, row_end); break;
  }
}

}  // namespace edgeq::runtime::detail
