// Padding materialized once per conv call (hwy direct paths): the padded input rows a row range reads,
// copied into scratch with zero borders, so the inner loops need no bounds checks for any pad, stride
// or dilation. Plain C++ (no SIMD), shared by the per-target conv TUs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "edgeq/kernels.h"

namespace edgeq::kernels::hwy {

inline bool has_padding(const Conv2dParams& p) { return p.pad_top || p.pad_left || p.pad_bottom || p.pad_right; }

// Floats per row of the source the direct kernels read: padded when the call has padding.
inline int64_t source_row_floats(const Conv2dParams& p) {
  return (has_padding(p) ? p.in_w + p.pad_left + p.pad_right : p.in_w) * p.filter.in_channels;
}

// Scratch floats for the padded rows: every padded row of one image (a call never spans more rows of
// one image than that); 0 without padding.
inline size_t padded_rows_scratch_floats(const Conv2dParams& p) {
  if (!has_padding(p)) return 0;
  return static_cast<size_t>((p.in_h + p.pad_top + p.pad_bottom) * source_row_floats(p));
}

// Runs body(src, src_row0, n, oh_begin, oh_end) for each image's share of output rows [row_begin,
// row_end): src points at the rows of image n the share reads, src_row0 is the padded row index of
// src's first row (0 without padding, where src is the unpadded image itself).
template <class Body>
void for_each_image_rows(const Conv2dParams& p, const float* input, int64_t row_begin, int64_t row_end,
                         float* scratch, const Body& body) {
  const int64_t cin = p.filter.in_channels;
  const int64_t in_row_floats = p.in_w * cin;
  const int64_t src_row_floats = source_row_floats(p);
  for (int64_t row = row_begin; row < row_end;) {
    const int64_t n = row / p.out_h;
    const int64_t oh_begin = row % p.out_h;
    const int64_t oh_end = std::min(p.out_h, oh_begin + (row_end - row));
    const float* image = input + n * p.in_h * in_row_floats;
    if (!has_padding(p)) {
      body(image, int64_t{0}, n, oh_begin, oh_end);
    } else {
      // Padded rows [first, last] that this share reads.
      const int64_t first = oh_begin * p.stride_h;
      const int64_t last = (oh_end - 1) * p.stride_h + (p.filter.kernel_h - 1) * p.dilation_h;
      for (int64_t hp = first; hp <= last; ++hp) {
        float* dst = scratch + (hp - first) * src_row_floats;
        const int64_t ih = hp - p.pad_top;
        if (ih < 0 || ih >= p.in_h) {
          std::memset(dst, 0, static_cast<size_t>(src_row_floats) * sizeof(float));
          continue;
        }
        const int64_t left = p.pad_left * cin;
        std::memset(dst, 0, static_cast<size_t>(left) * sizeof(float));
        std::memcpy(dst + left, image + ih * in_row_floats, static_cast<size_t>(in_row_floats) * sizeof(float));
        std::memset(dst + left + in_row_floats, 0, static_cast<size_t>(p.pad_right * cin) * sizeof(float));
      }
      body(static_cast<const float*>(scratch), first, n, oh_begin, oh_end);
    }
    row += oh_end - oh_begin;
  }
}

}  // namespace edgeq::kernels::hwy
